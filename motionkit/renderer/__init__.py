"""Renderer: FLOAT's motion auto-encoder (encoder, motion basis, flow-warping decoder); faces are prepared by
:mod:`motionkit.face`."""

from motionkit.renderer.renderer import Renderer
from motionkit.types import Precision

__all__ = ["Precision", "Renderer"]
