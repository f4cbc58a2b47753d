"""Identities of the synthetic world: how a face looks (:class:`FaceIdentity`) and how it speaks (:class:`Voice`).

Lengths of a face are in head units: the head ellipsoid's half-width is 1 before the per-face ``scale``. The head
frame has x to the face's left as seen in the image (image right), y up and z towards the camera; the head
centre is the origin. Colours are linear RGB triples in [0, 1]. Both dataclasses are frozen and round-trip
through plain dictionaries (JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

import numpy as np

from motionkit.errors import ConfigError

RGB = tuple[float, float, float]
HairStyle = Literal["short", "long", "bob", "bangs", "buzz", "bald"]
HAIR_STYLES: tuple[str, ...] = get_args(HairStyle)

MOUTH_INTERIOR: RGB = (0.22, 0.035, 0.06)
"""Colour of the mouth cavity, shared by every face (the analyzer relies on it)."""
SCLERA: RGB = (0.93, 0.92, 0.9)
PUPIL: RGB = (0.04, 0.03, 0.03)

# Anchor colours; a face draws a point between two neighbouring anchors plus a small jitter.
_SKIN_ANCHORS = np.array(
    [
        (0.98, 0.87, 0.78),
        (0.94, 0.77, 0.64),
        (0.84, 0.63, 0.48),
        (0.68, 0.47, 0.33),
        (0.50, 0.33, 0.23),
        (0.36, 0.24, 0.17),
    ]
)
_HAIR_COLOURS = np.array(
    [
        (0.07, 0.06, 0.05),
        (0.2, 0.13, 0.08),
        (0.38, 0.25, 0.14),
        (0.78, 0.63, 0.38),
        (0.58, 0.24, 0.1),
        (0.55, 0.55, 0.55),
        (0.84, 0.83, 0.8),
    ]
)
_HAIR_WEIGHTS = np.array([0.25, 0.22, 0.18, 0.12, 0.08, 0.1, 0.05])
_EYE_COLOURS = np.array(
    [(0.33, 0.19, 0.09), (0.14, 0.09, 0.06), (0.28, 0.47, 0.72), (0.27, 0.47, 0.28), (0.5, 0.38, 0.18)]
)
_BACKGROUNDS = np.array(
    [
        (0.32, 0.42, 0.55),
        (0.55, 0.62, 0.7),
        (0.3, 0.45, 0.38),
        (0.6, 0.66, 0.6),
        (0.45, 0.4, 0.52),
        (0.72, 0.72, 0.74),
        (0.2, 0.22, 0.26),
        (0.55, 0.6, 0.5),
    ]
)
_HAIR_STYLE_WEIGHTS = np.array([0.3, 0.2, 0.17, 0.15, 0.1, 0.08])
_LIP_TINT = np.array((1.0, 0.66, 0.7))
_LIP_SHADE = 0.88
_MIN_BACKGROUND_DISTANCE = 0.25
_MIN_HAIR_CHROMA_DISTANCE = 0.06
_HAIR_JITTER = 0.05
_BACKGROUND_GRADIENT = (0.75, 1.1)
_CLOTH_RANGE = (0.1, 0.8)

FACE_RANGES: dict[str, tuple[float, float]] = {
    "scale": (0.9, 1.06),
    "head_aspect": (1.2, 1.34),
    "head_depth": (0.95, 1.1),
    "jaw_width": (0.72, 0.88),
    "jaw_length": (0.74, 0.86),
    "hair_volume": (0.06, 0.22),
    "hairline": (0.5, 0.66),
    "eye_size": (0.88, 1.12),
    "eye_spacing": (0.36, 0.43),
    "eye_height": (0.02, 0.12),
    "brow_thickness": (0.035, 0.065),
    "nose_length": (0.9, 1.15),
    "nose_width": (0.85, 1.2),
    "mouth_size": (0.88, 1.12),
    "mouth_height": (-0.74, -0.66),
    "ear_size": (0.85, 1.15),
}
"""Uniform ranges of the numeric shape fields of :class:`FaceIdentity` (head units or factors)."""


@dataclass(frozen=True)
class FaceIdentity:
    """Appearance of one synthetic face (shape, colours, hair, feature sizes)."""

    seed: int
    scale: float
    head_aspect: float
    head_depth: float
    jaw_width: float
    jaw_length: float
    skin: RGB
    lips: RGB
    hair: RGB
    hair_style: HairStyle
    hair_volume: float
    hairline: float
    eye_colour: RGB
    eye_size: float
    eye_spacing: float
    eye_height: float
    brow_thickness: float
    nose_length: float
    nose_width: float
    mouth_size: float
    mouth_height: float
    ear_size: float
    background_top: RGB
    background_bottom: RGB
    cloth: RGB

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FaceIdentity:
        """Inverse of :meth:`to_dict`."""
        return cls(**_coerce(cls, values))


@dataclass(frozen=True)
class Voice:
    """How a synthetic speaker sounds and articulates.

    Attributes:
        f0: mean fundamental frequency (Hz).
        formant_scale: factor on every vowel formant (shorter vocal tracts have higher formants).
        rate: speaking-rate factor (durations are divided by it).
        breathiness: share of aspiration noise in voiced sound.
        tilt: factor on the spectral-tilt corner (larger is brighter).
        articulation: factor on every mouth opening (a mumbling speaker opens less).
    """

    seed: int
    f0: float
    formant_scale: float
    rate: float
    breathiness: float
    tilt: float
    articulation: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Voice:
        return cls(**_coerce(cls, values))


def _coerce(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    missing = names - set(values)
    unknown = set(values) - names
    if missing or unknown:
        raise ConfigError(
            f"{cls.__name__} fields do not match: missing {sorted(missing)}, unknown {sorted(unknown)}; "
            f"the data was probably written by another motionkit version."
        )
    out: dict[str, Any] = {}
    for name, value in values.items():
        out[name] = tuple(float(v) for v in value) if isinstance(value, (list, tuple)) else value
    if "hair_style" in out and out["hair_style"] not in HAIR_STYLES:
        raise ConfigError(f"unknown hair_style {out['hair_style']!r}; known: {', '.join(HAIR_STYLES)}.")
    return out


def _chromaticity(colour: np.ndarray) -> np.ndarray:
    """``(r, g) / (r + g + b)``: colour without brightness, so shading does not change it."""
    return colour[:2] / max(float(colour.sum()), 1e-6)


def _rgb(values: np.ndarray) -> RGB:
    r, g, b = (float(v) for v in np.clip(values, 0.0, 1.0))
    return (r, g, b)


def _jitter(rng: np.random.Generator, colour: np.ndarray, amount: float) -> np.ndarray:
    return np.clip(colour * (1.0 + rng.uniform(-amount, amount, 3)), 0.0, 1.0)


def sample_face(seed: int) -> FaceIdentity:
    """Draw a face deterministically from ``seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xFACE]))
    position = rng.uniform(0, len(_SKIN_ANCHORS) - 1)
    low = int(np.floor(position))
    high = min(low + 1, len(_SKIN_ANCHORS) - 1)
    skin = _jitter(rng, _SKIN_ANCHORS[low] + (position - low) * (_SKIN_ANCHORS[high] - _SKIN_ANCHORS[low]), 0.04)
    lips = np.clip(skin * _LIP_TINT * _LIP_SHADE, 0.0, 1.0)
    hair = _jitter(rng, _HAIR_COLOURS[rng.choice(len(_HAIR_COLOURS), p=_HAIR_WEIGHTS)], _HAIR_JITTER)
    for _ in range(16):  # hair whose hue differs from the skin's keeps the hairline readable under any shading
        if np.abs(_chromaticity(hair) - _chromaticity(skin)).sum() > _MIN_HAIR_CHROMA_DISTANCE:
            break
        hair = _jitter(rng, _HAIR_COLOURS[rng.choice(len(_HAIR_COLOURS), p=_HAIR_WEIGHTS)], _HAIR_JITTER)
    style = HAIR_STYLES[int(rng.choice(len(HAIR_STYLES), p=_HAIR_STYLE_WEIGHTS))]
    background = _EYE_COLOURS[0]
    for _ in range(16):  # keep the background distinct from skin and hair so the silhouette stays readable
        background = _jitter(rng, _BACKGROUNDS[rng.integers(len(_BACKGROUNDS))], 0.15)
        if min(np.abs(background - skin).sum(), np.abs(background - hair).sum()) > _MIN_BACKGROUND_DISTANCE:
            break
    cloth = rng.uniform(*_CLOTH_RANGE, 3)
    for _ in range(16):  # clothes distinct from skin keep the neck line readable
        cloth = rng.uniform(*_CLOTH_RANGE, 3)
        if np.abs(cloth - skin).sum() > _MIN_BACKGROUND_DISTANCE:
            break
    gradient = rng.uniform(*_BACKGROUND_GRADIENT)
    shape = {name: float(rng.uniform(low, high)) for name, (low, high) in FACE_RANGES.items()}
    return FaceIdentity(
        seed=int(seed),
        skin=_rgb(skin),
        lips=_rgb(lips),
        hair=_rgb(hair),
        hair_style=style,  # type: ignore[arg-type]
        eye_colour=_rgb(_jitter(rng, _EYE_COLOURS[rng.integers(len(_EYE_COLOURS))], 0.12)),
        background_top=_rgb(background),
        background_bottom=_rgb(background * gradient),
        cloth=_rgb(cloth),
        **shape,
    )


def sample_voice(seed: int) -> Voice:
    """Draw a voice deterministically from ``seed`` (independent of :func:`sample_face` for the same seed)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x701CE]))
    register = rng.uniform(0.0, 1.0)  # 0 = low voice, 1 = high voice; formants follow the register
    return Voice(
        seed=int(seed),
        f0=float(95.0 * (2.3**register) * rng.uniform(0.95, 1.05)),
        formant_scale=float((0.92 + 0.2 * register) * rng.uniform(0.97, 1.03)),
        rate=float(rng.uniform(0.85, 1.2)),
        breathiness=float(rng.uniform(0.02, 0.14)),
        tilt=float(rng.uniform(0.5, 1.6)),
        articulation=float(rng.uniform(0.85, 1.0)),
    )
