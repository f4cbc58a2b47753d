"""What a scan knows about one usable clip, the settings that decide usability, and how its frames are cropped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from motionkit.errors import ConfigError
from motionkit.face import Box, crop_portrait, face_box
from motionkit.io.image import resize_image


class SkippedFileWarning(UserWarning):
    """A data file was skipped (see the message for the reason); the dataset summary counts it."""


@dataclass(frozen=True)
class FaceCropper:
    """How the dataset crops faces: a box fixed per clip, then the same crop of every frame.

    Attributes:
        detect: ``(frame uint8 (H, W, 3)) -> Box``; raises :class:`~motionkit.errors.FaceNotFoundError` when the
            frame has no face. Called on the first frames of a clip until it succeeds.
        crop: ``(frame, box) -> uint8 (S, S, 3)`` (e.g. FLOAT's crop rule with a given box).
        name: identifies detector and crop settings in the cached scan index; change it when they change.
    """

    detect: Callable[[np.ndarray], Box]
    crop: Callable[[np.ndarray, Box], np.ndarray]
    name: str

    @classmethod
    def resize(cls, size: int) -> FaceCropper:
        """No detection: the whole frame, resized to ``size x size`` with :func:`motionkit.io.image.resize_image`
        (for videos that are already face crops; FLOAT's ``--no_crop`` path)."""
        _check_size(size)

        def whole(frame: np.ndarray) -> Box:
            return Box(0, 0, int(frame.shape[1]), int(frame.shape[0]))

        def resized(frame: np.ndarray, box: Box) -> np.ndarray:
            return np.ascontiguousarray(resize_image(frame[box.y1 : box.y2, box.x1 : box.x2], size, size))

        return cls(detect=whole, crop=resized, name=f"resize-{size}")

    @classmethod
    def float_crop(cls, size: int) -> FaceCropper:
        """FLOAT's face crop: the largest face's landmark box (:func:`motionkit.face.face_box`, fixed per clip) and
        the 1.6x square crop (:func:`motionkit.face.crop_portrait`) resized to ``size``."""
        _check_size(size)

        def crop(frame: np.ndarray, box: Box) -> np.ndarray:
            return crop_portrait(frame, size, box=box)

        return cls(detect=face_box, crop=crop, name=f"float-crop-landmarks-{size}")

    def checked_crop(self, frame: np.ndarray, box: Box) -> np.ndarray:
        """:attr:`crop`, with a clear error when it returns anything but a square uint8 RGB image."""
        image = self.crop(frame, box)
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
            got = f"{type(image).__name__} {getattr(image, 'dtype', '')} {getattr(image, 'shape', '')}"
            raise ConfigError(f"cropper {self.name!r} must return uint8 (S, S, 3) arrays, got {got}.")
        if image.shape[0] != image.shape[1]:
            raise ConfigError(f"cropper {self.name!r} returned a non-square crop {image.shape}.")
        return image


def _check_size(size: int) -> None:
    if size < 1:
        raise ConfigError(f"crop size must be positive, got {size}.")


@dataclass(frozen=True)
class ScanSettings:
    """What makes a clip usable, and the target rates.

    Attributes:
        fps: output frame rate (FLOAT: 25).
        sample_rate: audio rate in Hz (FLOAT: 16000).
        min_frames: shortest usable clip in output frames (auto-encoder: 2; flow: the window L).
        require_audio: reject clips without audio or with silent audio (the flow model needs speech).
        silence_db: clips whose audio RMS level (dBFS) is below this are silent.
        face_search_frames: frames searched for a face at the start of each clip.
    """

    fps: float = 25.0
    sample_rate: int = 16000
    min_frames: int = 2
    require_audio: bool = True
    silence_db: float = -60.0
    face_search_frames: int = 25

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.sample_rate <= 0 or self.min_frames < 1 or self.face_search_frames < 1:
            raise ConfigError(f"invalid scan settings {self}: rates, min_frames and face_search_frames must be > 0.")

    @property
    def samples_per_frame(self) -> int:
        return round(self.sample_rate / self.fps)


DEFAULT_SCAN = ScanSettings()
"""The default settings: FLOAT's rates, clips of at least 2 frames with speech."""


@dataclass(frozen=True)
class ClipInfo:
    """A usable clip: where its frames are and how to crop them.

    Attributes:
        path: the video file.
        frames: number of output frames at ``fps``.
        source_pts: for each output frame, the presentation timestamp of the source frame it shows.
        time_base: ``(numerator, denominator)`` of the video stream's timestamp unit.
        box: the face box fixed for the clip.
        audio_offset: samples to drop (positive) or zeros to prepend (negative) so that the audio starts at the
            first video frame.
        has_audio: whether the clip's audio was checked and found usable.
        fps, sample_rate: the rates of the scan.
    """

    path: Path
    frames: int
    source_pts: tuple[int, ...]
    time_base: tuple[int, int]
    box: Box
    audio_offset: int = 0
    has_audio: bool = False
    fps: float = 25.0
    sample_rate: int = 16000

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def to_json(self) -> dict[str, Any]:
        """The clip as JSON values (the box as ``[x1, y1, x2, y2]``)."""
        return {
            "path": str(self.path),
            "frames": self.frames,
            "source_pts": list(self.source_pts),
            "time_base": list(self.time_base),
            "box": list(self.box.as_tuple()),
            "audio_offset": self.audio_offset,
            "has_audio": self.has_audio,
            "fps": self.fps,
            "sample_rate": self.sample_rate,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClipInfo:
        return cls(
            path=Path(data["path"]),
            frames=int(data["frames"]),
            source_pts=tuple(int(p) for p in data["source_pts"]),
            time_base=(int(data["time_base"][0]), int(data["time_base"][1])),
            box=Box.coerce(data["box"]),
            audio_offset=int(data["audio_offset"]),
            has_audio=bool(data["has_audio"]),
            fps=float(data["fps"]),
            sample_rate=int(data["sample_rate"]),
        )
