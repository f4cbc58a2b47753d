"""The face's own coordinate frame: where "across", "down" and "into the picture" point for this face."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionkit.errors import ImageError, require
from motionkit.geometric.topology import CHEEKS, CHIN, EYE_LEFT_CORNERS, EYE_RIGHT_CORNERS, FOREHEAD

MIN_FACE_WIDTH = 16.0
"""Smallest cheek-to-cheek distance in pixels the renderer accepts: below it the lips and lids are a pixel wide."""


@dataclass(frozen=True)
class FaceFrame:
    """An orthonormal frame on the face: ``axes`` rows are ``e_x`` (image-left eye to image-right eye), ``e_y``
    (forehead to chin, made orthogonal to ``e_x``) and ``e_z = e_x x e_y`` (into the picture); ``width`` is the
    cheek-to-cheek distance (landmarks 234, 454) in pixels."""

    origin: np.ndarray
    axes: np.ndarray
    width: float

    def coords(self, points: np.ndarray) -> np.ndarray:
        """``(N, 3)`` pixel points -> ``(N, 3)`` face coordinates ``(u, v, w)`` along ``e_x, e_y, e_z``."""
        return (points - self.origin) @ self.axes.T


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    """The frame of ``(468, 3)`` landmarks, centred between the cheek points."""
    across = landmarks[EYE_RIGHT_CORNERS[0]] - landmarks[EYE_LEFT_CORNERS[0]]
    down = landmarks[CHIN] - landmarks[FOREHEAD]
    width = float(np.linalg.norm(landmarks[CHEEKS[1], :2] - landmarks[CHEEKS[0], :2]))
    require(
        width >= MIN_FACE_WIDTH,
        ImageError,
        f"the face is {width:.0f} px wide; the geometric renderer needs at least {MIN_FACE_WIDTH:.0f} px. Use a "
        "larger photo or one where the face fills more of the frame.",
    )
    e_x = across / np.linalg.norm(across)
    down = down - (down @ e_x) * e_x
    e_y = down / np.linalg.norm(down)
    e_z = np.cross(e_x, e_y)
    origin = 0.5 * (landmarks[CHEEKS[0]] + landmarks[CHEEKS[1]])
    return FaceFrame(origin=origin, axes=np.stack([e_x, e_y, e_z]), width=width)
