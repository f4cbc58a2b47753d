"""Per-frame parameters of a synthetic face: head pose, mouth, eyelids and brows.

Conventions (all angles in degrees, the camera looks at the face):

- ``yaw`` > 0 turns the face towards the image's right (the nose moves right).
- ``pitch`` > 0 lifts the chin (the nose moves up); a nod is a dip to negative pitch and back.
- ``roll`` > 0 tilts the head clockwise as seen in the image (the top of the head moves right).
- ``mouth_open`` 0 (lips closed) .. 1 (widest opening of an open vowel).
- ``mouth_width`` 0 (rounded, as in "oo") .. 1 (spread, as in "ee"); 0.5 is the resting width.
- ``blink`` 0 (eyes open) .. 1 (eyes closed).
- ``brows`` 0 (resting low) .. 1 (fully raised).

Alignment with audio: the values of frame ``t`` describe the face at time ``(t + 0.5) / fps``, the centre of the
audio samples ``[t * S, (t + 1) * S)`` with ``S = sample_rate / fps`` (640 at 16 kHz and 25 fps).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from motionkit.errors import ShapeError

PARAM_NAMES: tuple[str, ...] = ("yaw", "pitch", "roll", "mouth_open", "mouth_width", "blink", "brows")
"""Names of the per-frame parameters, in storage order."""

UNIT_PARAMS: tuple[str, ...] = ("mouth_open", "mouth_width", "blink", "brows")
"""Parameters that live in [0, 1]."""


@dataclass(frozen=True)
class FaceParams:
    """Per-frame face parameters, each a ``(T,)`` float32 array (see the module docstring for units and signs)."""

    yaw: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    mouth_open: np.ndarray
    mouth_width: np.ndarray
    blink: np.ndarray
    brows: np.ndarray

    def __post_init__(self) -> None:
        lengths = set()
        for name in PARAM_NAMES:
            value = np.array(getattr(self, name), dtype=np.float32)  # a private, read-only copy
            if value.ndim != 1:
                raise ShapeError(f"FaceParams.{name} must be a (T,) array, got shape {value.shape}.")
            if not np.isfinite(value).all():
                raise ShapeError(f"FaceParams.{name} contains NaN or infinite values.")
            if name in UNIT_PARAMS and value.size and (value.min() < 0.0 or value.max() > 1.0):
                raise ShapeError(
                    f"FaceParams.{name} must lie in [0, 1], got range [{value.min():.3f}, {value.max():.3f}]."
                )
            value.setflags(write=False)
            object.__setattr__(self, name, value)
            lengths.add(value.shape[0])
        if len(lengths) != 1:
            raise ShapeError(f"FaceParams arrays must all have the same length, got lengths {sorted(lengths)}.")

    @property
    def frames(self) -> int:
        return int(self.yaw.shape[0])

    def __len__(self) -> int:
        return self.frames

    @classmethod
    def neutral(cls, frames: int = 1) -> FaceParams:
        """Frontal head, closed mouth at resting width, open eyes, resting brows."""
        zeros = np.zeros(frames, np.float32)
        return cls(
            yaw=zeros,
            pitch=zeros,
            roll=zeros,
            mouth_open=zeros,
            mouth_width=np.full(frames, 0.5, np.float32),
            blink=zeros,
            brows=zeros,
        )

    @classmethod
    def constant(cls, frames: int = 1, **values: float) -> FaceParams:
        """``frames`` copies of one pose; unspecified parameters take their :meth:`neutral` value."""
        unknown = set(values) - set(PARAM_NAMES)
        if unknown:
            raise ShapeError(f"unknown face parameters {sorted(unknown)}; known: {', '.join(PARAM_NAMES)}.")
        base = cls.neutral(frames).as_dict()
        base.update({k: np.full(frames, v, np.float32) for k, v in values.items()})
        return cls(**base)

    def as_dict(self) -> dict[str, np.ndarray]:
        """``{name: (T,) array}`` in :data:`PARAM_NAMES` order."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def as_array(self) -> np.ndarray:
        """``(T, 7)`` float32 array, columns in :data:`PARAM_NAMES` order."""
        return np.stack([getattr(self, name) for name in PARAM_NAMES], axis=1)

    @classmethod
    def from_mapping(cls, values: Mapping[str, np.ndarray]) -> FaceParams:
        """Build from a mapping holding every name of :data:`PARAM_NAMES` (extra keys are ignored)."""
        missing = [name for name in PARAM_NAMES if name not in values]
        if missing:
            raise ShapeError(f"face parameters are missing {missing}; expected all of {', '.join(PARAM_NAMES)}.")
        return cls(**{name: np.asarray(values[name], np.float32) for name in PARAM_NAMES})

    def slice(self, start: int = 0, stop: int | None = None) -> FaceParams:
        """Frames ``start:stop``."""
        return FaceParams(**{name: value[start:stop] for name, value in self.as_dict().items()})

    def replace(self, **values: np.ndarray) -> FaceParams:
        """A copy with some arrays replaced."""
        merged = self.as_dict()
        merged.update(values)
        return FaceParams(**merged)
