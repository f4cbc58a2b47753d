"""The geometric renderer's motion: a vector of named axes in real units, and its motion space.

=============  ======  ==========================================================================================
axis           unit    meaning (0 is the portrait as photographed)
=============  ======  ==========================================================================================
``yaw``        deg     head turn; > 0 turns the nose to the image right
``pitch``      deg     head nod; > 0 lifts the chin
``roll``       deg     head tilt in the image plane; > 0 turns the head clockwise (its top to the image right)
``mouth``      ratio   inner-lip gap added, in the photo's mouth widths (``|p13 - p14| / |p61 - p291|`` of FaceMesh)
``blink_left`` ratio   image-left eye: 0 as photographed, 1 closed
``blink_right`` ratio  image-right eye: 0 as photographed, 1 closed
``brows``      face    brow raise in face widths (> 0 up)
=============  ======  ==========================================================================================

The space's basis is the identity: a motion latent *is* the parameter vector, so every
:class:`~motionkit.space.EditProgram` edit (nod, turn, still head, lip-only, keyframes) acts exactly on the named
quantity it names.
"""

from __future__ import annotations

from typing import Final

import torch

from motionkit.space import Axis, MotionSpace

AXES: Final = (
    ("yaw", "deg"),
    ("pitch", "deg"),
    ("roll", "deg"),
    ("mouth", "ratio"),
    ("blink_left", "ratio"),
    ("blink_right", "ratio"),
    ("brows", "face"),
)
"""(name, unit) of each parameter, in the order of the parameter vector."""

AXIS_NAMES: Final = tuple(name for name, _ in AXES)
YAW, PITCH, ROLL, MOUTH, BLINK_LEFT, BLINK_RIGHT, BROWS = range(len(AXES))
PARAMETERS: Final = len(AXES)


def geometric_space(dtype: torch.dtype = torch.float32) -> MotionSpace:
    """The identity motion space with the named axes of :data:`AXES` (scale 1, offset 0: a reading is the value)."""
    eye = torch.eye(PARAMETERS, dtype=dtype)
    axes = [
        Axis(name=name, direction=tuple(float(v) for v in eye[i]), unit=unit) for i, (name, unit) in enumerate(AXES)
    ]
    return MotionSpace(eye, axes)
