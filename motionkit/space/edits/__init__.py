"""Typed, serialisable motion edits and the EditProgram that applies them (see docs/motion-space.md).

Single-axis edits: :class:`Offset`, :class:`Scale`, :class:`Set`, :class:`Oscillate` (``nod``, ``shake``,
``tilt``), :class:`Keyframes` (``turn``). Subspace edits: :class:`Freeze` (``still_head``, ``lip_only``),
:class:`Smooth`, :class:`Mix`, :class:`Retarget`.
"""

from motionkit.space.edits.axis_edits import Key, Keyframes, Offset, Oscillate, Scale, Set
from motionkit.space.edits.base import EditContext, EditState
from motionkit.space.edits.program import Edit, EditProgram
from motionkit.space.edits.subspace_edits import Freeze, Mix, Retarget, Smooth

__all__ = [
    "Edit",
    "EditContext",
    "EditProgram",
    "EditState",
    "Freeze",
    "Key",
    "Keyframes",
    "Mix",
    "Offset",
    "Oscillate",
    "Retarget",
    "Scale",
    "Set",
    "Smooth",
]
