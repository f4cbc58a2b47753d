"""Faces below the components: the face box, FLOAT's crop rule, offline detection, and the face stack (MediaPipe's
face detector, 468-point face mesh and person segmenter in PyTorch, head pose, tracking)."""

from motionkit.face.box import Box, read_box_file
from motionkit.face.cascade import detect_face
from motionkit.face.crop import crop_box, crop_portrait
from motionkit.face.stack import Face, FaceStack, FaceStackConfig
from motionkit.face.tracking import FaceTracker

__all__ = [
    "Box",
    "Face",
    "FaceStack",
    "FaceStackConfig",
    "FaceTracker",
    "crop_box",
    "crop_portrait",
    "detect_face",
    "read_box_file",
]
