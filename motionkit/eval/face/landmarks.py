"""Measuring real faces from the 468-point face mesh of motionkit's face stack (:mod:`motionkit.face`).

The geometry (:func:`landmark_measurements`) is plain numpy on ``(T, 468, 3)`` landmark arrays in pixels (``z`` in
the same unit as ``x``, growing away from the camera, as the face mesh gives it):

- ``mouth_open``: inner-lip gap over mouth width, ``|p13 - p14| / |p61 - p291|`` (about 0 closed, 0.5-0.8 wide open;
  not the synthetic world's 0..1 unit).
- ``yaw``: ``atan2(z_454 - z_234, x_454 - x_234)`` (the cheek-to-cheek line turning in depth), degrees.
- ``pitch``: ``atan2(z_10 - z_152, y_152 - y_10)`` (the chin-to-forehead line), degrees; chin up is positive.
- ``blink``: ``1 - EAR / EAR_ref`` with the eye aspect ratio ``EAR = mean(|p159 - p145| / |p33 - p133|,
  |p386 - p374| / |p362 - p263|)`` and ``EAR_ref`` its 95th percentile over the video.
"""

from __future__ import annotations

import numpy as np
import torch

from motionkit.errors import ShapeError, require
from motionkit.eval.face.base import FaceMeasurements, check_frames
from motionkit.face.landmarks import NUM_LANDMARKS
from motionkit.face.stack import FaceStack, FaceStackConfig
from motionkit.face.tracking import FaceTracker

FACEMESH_POINTS = NUM_LANDMARKS
_LIPS_INNER = (13, 14)
_MOUTH_CORNERS = (61, 291)
_CHEEKS = (234, 454)
_FOREHEAD_CHIN = (10, 152)
_LEFT_EYE = (159, 145, 33, 133)  # upper lid, lower lid, outer corner, inner corner
_RIGHT_EYE = (386, 374, 362, 263)
_BLINK_REFERENCE = 95.0
_EPS = 1e-9
_MEASURE_FPS = 25.0
"""Frame rate given to the tracker (it only sets the smoothing filter's step, and the analyzer does not smooth)."""


def landmark_measurements(landmarks: np.ndarray) -> FaceMeasurements:
    """Mouth opening, yaw, pitch and blink from ``(T, 468, 3)`` face-mesh landmarks (NaN rows: no face)."""
    points = np.asarray(landmarks, dtype=np.float64)
    require(
        points.ndim == 3 and points.shape[1] >= FACEMESH_POINTS and points.shape[2] == 3,
        ShapeError,
        f"landmarks must be (T, {FACEMESH_POINTS}, 3) face-mesh points, got shape {points.shape}.",
    )

    def distance(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(points[:, a, :2] - points[:, b, :2], axis=1)

    mouth = distance(*_LIPS_INNER) / np.maximum(distance(*_MOUTH_CORNERS), _EPS)
    left, right = points[:, _CHEEKS[0]], points[:, _CHEEKS[1]]
    yaw = np.degrees(np.arctan2(right[:, 2] - left[:, 2], right[:, 0] - left[:, 0]))
    top, bottom = points[:, _FOREHEAD_CHIN[0]], points[:, _FOREHEAD_CHIN[1]]
    pitch = np.degrees(np.arctan2(top[:, 2] - bottom[:, 2], bottom[:, 1] - top[:, 1]))
    ear = 0.5 * sum(distance(u, d) / np.maximum(distance(o, i), _EPS) for u, d, o, i in (_LEFT_EYE, _RIGHT_EYE))
    reference = np.nanpercentile(ear, _BLINK_REFERENCE) if np.isfinite(ear).any() else np.nan
    blink = np.clip(1.0 - ear / max(float(reference), _EPS), 0.0, 1.0)
    return FaceMeasurements(mouth_open=mouth, yaw=yaw, pitch=pitch, blink=blink)


class LandmarkFaceAnalyzer:
    """Measure real faces with motionkit's face stack (formulas in the module docstring; no extra package).

    Args:
        device: where the face networks run.
        refined: read MediaPipe's attention mesh (478 points: lips and lids refined, irises last) instead of the
            468-point one; the formulas use the same point numbers.
    """

    def __init__(self, device: str | torch.device = "cpu", refined: bool = False) -> None:
        self.stack = FaceStack(device, FaceStackConfig(refined=refined))
        self.points = self.stack.landmarker.num_points

    def landmarks(self, frames: np.ndarray) -> np.ndarray:
        """``(T, 468, 3)`` (refined: ``(T, 478, 3)``) landmarks in pixels (NaN where no face was found).

        The face is tracked from frame to frame (each frame's region from the previous landmarks, unsmoothed); when
        the track is lost (a cut, a jump of the head) the face is re-detected on that same frame.
        """
        frames = check_frames(frames)
        out = np.full((frames.shape[0], self.points, 3), np.nan)
        tracker = FaceTracker(self.stack, fps=_MEASURE_FPS, smoothing=None)
        for t, frame in enumerate(frames):
            face = tracker.update(frame)
            if face is not None:
                out[t] = face.points
        return out

    def measure(self, frames: np.ndarray) -> FaceMeasurements:
        return landmark_measurements(self.landmarks(frames))
