"""Measuring real faces from MediaPipe FaceMesh landmarks (optional dependency).

mediapipe is not a dependency of motionkit: only its 0.10.21 release still ships the FaceMesh model, and its
metadata pins an old numpy. Install it beside numpy 2 with::

    pip install "opencv-python-headless<5" "protobuf>=4.25.3,<5" absl-py attrs flatbuffers matplotlib
    pip install --no-deps mediapipe==0.10.21

The geometry (:func:`landmark_measurements`) is plain numpy on ``(T, 478, 3)`` landmark arrays in pixels (``z`` in
the same unit as ``x``, growing away from the camera, as FaceMesh gives it) and works without mediapipe.

- ``mouth_open``: inner-lip gap over mouth width, ``|p13 - p14| / |p61 - p291|`` (about 0 closed, 0.5-0.8 wide open;
  not the synthetic world's 0..1 unit).
- ``yaw``: ``atan2(z_454 - z_234, x_454 - x_234)`` (the cheek-to-cheek line turning in depth), degrees.
- ``pitch``: ``atan2(z_10 - z_152, y_152 - y_10)`` (the chin-to-forehead line), degrees; chin up is positive.
- ``blink``: ``1 - EAR / EAR_ref`` with the eye aspect ratio ``EAR = mean(|p159 - p145| / |p33 - p133|,
  |p386 - p374| / |p362 - p263|)`` and ``EAR_ref`` its 95th percentile over the video.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from motionkit.errors import ConfigError, ShapeError, require
from motionkit.eval.face.base import FaceMeasurements, check_frames
from motionkit.eval.face.native_log import quiet_native_logs

FACEMESH_POINTS = 478
_LIPS_INNER = (13, 14)
_MOUTH_CORNERS = (61, 291)
_CHEEKS = (234, 454)
_FOREHEAD_CHIN = (10, 152)
_LEFT_EYE = (159, 145, 33, 133)  # upper lid, lower lid, outer corner, inner corner
_RIGHT_EYE = (386, 374, 362, 263)
_BLINK_REFERENCE = 95.0
_EPS = 1e-9

INSTALL_HINT = (
    'pip install "opencv-python-headless<5" "protobuf>=4.25.3,<5" absl-py attrs flatbuffers matplotlib '
    "&& pip install --no-deps mediapipe==0.10.21"
)


def landmark_measurements(landmarks: np.ndarray) -> FaceMeasurements:
    """Mouth opening, yaw, pitch and blink from ``(T, 478, 3)`` FaceMesh landmarks (NaN rows: no face)."""
    points = np.asarray(landmarks, dtype=np.float64)
    require(
        points.ndim == 3 and points.shape[1] >= FACEMESH_POINTS and points.shape[2] == 3,
        ShapeError,
        f"landmarks must be (T, {FACEMESH_POINTS}, 3) FaceMesh points, got shape {points.shape}.",
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


def _import_mediapipe() -> Any:
    try:
        return importlib.import_module("mediapipe")
    except ImportError:
        raise ConfigError(
            f"the landmark analyzer needs mediapipe 0.10.21, which is not installed. Install it with: {INSTALL_HINT}"
        ) from None


class LandmarkFaceAnalyzer:
    """Measure real faces with MediaPipe FaceMesh (see the module docstring for the install line and formulas)."""

    def __init__(self) -> None:
        mediapipe = _import_mediapipe()
        solutions = getattr(mediapipe, "solutions", None)
        require(
            solutions is not None,
            ConfigError,
            f"mediapipe {getattr(mediapipe, '__version__', '?')} has no FaceMesh model (mp.solutions was removed "
            f"in 0.10.30); install 0.10.21: {INSTALL_HINT}",
        )
        self._face_mesh: Any = getattr(solutions, "face_mesh")  # noqa: B009 (mediapipe is untyped)

    def landmarks(self, frames: np.ndarray) -> np.ndarray:
        """``(T, 478, 3)`` landmarks in pixels (NaN where no face was found).

        FaceMesh runs in video mode (it tracks the face from the previous frame's landmarks). When the track is lost
        (a cut, a jump of the head) it would only detect the face again on the next frame, so a frame without a
        face is processed once more, which runs the detector on it.
        """
        frames = check_frames(frames)
        T, H, W, _ = frames.shape
        out = np.full((T, FACEMESH_POINTS, 3), np.nan)
        with (
            quiet_native_logs(),
            self._face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True) as mesh,
        ):
            for t in range(T):
                result = mesh.process(frames[t])
                if not result.multi_face_landmarks:
                    result = mesh.process(frames[t])
                if result.multi_face_landmarks:
                    marks = result.multi_face_landmarks[0].landmark
                    out[t] = [(p.x * W, p.y * H, p.z * W) for p in marks[:FACEMESH_POINTS]]
        return out

    def measure(self, frames: np.ndarray) -> FaceMeasurements:
        return landmark_measurements(self.landmarks(frames))
