"""MotionSpace: the orthonormal motion basis, named axes and typed, scriptable motion edits."""

from motionkit.space.basis import orthonormal_basis
from motionkit.space.space import MotionSpace

__all__ = ["MotionSpace", "orthonormal_basis"]
