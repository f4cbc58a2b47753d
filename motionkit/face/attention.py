"""The three MediaPipe operators of the attention face mesh (``face_landmark_with_attention.tflite``), in PyTorch.

The attention mesh predicts the 468 points, then crops its own feature map around the mouth and each eye and
refines those regions from the crops. The crops are made by three custom TFLite operators (MediaPipe's
``Landmarks2TransformMatrix``, ``TransformTensorBilinear`` and ``TransformLandmarks``, version 2); here each is a
batched function with the same arithmetic. A transform is a ``(B, 4, 4)`` matrix ``T`` in homogeneous pixel
coordinates (only its first two rows matter): a point ``(u, v)`` of the crop grid lies at
``(T00 u + T01 v + T03, T10 u + T11 v + T13)`` in the feature map (``T02``, ``T12`` multiply a zero ``z``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def _rotate(x: torch.Tensor, y: torch.Tensor, angle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` turned by ``angle`` (radians, broadcast): ``(x cos a - y sin a, x sin a + y cos a)``."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    return x * cos - y * sin, x * sin + y * cos


def landmarks_to_transform(
    points: torch.Tensor,
    indices: Sequence[int],
    pair: tuple[int, int],
    size: tuple[int, int],
    scale: tuple[float, float],
) -> torch.Tensor:
    """The transform of a crop framing ``points[:, indices]``, upright along the line ``pair[0] -> pair[1]``.

    Args:
        points: (B, N, 2+) landmarks in feature-map pixels.
        indices: the landmarks the crop frames.
        pair: the landmarks whose line is the crop's horizontal (mouth corners, eye corners).
        size: the crop grid ``(height, width)``.
        scale: the crop's size over the landmarks' extent, ``(x, y)``.

    Returns:
        (B, 4, 4): with ``r = -atan2(dy, dx)`` the line's angle undone, the landmarks turned by ``r`` have the box
        of width ``w``, height ``h`` and centre ``m``; ``T = shift(R(-r) m) R(-r) diag(sx w / W, sy h / H)
        shift(-W / 2, -H / 2)``, so the crop's centre is the box's centre and the crop spans ``scale`` times the
        box, turned back to the image's orientation.
    """
    left, right = points[:, pair[0], :2], points[:, pair[1], :2]
    angle = -torch.atan2(right[:, 1] - left[:, 1], right[:, 0] - left[:, 0])[:, None]
    x, y = _rotate(points[:, list(indices), 0], points[:, list(indices), 1], angle)
    low_x, high_x = x.min(dim=1).values, x.max(dim=1).values
    low_y, high_y = y.min(dim=1).values, y.max(dim=1).values
    centre_x, centre_y = _rotate((low_x + high_x) / 2, (low_y + high_y) / 2, -angle[:, 0])
    height, width = size
    scale_x = scale[0] * (high_x - low_x) / width
    scale_y = scale[1] * (high_y - low_y) / height
    cos, sin = torch.cos(-angle[:, 0]), torch.sin(-angle[:, 0])
    transform = torch.zeros(points.shape[0], 4, 4, dtype=points.dtype, device=points.device)
    transform[:, 0, 0], transform[:, 0, 1] = cos * scale_x, -sin * scale_y
    transform[:, 1, 0], transform[:, 1, 1] = sin * scale_x, cos * scale_y
    transform[:, 0, 3] = centre_x - (transform[:, 0, 0] * width + transform[:, 0, 1] * height) / 2
    transform[:, 1, 3] = centre_y - (transform[:, 1, 0] * width + transform[:, 1, 1] * height) / 2
    transform[:, 2, 2] = transform[:, 3, 3] = 1.0
    return transform


def transform_tensor_bilinear(features: torch.Tensor, transform: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The ``size`` crop of ``features`` (B, C, H, W) through ``transform`` (B, 4, 4): (B, C, h, w).

    Crop pixel ``(u, v)`` samples the feature map bilinearly at ``T (u + 0.5, v + 0.5) - 0.5`` (pixel centres on
    both sides); a sample outside ``[0, W - 1] x [0, H - 1]`` is zero.
    """
    height, width = size
    in_height, in_width = features.shape[2:]
    v, u = torch.meshgrid(
        torch.arange(height, dtype=features.dtype, device=features.device) + 0.5,
        torch.arange(width, dtype=features.dtype, device=features.device) + 0.5,
        indexing="ij",
    )
    t = transform[:, :2, :].to(features.dtype)
    x = t[:, 0, 0, None, None] * u + t[:, 0, 1, None, None] * v + t[:, 0, 3, None, None] - 0.5
    y = t[:, 1, 0, None, None] * u + t[:, 1, 1, None, None] * v + t[:, 1, 3, None, None] - 0.5
    inside = (x >= 0) & (x <= in_width - 1) & (y >= 0) & (y <= in_height - 1)
    grid = torch.stack([2 * x / (in_width - 1) - 1, 2 * y / (in_height - 1) - 1], dim=-1)
    crop = F.grid_sample(features, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return crop * inside[:, None].to(crop.dtype)


def transform_landmarks(points: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
    """``points`` (B, N, 2+) of a crop's grid mapped through ``transform`` (B, 4, 4); other coordinates kept."""
    t = transform[:, :2, :].to(points.dtype)
    x, y = points[..., 0], points[..., 1]
    mapped = torch.stack(
        [
            t[:, 0, 0, None] * x + t[:, 0, 1, None] * y + t[:, 0, 3, None],
            t[:, 1, 0, None] * x + t[:, 1, 1, None] * y + t[:, 1, 3, None],
        ],
        dim=-1,
    )
    return torch.cat([mapped, points[..., 2:]], dim=-1)
