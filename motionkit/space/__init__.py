"""MotionSpace: the orthonormal motion basis, named axes and typed, scriptable motion edits."""

from motionkit.space.axes import Axis
from motionkit.space.basis import orthonormal_basis
from motionkit.space.calibration import AxisCalibration, AxisFit
from motionkit.space.edits import EditProgram
from motionkit.space.space import MotionSpace

__all__ = ["Axis", "AxisCalibration", "AxisFit", "EditProgram", "MotionSpace", "orthonormal_basis"]
