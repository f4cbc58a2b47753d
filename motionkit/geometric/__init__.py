"""The geometric portrait renderer: a real photo, at its own resolution, moved by named axes in real units.

See ``docs/geometric.md``. Public names: :class:`GeometricRenderer`, :class:`GeometricPortrait`,
:class:`PortraitGeometry`, :class:`GeometricConfig`, :func:`geometric_space` and the axis list :data:`AXES`.
"""

from motionkit.geometric.axes import AXES, AXIS_NAMES, geometric_space
from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.geometry import PortraitGeometry
from motionkit.geometric.renderer import GeometricPortrait, GeometricRenderer

__all__ = [
    "AXES",
    "AXIS_NAMES",
    "GeometricConfig",
    "GeometricPortrait",
    "GeometricRenderer",
    "PortraitGeometry",
    "geometric_space",
]
