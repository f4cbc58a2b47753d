"""The 3-D face mesh (MediaPipe's face landmark networks): 468 points, or 478 with refined lips, eyes and irises.

Input: the face region (:class:`~motionkit.face.roi.FaceRegion`) resampled to 192 x 192 RGB in ``[0, 1]``.
Output per face: 468 points ``(x, y, z)`` in input pixels (``z``: depth on the same scale, smaller is nearer the
camera, roughly zero at the face's centre) and a presence logit (``sigmoid`` > 0.5: the crop holds a face).
:meth:`FaceLandmarker.locate` maps the points to image pixels (depth scaled like x and y).

``FaceLandmarker(refined=True)`` runs MediaPipe's attention mesh (``face_landmark_with_attention``), what
MediaPipe's FaceMesh runs with ``refine_landmarks=True``: besides the 468 points it re-reads the lips (80 points) and
each eye with its brow (71 points) from crops of its own feature map, and finds each iris (5 points). As MediaPipe's
LandmarksRefinementCalculator does, the refined ``x, y`` replace those of the same mesh points (the regions' point
lists are the ones the network crops around, read from its operators), their depth stays the mesh's, and the irises
become points 468-472 (the subject's right eye, on the image's left) and 473-477, at the mean depth of their eye's
contour. Refined eyelids close: a shut eye reads an eye aspect ratio near 0.1, where the 468-point mesh reads it as a
narrowed one.
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

NUM_REFINED_LANDMARKS = 478
"""Points of the refined mesh: the 468 and five per iris."""

IRIS_POINTS = 5
"""Points of an iris: centre, then its right, top, left and bottom edges."""

EYE_CONTOUR_POINTS = 16
"""The first points of an eye region: the lid contour (lower 9 corner to corner, upper 7), whose mean depth is the
iris's."""

MODELS = {False: "face_landmark", True: "face_landmark_with_attention"}
"""``refined`` -> the converted network."""

MIN_PRESENCE = 0.5
"""Presence below this means the region holds no face (MediaPipe's tracking threshold)."""


@dataclass(frozen=True)
class FaceLandmarks:
    """A face's mesh in image pixels.

    Attributes:
        points: (468, 3) or refined (478, 3) ``x, y`` pixels and depth ``z`` in pixels (smaller is nearer).
        presence: probability that the region held a face.
        region: the region the mesh was read from.
    """

    points: np.ndarray
    presence: float
    region: FaceRegion


def refine(outputs: Sequence[torch.Tensor], regions: Sequence[Sequence[int]]) -> torch.Tensor:
    """The (B, 478, 3) refined mesh from the attention network's outputs.

    Args:
        outputs: mesh (B, ..., 1404), lips (B, ..., 160), the subject's right eye (B, ..., 142), left eye, right iris
            (B, ..., 10), left iris (the network's order; its "left" is the image's left).
        regions: the mesh points the lips, right-eye and left-eye outputs refine, in their output order.
    """
    batch = outputs[0].shape[0]
    points = outputs[0].reshape(batch, NUM_LANDMARKS, 3)
    refined = torch.cat([points, points.new_zeros(batch, 2 * IRIS_POINTS, 3)], dim=1)
    for output, indices in zip(outputs[1:4], regions):
        refined[:, list(indices), :2] = output.reshape(batch, len(indices), 2)
    for k, (output, eye) in enumerate(zip(outputs[4:6], regions[1:3])):
        irises = slice(NUM_LANDMARKS + k * IRIS_POINTS, NUM_LANDMARKS + (k + 1) * IRIS_POINTS)
        refined[:, irises, :2] = output.reshape(batch, IRIS_POINTS, 2)
        refined[:, irises, 2] = points[:, list(eye[:EYE_CONTOUR_POINTS]), 2].mean(dim=1, keepdim=True)
    return refined


class FaceLandmarker(nn.Module):
    """The face-mesh network: ``forward`` on crops, :meth:`locate` on an image region.

    Args:
        refined: run the attention mesh (478 points with refined lips, eyes and irises) instead of the 468-point one.
    """

    def __init__(self, refined: bool = False) -> None:
        super().__init__()
        self.refined = refined
        self.net = load_net(MODELS[refined])
        self.regions = [op.indices for op in self.net.ops if op.kind == "landmarks_to_transform"]

    @property
    def device(self) -> torch.device:
        """Where the weights live."""
        return next(self.net.buffers()).device

    @property
    def num_points(self) -> int:
        """468, or 478 when refined."""
        return NUM_REFINED_LANDMARKS if self.refined else NUM_LANDMARKS

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``crops`` (B, 3, 192, 192) RGB in ``[0, 1]`` -> points (B, 468 or 478, 3) in input pixels, presence (B,)."""
        outputs = self.net(crops)
        if self.refined:
            return refine(outputs[:6], self.regions), torch.sigmoid(outputs[6].reshape(-1))
        points, flag = outputs
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
