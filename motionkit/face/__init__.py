"""Faces below the components: the face stack (MediaPipe's face detector, 468-point face mesh and person segmenter
in PyTorch, head pose, tracking), the face box and FLOAT's crop rule around the landmarks' box."""

from motionkit.face.box import Box, read_box_file
from motionkit.face.crop import crop_box, crop_portrait, face_box
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
    "face_box",
    "read_box_file",
]
