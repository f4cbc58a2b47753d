"""Face analyzers: measure mouth opening, head pose and blinks in frames, without downloaded weights."""

from motionkit.eval.face.base import FaceAnalyzer, FaceMeasurements, check_frames
from motionkit.eval.face.landmarks import LandmarkFaceAnalyzer, landmark_measurements
from motionkit.eval.face.synthetic import Calibration, SyntheticFaceAnalyzer, calibrate, raw_measurements

__all__ = [
    "Calibration",
    "FaceAnalyzer",
    "FaceMeasurements",
    "LandmarkFaceAnalyzer",
    "SyntheticFaceAnalyzer",
    "calibrate",
    "check_frames",
    "landmark_measurements",
    "raw_measurements",
]
