"""Person segmentation (MediaPipe's selfie segmenter, general model).

The whole image is resized (antialiased, aspect not kept, as MediaPipe does) to 256 x 256 RGB in ``[0, 1]``; the
network returns a per-pixel person probability (it ends in a sigmoid), resized back to the image bilinearly.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from motionkit.face.sampling import image_tensor
from motionkit.face.weights import load_net

INPUT_SIZE = 256
"""Side of the segmenter's square input, pixels."""


class PersonSegmenter(nn.Module):
    """``forward`` on (B, 3, 256, 256) inputs; :meth:`mask` on an image."""

    def __init__(self) -> None:
        super().__init__()
        self.net = load_net("selfie_segmentation")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, 3, 256, 256) RGB in ``[0, 1]`` -> person probability (B, 256, 256)."""
        return self.net(x)[0][..., 0]

    @torch.no_grad()
    def mask(self, image: np.ndarray) -> np.ndarray:
        """Person probability (H, W) float32 in ``[0, 1]`` for ``image`` (H, W, 3) uint8."""
        device = next(self.net.buffers()).device
        height, width = image.shape[:2]
        x = F.interpolate(
            image_tensor(image, device),
            size=(INPUT_SIZE, INPUT_SIZE),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        probability = self(x)[:, None]
        full = F.interpolate(probability, size=(height, width), mode="bilinear", align_corners=False)
        return full[0, 0].clamp(0.0, 1.0).cpu().numpy()
