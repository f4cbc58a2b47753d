"""Named measurements of a face mesh: mouth opening, eye aspect ratios and the eye landmarks for gaze.

Indices are MediaPipe's face-mesh topology (the subject's right eye is on the image's left). Ratios are of distances
in the image plane, so they do not depend on the face's size; eye aspect ratio (Soukupova and Cech, 2016) is
``(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|)`` over six eye-contour points (corners p1, p4; lids p2, p3 above, p6, p5
below), about 0.25-0.35 open and below 0.1 closed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIGHT_EYE_EAR = (33, 160, 158, 133, 153, 144)
"""The subject's right eye: outer corner, upper lid (2), inner corner, lower lid (2), as p1..p6."""

LEFT_EYE_EAR = (263, 387, 385, 362, 380, 373)
"""The subject's left eye, p1..p6 mirrored from :data:`RIGHT_EYE_EAR`."""

RIGHT_EYE_CONTOUR = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
"""The subject's right eye opening, a closed loop (for gaze estimation from the eye region)."""

LEFT_EYE_CONTOUR = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
"""The subject's left eye opening, a closed loop."""

LIPS_INNER = (13, 14)
"""Inner upper and lower lip on the midline."""

MOUTH_CORNERS = (61, 291)
"""The mouth corners (the subject's right, then left)."""


@dataclass(frozen=True)
class FaceMeasures:
    """Size-free measurements of one face.

    Attributes:
        mouth_open: inner-lip gap over mouth width (0 closed, ~0.5 wide open).
        right_eye, left_eye: eye aspect ratios (the subject's right and left eye).
    """

    mouth_open: float
    right_eye: float
    left_eye: float


def _distance(points: np.ndarray, a: int, b: int) -> float:
    return float(np.linalg.norm(points[a, :2] - points[b, :2]))


def eye_aspect_ratio(points: np.ndarray, eye: tuple[int, ...]) -> float:
    """The eye aspect ratio of ``eye`` (six indices p1..p6) in (468, 2+) ``points``."""
    p1, p2, p3, p4, p5, p6 = eye
    return (_distance(points, p2, p6) + _distance(points, p3, p5)) / (2 * max(_distance(points, p1, p4), 1e-9))


def measure(points: np.ndarray) -> FaceMeasures:
    """The measurements of a (468, 2+) face mesh."""
    width = max(_distance(points, *MOUTH_CORNERS), 1e-9)
    return FaceMeasures(
        mouth_open=_distance(points, *LIPS_INNER) / width,
        right_eye=eye_aspect_ratio(points, RIGHT_EYE_EAR),
        left_eye=eye_aspect_ratio(points, LEFT_EYE_EAR),
    )
