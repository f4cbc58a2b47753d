"""Landmark indices of the MediaPipe FaceMesh topology that the geometric renderer moves.

Indices follow the 468-point FaceMesh layout (the 478-point refined layout appends ten iris points, which the
renderer ignores). "Image-left" and "image-right" name the sides as seen in the photo, the convention of
:mod:`motionkit.eval.face.landmarks` (the image-left eye is the subject's right eye).
"""

from __future__ import annotations

from typing import Final

MESH_POINTS: Final = 468
"""Landmarks the renderer reads: the FaceMesh face points, without the refined iris points."""

FACE_OVAL: Final = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
"""The face outline as a closed loop, clockwise in the image from the top of the forehead."""

LIPS_INNER_UPPER: Final = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
"""The upper inner-lip contour from the image-left mouth corner to the image-right one."""

LIPS_INNER_LOWER: Final = (95, 88, 178, 87, 14, 317, 402, 318, 324)
"""The lower inner-lip contour between the corners, image-left to image-right."""

MOUTH_CORNERS: Final = (61, 291)
"""Outer mouth corners (image-left, image-right): the mouth width of the ``mouth`` axis."""

UPPER_LIP_CENTRE, LOWER_LIP_CENTRE = 13, 14
"""Middle points of the inner lips: their gap over the mouth width is the ``mouth`` opening."""

EYE_LEFT_UPPER: Final = (246, 161, 160, 159, 158, 157, 173)
EYE_LEFT_LOWER: Final = (7, 163, 144, 145, 153, 154, 155)
EYE_RIGHT_UPPER: Final = (466, 388, 387, 386, 385, 384, 398)
EYE_RIGHT_LOWER: Final = (249, 390, 373, 374, 380, 381, 382)
"""Lid contours of the image-left and image-right eyes, outer to inner corner; upper ``i`` faces lower ``i``."""

EYE_LEFT_CORNERS: Final = (33, 133)
EYE_RIGHT_CORNERS: Final = (263, 362)
"""Outer and inner eye corners (image-left eye, image-right eye)."""

EYE_CORNERS: Final = (*EYE_LEFT_CORNERS, *EYE_RIGHT_CORNERS)

NOSE_TIP = 4
"""The tip of the nose: its depth in front of the eye corners is the face's parallax under a turn."""

NOSE_BASE = 2
"""The base of the nose above the upper lip's middle (subnasale)."""

BROW_LEFT: Final = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
BROW_RIGHT: Final = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
"""Eyebrow points (upper and lower edges) of the image-left and image-right brows."""

CHEEKS: Final = (234, 454)
"""Face-outline points beside the ears (image-left, image-right): the face width and the head pivot's side."""

FOREHEAD, CHIN = 10, 152
"""Top of the forehead and bottom of the chin on the face outline: the face's vertical axis."""

LIPS_OUTER_UPPER: Final = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LIPS_OUTER_LOWER: Final = (146, 91, 181, 84, 17, 314, 405, 321, 375)
"""Outer lip contours between the corners, image-left to image-right: point ``i`` faces inner point ``i + 1`` of
``LIPS_INNER_UPPER`` / point ``i`` of ``LIPS_INNER_LOWER`` across the lip."""
