"""Renderer: FLOAT's motion auto-encoder (encoder, motion basis, flow-warping decoder) and face preparation."""

from motionkit.renderer.face import Box, crop_portrait, detect_face
from motionkit.renderer.renderer import Renderer
from motionkit.types import Precision

__all__ = ["Box", "Precision", "Renderer", "crop_portrait", "detect_face"]
