"""The 468-point 3-D face mesh (MediaPipe's face landmark network).

Input: the face region (:class:`~motionkit.face.roi.FaceRegion`) resampled to 192 x 192 RGB in ``[0, 1]``.
Output per face: 468 points ``(x, y, z)`` in input pixels (``z``: depth on the same scale, smaller is nearer the
camera, roughly zero at the face's centre) and a presence logit (``sigmoid`` > 0.5: the crop holds a face).
:meth:`FaceLandmarker.locate` maps the points to image pixels (depth scaled like x and y).

MediaPipe's second variant, ``face_landmark_with_attention`` (refined lips, eyes and 10 iris points), needs two
custom TFLite operators that no stock interpreter runs, so it cannot be checked against a reference here; it is not
converted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from motionkit.face.roi import FaceRegion
from motionkit.face.sampling import sample_region
from motionkit.face.weights import load_net

INPUT_SIZE = 192
"""Side of the landmark network's square input, pixels."""

NUM_LANDMARKS = 468
"""Points of the face mesh."""

MIN_PRESENCE = 0.5
"""Presence below this means the region holds no face (MediaPipe's tracking threshold)."""


@dataclass(frozen=True)
class FaceLandmarks:
    """A face's mesh in image pixels.

    Attributes:
        points: (468, 3) ``x, y`` pixels and depth ``z`` in pixels (smaller is nearer).
        presence: probability that the region held a face.
        region: the region the mesh was read from.
    """

    points: np.ndarray
    presence: float
    region: FaceRegion


class FaceLandmarker(nn.Module):
    """The face-mesh network: ``forward`` on crops, :meth:`locate` on an image region."""

    def __init__(self) -> None:
        super().__init__()
        self.net = load_net("face_landmark")

    @property
    def device(self) -> torch.device:
        """Where the weights live."""
        return next(self.net.buffers()).device

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``crops`` (B, 3, 192, 192) RGB in ``[0, 1]`` -> points (B, 468, 3) in input pixels, presence (B,)."""
        points, flag = self.net(crops)
        return points.reshape(-1, NUM_LANDMARKS, 3), torch.sigmoid(flag.reshape(-1))

    def locate(self, image: np.ndarray, regions: Sequence[FaceRegion]) -> list[FaceLandmarks]:
        """The mesh of each region of ``image`` (H, W, 3) uint8, in image pixels (one batched network call)."""
        return self.locate_batch([(image, region) for region in regions])

    @torch.no_grad()
    def locate_batch(self, pairs: Sequence[tuple[np.ndarray, FaceRegion]]) -> list[FaceLandmarks]:
        """The mesh of each ``(image, region)`` pair, regions of any number of images (video frames, several
        streams), with one network call: the crops are resampled on the network's device into one
        ``(len(pairs), 3, 192, 192)`` batch."""
        if not pairs:
            return []
        crops = torch.cat([sample_region(image, region, INPUT_SIZE, self.device) for image, region in pairs])
        points, presence = self(crops)
        unit = (points / INPUT_SIZE).double().cpu().numpy()
        scores = presence.double().cpu().numpy()
        return [
            FaceLandmarks(region.to_image(unit[i]), float(scores[i]), region) for i, (_, region) in enumerate(pairs)
        ]
