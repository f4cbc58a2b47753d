"""Following faces through video frames as MediaPipe's face mesh does, with One Euro smoothing.

Each frame's landmark region comes from the previous frame's landmarks (:meth:`FaceRegion.from_landmarks`), so
the detector runs only on the first frame and whenever the landmark network's presence score drops below the
stack's ``min_presence`` (the face was lost or moved too fast): the tracker then re-detects on the same frame.
Landmarks are smoothed by a :class:`~motionkit.face.smoothing.OneEuroFilter`, reset at every re-detection; the
next region is computed from the unsmoothed landmarks (as MediaPipe does, so smoothing adds no lag to tracking).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from motionkit.errors import ConfigError
from motionkit.face.landmarks import FaceLandmarks
from motionkit.face.roi import FaceRegion
from motionkit.face.smoothing import OneEuroConfig, OneEuroFilter
from motionkit.face.stack import Face, FaceStack
from motionkit.io.image import ImageInput, load_image

DEFAULT_SMOOTHING = OneEuroConfig()
"""The tracker's smoothing unless told otherwise."""


class FaceTracker:
    """Track one face through frames given one at a time.

    Args:
        stack: the face stack to run.
        fps: the frame rate (the smoothing filter's time step).
        smoothing: One Euro settings (default: :class:`OneEuroConfig`'s); ``None`` returns the raw landmarks.
        index: which face to follow when (re)detecting: 0 the largest.
    """

    def __init__(
        self, stack: FaceStack, fps: float, smoothing: OneEuroConfig | None = DEFAULT_SMOOTHING, index: int = 0
    ) -> None:
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}.")
        self.stack = stack
        self.dt = 1.0 / fps
        self.index = index
        self.filter = OneEuroFilter(smoothing) if smoothing is not None else None
        self.region: FaceRegion | None = None
        self.detections = 0
        """How many times the detector ran (1 + the re-detections)."""

    def reset(self) -> None:
        """Forget the face: the next frame is detected afresh."""
        self.region = None
        if self.filter is not None:
            self.filter.reset()

    def update(self, frame: ImageInput) -> Face | None:
        """The tracked face in ``frame``, or ``None`` when there is none (the next frame re-detects)."""
        rgb = load_image(frame)
        mesh = self._track(rgb) if self.region is not None else None
        detection = None
        if mesh is None:
            self.reset()
            self.detections += 1
            faces = self.stack._detect(rgb)
            if len(faces) <= self.index:
                return None
            detection = faces[self.index]
            mesh = self.stack.landmarker.locate(rgb, [FaceRegion.from_detection(detection)])[0]
            if mesh.presence < self.stack.config.min_presence:
                return None
        self.region = FaceRegion.from_landmarks(mesh.points)
        if self.filter is not None:
            mesh = replace(mesh, points=self.filter(mesh.points, self.dt))
        return self.stack.describe(mesh, detection)

    def _track(self, rgb: np.ndarray) -> FaceLandmarks | None:
        assert self.region is not None
        mesh = self.stack.landmarker.locate(rgb, [self.region])[0]
        return mesh if mesh.presence >= self.stack.config.min_presence else None
