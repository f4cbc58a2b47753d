"""Reading a rotated square region of an image into a fixed-size network input, memory bounded.

Only the region's axis-aligned bounding box (clipped to the image) is converted to float; when the region is more
than :data:`MAX_OVERSAMPLE` times the output size it is first downscaled with antialiasing, so a face in a 100-Mpx
photo costs about as much as one in a webcam frame. Output pixel ``(i, j)`` samples the region point
``((j + 0.5) / S, (i + 0.5) / S)`` bilinearly; outside the image the border pixel is repeated (MediaPipe's
``BORDER_REPLICATE`` for the landmark crop).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from motionkit.face.roi import FaceRegion

MAX_OVERSAMPLE = 2.0
"""A region wider than this many output pixels per output pixel is downscaled (antialiased) before sampling."""


def image_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(1, 3, H, W)`` float32 in ``[0, 1]`` on ``device``."""
    x = torch.from_numpy(np.require(image, requirements=["C", "W"])).to(device)  # copies only a read-only view
    return x.permute(2, 0, 1).unsqueeze(0).float() / 255.0


def sample_region(image: np.ndarray, region: FaceRegion, size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The ``size x size`` RGB crop of ``region`` from ``image`` (H, W, 3) uint8, as (1, 3, size, size) in [0, 1]."""
    height, width = image.shape[:2]
    corners = region.corners()
    x0 = int(np.clip(math.floor(corners[:, 0].min()) - 1, 0, width - 1))
    y0 = int(np.clip(math.floor(corners[:, 1].min()) - 1, 0, height - 1))
    x1 = int(np.clip(math.ceil(corners[:, 0].max()) + 1, x0 + 1, width))
    y1 = int(np.clip(math.ceil(corners[:, 1].max()) + 1, y0 + 1, height))
    patch = image_tensor(image[y0:y1, x0:x1], device)
    factor = region.side / (MAX_OVERSAMPLE * size)
    if factor > 1.0:
        new = (max(1, round((y1 - y0) / factor)), max(1, round((x1 - x0) / factor)))
        patch = F.interpolate(patch, size=new, mode="bilinear", align_corners=False, antialias=True)
    # Output pixel centres in region units -> image pixels -> the patch's normalised [-1, 1] coordinates.
    steps = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    v, u = torch.meshgrid(steps, steps, indexing="ij")
    matrix = torch.from_numpy(region.matrix())
    points = torch.stack([u, v, torch.ones_like(u)], dim=-1) @ matrix.T
    px = (points[..., 0] - x0) / (x1 - x0) * 2 - 1
    py = (points[..., 1] - y0) / (y1 - y0) * 2 - 1
    grid = torch.stack([px, py], dim=-1).unsqueeze(0).to(device, torch.float32)
    return F.grid_sample(patch, grid, mode="bilinear", padding_mode="border", align_corners=False)
