"""What a face analyzer measures in frames, and the interface every analyzer implements."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

import numpy as np

from motionkit.errors import ImageError, ShapeError, require


@dataclass(frozen=True)
class FaceMeasurements:
    """Per-frame measurements, each a ``(T,)`` float array (NaN where no face was found).

    Units follow :class:`motionkit.data.synthetic.FaceParams`: ``mouth_open`` 0 (closed) .. 1 (wide open),
    ``yaw`` / ``pitch`` in degrees (yaw > 0: nose to the image right; pitch > 0: chin up), ``blink`` 0 (open) ..
    1 (closed). How faithful each unit is depends on the analyzer; see its docstring.
    """

    mouth_open: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    blink: np.ndarray

    def __post_init__(self) -> None:
        lengths = {np.asarray(getattr(self, f.name)).shape for f in fields(self)}
        if len(lengths) != 1 or len(next(iter(lengths))) != 1:
            raise ShapeError(f"FaceMeasurements arrays must all be (T,) of one length, got shapes {sorted(lengths)}.")

    @property
    def frames(self) -> int:
        return int(self.mouth_open.shape[0])

    @property
    def found(self) -> np.ndarray:
        """``(T,)`` bool: a face was measured in the frame."""
        return np.isfinite(self.mouth_open)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@runtime_checkable
class FaceAnalyzer(Protocol):
    """Anything that measures faces in a ``(T, H, W, 3)`` uint8 RGB frame stack."""

    def measure(self, frames: np.ndarray) -> FaceMeasurements: ...


def check_frames(frames: object) -> np.ndarray:
    """Validate a ``(T, H, W, 3)`` uint8 RGB frame stack (a single ``(H, W, 3)`` frame is promoted)."""
    require(isinstance(frames, np.ndarray), ImageError, f"frames must be a numpy array, got {type(frames).__name__}.")
    assert isinstance(frames, np.ndarray)
    if frames.ndim == 3:
        frames = frames[None]
    require(
        frames.ndim == 4 and frames.shape[-1] == 3 and frames.shape[0] >= 1,
        ImageError,
        f"frames must be (T, H, W, 3) RGB, got shape {frames.shape}; convert grey or RGBA images to RGB first.",
    )
    require(
        frames.dtype == np.uint8,
        ImageError,
        f"frames must be uint8 (0..255), got {frames.dtype}; convert float images in [0, 1] with "
        "(x * 255).round().astype(np.uint8).",
    )
    require(
        min(frames.shape[1:3]) >= 32, ImageError, f"frames are too small ({frames.shape[1:3]}); need at least 32 px."
    )
    return frames
