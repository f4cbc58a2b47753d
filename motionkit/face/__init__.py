"""Faces: MediaPipe's face detector, 468-point face mesh and person segmenter in PyTorch, head pose, tracking."""

from motionkit.face.stack import Face, FaceStack, FaceStackConfig
from motionkit.face.tracking import FaceTracker

__all__ = ["Face", "FaceStack", "FaceStackConfig", "FaceTracker"]
