"""``FaceStack``: detection, 468 (or refined 478) landmarks in image pixels, head pose, measurements and person
segmentation.

One image::

    stack = FaceStack()                      # FaceStack(device="cuda") on a GPU
    face = stack.face("portrait.jpg")         # the largest face; face(image, index=1) the second largest
    face.landmarks.points                     # (468, 3) pixels
    face.pose.yaw, face.pose.pitch, face.pose.roll

Images of any layout :func:`motionkit.io.image.load_image` reads (grayscale, RGBA, 16-bit, paths) are accepted;
the caller's array is never modified. Detection runs on a copy whose longer side is at most
:data:`DETECTION_MAX_SIDE` (the network sees 128 or 192 px anyway), landmarks on the full-resolution pixels of the
face region only, so memory stays bounded for very large photos. Several faces come largest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from motionkit.errors import ConfigError, FaceNotFoundError, ShapeError
from motionkit.face.canonical import canonical_face
from motionkit.face.detector import FULL_RANGE, SHORT_RANGE, FaceDetection, FaceDetector
from motionkit.face.landmarks import MIN_PRESENCE, NUM_LANDMARKS, FaceLandmarker, FaceLandmarks
from motionkit.face.measures import FaceMeasures, measure
from motionkit.face.pose import HeadPose, head_pose
from motionkit.face.roi import FaceRegion
from motionkit.face.sampling import image_tensor
from motionkit.face.segmenter import PersonSegmenter
from motionkit.io.image import ImageInput, load_image

DETECTION_MAX_SIDE = 1024
"""Images with a longer side above this are downscaled (Lanczos, 8-bit) before detection."""

MIN_FACE_FRACTION = {"short": 0.12, "full": 0.06}
"""Smallest face width, as a fraction of the image's longer side, each detector finds (measured on the astronaut
photo scaled into a larger canvas: short range finds 12% and misses 10%, full range finds 6% and misses 5%;
tests/face/test_face_edges.py); crop the image around a smaller face."""

MIN_FACE_PIXELS = 20
"""Smallest face width in pixels tested to be found and meshed (a face this small fills its image)."""

MAX_YAW_DEGREES = 60
"""Largest head turn measured correctly (synthetic faces: 60 degrees reads 55; 75 still reads ~55; 90: no face)."""


def _detection_copy(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` itself, or a Lanczos-downscaled copy when its longer side exceeds :data:`DETECTION_MAX_SIDE`."""
    height, width = rgb.shape[:2]
    factor = DETECTION_MAX_SIDE / max(height, width)
    if factor >= 1.0:
        return rgb
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def _scaled(box: tuple[float, float, float, float], scale: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box) * np.tile(scale, 2))
    return x0, y0, x1, y1


class FaceStackConfig(BaseModel):
    """Settings of :class:`FaceStack`."""

    model_config = ConfigDict(frozen=True)

    detector: Literal["short", "full"] = Field(
        "short", description="'short' for faces within ~2 m (selfies, portraits), 'full' for smaller, distant ones."
    )
    min_presence: float = Field(MIN_PRESENCE, ge=0, le=1, description="Landmark presence below this is no face.")
    refined: bool = Field(
        False,
        description="478 points from MediaPipe's attention mesh (refined lips and eyes that close, irises) instead "
        "of the 468-point mesh; the landmark network costs about 2.7 times as much.",
    )


@dataclass(frozen=True)
class Face:
    """One face: its landmarks, pose and measurements, and the detection it came from (``None`` when tracked)."""

    landmarks: FaceLandmarks
    pose: HeadPose
    measures: FaceMeasures
    detection: FaceDetection | None

    @property
    def points(self) -> np.ndarray:
        """(468, 3) landmarks in pixels (``x``, ``y``, depth); (478, 3) from a refined stack (irises last)."""
        return self.landmarks.points

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: the landmarks' bounding box in pixels."""
        lo, hi = self.points[:, :2].min(axis=0), self.points[:, :2].max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


