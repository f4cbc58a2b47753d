"""The rotated square region a face's landmarks are read from, as MediaPipe's face mesh defines it.

From a detection: centre = the box centre, side = ``scale`` x the box's longer side, angle = the tilt of the line
from the right-eye to the left-eye keypoint. From landmarks (the next video frame's region): the same with the
landmarks' bounding box and the eye corners 33 -> 263. With ``(x0, y0)`` -> ``(x1, y1)`` the eye line in pixels
(``y`` down), ``angle = -atan2(-(y1 - y0), x1 - x0)``: positive when the line descends to the right, i.e. the face is
rolled clockwise in the image. A region point ``(u, v)`` in ``[0, 1]^2`` is the image point
``centre + R(angle) ((u, v) - 0.5) side`` with ``R`` the rotation by ``angle`` in image axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from motionkit.face.detector import FaceDetection

ROI_SCALE = 1.5
"""The region's side over the face box's longer side (MediaPipe's RectTransformation for the face mesh)."""

EYE_CORNERS = (33, 263)
"""Mesh landmarks whose line sets a landmark-derived region's angle (the subject's right, then left, eye corner)."""


@dataclass(frozen=True)
class FaceRegion:
    """A rotated square in image pixels: ``centre`` (x, y), ``side``, ``angle`` in radians (clockwise, y down)."""

    centre: tuple[float, float]
    side: float
    angle: float

    @classmethod
    def around(
        cls, box: tuple[float, float, float, float], eye_line: np.ndarray, scale: float = ROI_SCALE
    ) -> FaceRegion:
        """The region of ``box`` (x0, y0, x1, y1) rotated by the ``eye_line`` (2, 2) [start, end] pixels."""
        (ex0, ey0), (ex1, ey1) = eye_line
        angle = _wrap(-math.atan2(-(ey1 - ey0), ex1 - ex0))
        side = scale * max(box[2] - box[0], box[3] - box[1])
        return cls(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), side, angle)

    @classmethod
    def from_detection(cls, face: FaceDetection) -> FaceRegion:
        """The landmark region of a detection: its box, turned by its eye keypoints."""
        return cls.around(face.box, face.keypoints[:2])

    @classmethod
    def from_landmarks(cls, points: np.ndarray) -> FaceRegion:
        """The landmark region for the next frame from this frame's (468, 2+) pixel landmarks."""
        lo, hi = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
        return cls.around(box, points[list(EYE_CORNERS), :2])

    def matrix(self) -> np.ndarray:
        """The (2, 3) affine map from region coordinates ``(u, v)`` in ``[0, 1]`` to image pixels."""
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        linear = self.side * np.array([[cos, -sin], [sin, cos]])
        offset = np.array(self.centre) - linear @ np.array([0.5, 0.5])
        return np.concatenate([linear, offset[:, None]], axis=1)

    def corners(self) -> np.ndarray:
        """The (4, 2) pixel corners: region (0, 0), (1, 0), (1, 1), (0, 1)."""
        unit = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], dtype=np.float64)
        return unit @ self.matrix().T

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Region points (N, 3) ``(u, v, w)`` in region units -> image (N, 3): pixels, depth ``w * side``."""
        out = np.empty_like(points, dtype=np.float64)
        out[:, :2] = np.c_[points[:, :2], np.ones(len(points))] @ self.matrix().T
        out[:, 2] = points[:, 2] * self.side
        return out


def _wrap(angle: float) -> float:
    """``angle`` in ``[-pi, pi)``."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