class FaceStack:
    """MediaPipe's face models in PyTorch, with no MediaPipe at run time.

    Args:
        device: where the networks run (batched: several faces' landmarks in one call).
        config: detector choice and presence threshold.
    """

    def __init__(self, device: str | torch.device = "cpu", config: FaceStackConfig | None = None) -> None:
        self.config = config or FaceStackConfig()
        self.device = torch.device(device)
        self.detector = FaceDetector(FULL_RANGE if self.config.detector == "full" else SHORT_RANGE).to(self.device)
        self.landmarker = FaceLandmarker(self.config.refined).to(self.device)
        self._segmenter: PersonSegmenter | None = None

    def detect(self, image: ImageInput) -> list[FaceDetection]:
        """All faces the detector finds in ``image``, largest first, in full-resolution pixels."""
        return self.detect_array(load_image(image))

    def detect_array(self, rgb: np.ndarray) -> list[FaceDetection]:
        """:meth:`detect` on an already loaded (H, W, 3) uint8 RGB array."""
        return self.detect_arrays([rgb])[0]

    def detect_arrays(self, images: Sequence[np.ndarray] | np.ndarray) -> list[list[FaceDetection]]:
        """:meth:`detect_array` on several (H, W, 3) uint8 images (or one (N, H, W, 3) array), one detector call."""
        smalls = [_detection_copy(rgb) for rgb in images]
        found = self.detector.detect_batch([image_tensor(small, self.device) for small in smalls])
        result = []
        for rgb, small, faces in zip(images, smalls, found):
            if small is not rgb:
                scale = np.array([rgb.shape[1] / small.shape[1], rgb.shape[0] / small.shape[0]])
                faces = [FaceDetection(_scaled(f.box, scale), f.keypoints * scale, f.score) for f in faces]
            result.append(faces)
        return result

    def faces(self, image: ImageInput) -> list[Face]:
        """Every face in ``image`` with its landmarks, largest first (faces whose landmarks find no face dropped)."""
        return self.faces_batch([image])[0]

    def faces_batch(self, images: Sequence[ImageInput] | np.ndarray) -> list[list[Face]]:
        """:meth:`faces` of every image of a list (any layouts and sizes) or of an (N, H, W, 3) array of frames.

        Two network calls for the whole batch: the detector on all images, then the landmark network on every
        face region of every image; the results equal per-image :meth:`faces` up to float rounding. On a GPU
        this is the fast way through many frames (the crops are resampled there too).
        """
        if isinstance(images, np.ndarray) and images.ndim != 4:
            raise ShapeError(
                f"a batch of frames must be an (N, H, W, 3) array or a list of images, got shape {images.shape}."
            )
        rgbs = [load_image(image) for image in images]
        detections = self.detect_arrays(rgbs)
        pairs = [(rgb, FaceRegion.from_detection(d)) for rgb, found in zip(rgbs, detections) for d in found]
        meshes = self.landmarker.locate_batch(pairs)
        result, start = [], 0
        for found in detections:
            faces = [self.describe(mesh, d) for mesh, d in zip(meshes[start : start + len(found)], found)]
            result.append([face for face in faces if face.landmarks.presence >= self.config.min_presence])
            start += len(found)
        return result

    @staticmethod
    def describe(landmarks: FaceLandmarks, detection: FaceDetection | None = None) -> Face:
        """The :class:`Face` of a mesh: pose against the canonical face, measurements."""
        pose = head_pose(landmarks.points[:NUM_LANDMARKS], canonical_face().points)
        return Face(landmarks, pose, measure(landmarks.points), detection)

    def face(self, image: ImageInput, index: int = 0) -> Face:
        """The ``index``-th largest face of ``image`` (0: the largest).

        Raises:
            FaceNotFoundError: no face, or fewer than ``index + 1`` faces (the message gives the image size and
                what to try).
        """
        if index < 0:
            raise ConfigError(f"face index must be >= 0 (0 is the largest face), got {index}.")
        rgb = load_image(image)
        faces = self.faces(rgb)
        if len(faces) <= index:
            height, width = rgb.shape[:2]
            found = f"found {len(faces)} face(s), so there is no face index {index}" if faces else "found no face"
            fraction = MIN_FACE_FRACTION[self.config.detector]
            other = (
                " or FaceStackConfig(detector='full') for small, distant faces"
                if self.config.detector == "short"
                else ""
            )
            raise FaceNotFoundError(
                f"the face stack {found} in the {width}x{height} image. Faces must be at least {fraction:.0%} of the "
                f"image's longer side ({fraction * max(width, height):.0f} px here) and {MIN_FACE_PIXELS} px, "
                f"reasonably lit and turned less than {MAX_YAW_DEGREES} degrees from frontal; try cropping the image "
                f"around the face{other}."
            )
        return faces[index]

    def segment(self, image: ImageInput) -> np.ndarray:
        """Person probability (H, W) float32 in ``[0, 1]`` of ``image``."""
        if self._segmenter is None:
            self._segmenter = PersonSegmenter().to(self.device)
        return self._segmenter.mask(load_image(image))
