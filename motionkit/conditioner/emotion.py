"""Emotion specifications: what emotion to condition on, clip-level or per frame, as typed, JSON-able values.

Every specification resolves to per-frame weights ``(B, T, 7)`` over FLOAT's classes (angry, disgust, fear, happy,
neutral, sad, surprise):

* :class:`PredictedEmotion` — FLOAT's default: the classifier's soft label on the whole clip, same for every frame.
* :class:`LabelEmotion` — one class (FLOAT's ``--emo``: a one-hot vector).
* :class:`MixtureEmotion` — several classes with weights (normalised to sum 1).
* :class:`SlidingEmotion` — the classifier applied on windows sliding over the clip, interpolated per frame.
* :class:`KeyframeEmotion` — emotions at given times, linearly interpolated between them.

**Intensity.** Every static emotion takes ``intensity`` in ``[0, 1]`` and resolves to
``e = intensity * target + (1 - intensity) * onehot(neutral)``. The result stays a probability vector — the kind of
vector FLOAT was trained on (its soft labels are softmax outputs, its labels one-hot) — so ``intensity=0`` is a
calm, neutral face rather than an out-of-distribution input. Scaling the one-hot instead (``intensity * onehot``)
would move towards the all-zero vector, which FLOAT uses as its *unconditional* emotion; that direction is what the
sampler's emotion guidance scale ``s_e`` already controls (``v = ... + s_e (v_ae - v_a)``), and FLOAT's authors
recommend ``s_e`` of 5-10 for stronger emotion. So: ``intensity`` to blend towards neutral, guidance to amplify.

Shorthands accepted wherever an emotion is: ``None`` (predicted if a classifier is loaded, else neutral), a label
string (``"happy"``; ``"predicted"``/``"S2E"`` for the prediction), ``(label, intensity)``, a dict in the JSON form of
a specification (``{"kind": "label", "label": "sad", "intensity": 0.5}``), or a tensor of weights ``(7,)``,
``(B, 7)`` or ``(B, T, 7)`` used as given.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Annotated, Literal

import torch
from pydantic import Field, TypeAdapter, ValidationError, field_validator

from motionkit.config._base import FrozenConfig
from motionkit.errors import ConfigError, ShapeError
from motionkit.types import EMOTION_LABELS, EmotionLabel
from motionkit.validation import check_tensor

NEUTRAL = "neutral"
PREDICTED_ALIASES = frozenset({"predicted", "s2e"})
"""Strings meaning "predict from speech" (FLOAT's ``--emo S2E``)."""


class _Static(FrozenConfig):
    intensity: float = Field(
        1.0, ge=0.0, le=1.0, description="Blend towards neutral: intensity * target + (1 - intensity) * neutral."
    )


class LabelEmotion(_Static):
    """One emotion class (one-hot), blended towards neutral by ``intensity``."""

    kind: Literal["label"] = "label"
    label: EmotionLabel = Field(description=f"One of {', '.join(EMOTION_LABELS)}.")


class MixtureEmotion(_Static):
    """Several classes with non-negative weights, normalised to sum 1, then blended by ``intensity``."""

    kind: Literal["mixture"] = "mixture"
    weights: dict[EmotionLabel, float] = Field(description="Label -> non-negative weight; at least one positive.")

    @field_validator("weights")
    @classmethod
    def _positive(cls, weights: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError("mixture weights must be non-negative with a positive sum")
        return weights


class PredictedEmotion(_Static):
    """The classifier's soft label on the whole clip (FLOAT's default), blended by ``intensity``."""

    kind: Literal["predicted"] = "predicted"


class SlidingEmotion(_Static):
    """The classifier on windows sliding over the clip, linearly interpolated to every frame.

    Windows of ``window_seconds`` start every ``hop_seconds`` (the last one ends at the clip's end); each window's
    soft label sits at the window's centre and frames between centres interpolate linearly (frames before the first
    / after the last centre take that window's label). Windows are cut from the clip-normalised waveform, so a quiet
    passage stays quiet. A clip no longer than one window gets the whole-clip prediction (= FLOAT's).
    """

    kind: Literal["sliding"] = "sliding"
    window_seconds: float = Field(2.0, gt=0.0, description="Length of each classified window.")
    hop_seconds: float = Field(0.5, gt=0.0, description="Distance between window starts.")


StaticEmotion = Annotated[LabelEmotion | MixtureEmotion | PredictedEmotion, Field(discriminator="kind")]


class EmotionKeyframe(FrozenConfig):
    """An emotion reached at ``time`` seconds from the start of the clip."""

    time: float = Field(ge=0.0, description="Seconds from the start of the clip.")
    emotion: StaticEmotion


class KeyframeEmotion(FrozenConfig):
    """Emotions at given times, linearly interpolated between keyframes and held before the first / after the last.

    Frame ``t`` is at time ``t / fps``.
    """

    kind: Literal["keyframes"] = "keyframes"
    keyframes: tuple[EmotionKeyframe, ...] = Field(min_length=1, description="Keyframes in increasing time order.")

    @field_validator("keyframes")
    @classmethod
    def _increasing(cls, keyframes: tuple[EmotionKeyframe, ...]) -> tuple[EmotionKeyframe, ...]:
        times = [k.time for k in keyframes]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"keyframe times must be strictly increasing, got {times}")
        return keyframes


EmotionSpec = Annotated[
    LabelEmotion | MixtureEmotion | PredictedEmotion | SlidingEmotion | KeyframeEmotion, Field(discriminator="kind")
]
EmotionInput = (
    LabelEmotion
    | MixtureEmotion
    | PredictedEmotion
    | SlidingEmotion
    | KeyframeEmotion
    | str
    | tuple[str, float]
    | Mapping[str, object]
    | torch.Tensor
    | None
)
_SPEC_TYPES = (LabelEmotion, MixtureEmotion, PredictedEmotion, SlidingEmotion, KeyframeEmotion)
_ADAPTER: TypeAdapter[EmotionSpec] = TypeAdapter(EmotionSpec)


def parse_emotion(value: EmotionInput) -> EmotionSpec | torch.Tensor | None:
    """Turn any accepted shorthand into a specification (tensors and ``None`` pass through).

    Raises:
        ConfigError: unknown label, intensity outside ``[0, 1]``, malformed dict or unsupported type.
    """
    if value is None or isinstance(value, (torch.Tensor, *_SPEC_TYPES)):
        return value
    try:
        if isinstance(value, str):
            name = value.strip().lower()
            return PredictedEmotion() if name in PREDICTED_ALIASES else LabelEmotion(label=name)
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            return LabelEmotion(label=value[0].strip().lower(), intensity=value[1])
        if isinstance(value, Mapping):
            return _ADAPTER.validate_python(dict(value))
    except ValidationError as exc:
        raise ConfigError(
            f"invalid emotion {value!r}: {_first_error(exc)}. Labels: {', '.join(EMOTION_LABELS)}."
        ) from exc
    raise ConfigError(
        f"unsupported emotion {value!r}: give a label such as 'happy', (label, intensity), an emotion specification, "
        "a dict, a (7,)/(B,7)/(B,T,7) tensor, or None."
    )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", ""))


def onehot(label: str) -> torch.Tensor:
    """One-hot ``(7,)`` float32 of a label in FLOAT's order."""
    vector = torch.zeros(len(EMOTION_LABELS))
    vector[EMOTION_LABELS.index(label)] = 1.0
    return vector


def with_intensity(weights: torch.Tensor, intensity: float) -> torch.Tensor:
    """``intensity * weights + (1 - intensity) * onehot(neutral)`` along the last axis."""
    if intensity == 1.0:
        return weights
    neutral = onehot(NEUTRAL).to(device=weights.device, dtype=weights.dtype)
    return intensity * weights + (1.0 - intensity) * neutral


def static_weights(spec: LabelEmotion | MixtureEmotion, batch: int) -> torch.Tensor:
    """``(B, 7)`` weights of a label or mixture."""
    if isinstance(spec, LabelEmotion):
        target = onehot(spec.label)
    else:
        target = torch.zeros(len(EMOTION_LABELS), dtype=torch.float64)
        for label, weight in spec.weights.items():
            target[EMOTION_LABELS.index(label)] += weight
        target = (target / target.sum()).float()
    return with_intensity(target, spec.intensity).expand(batch, -1).clone()


def piecewise_linear(positions: torch.Tensor, knots: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Interpolate ``values (K, B, E)`` given at increasing ``knots (K,)`` at ``positions (T,)``: ``(B, T, E)``.

    Linear between knots, constant before the first and after the last.
    """
    if knots.numel() == 1:
        return values[0][:, None].expand(-1, positions.numel(), -1).clone()
    knots = knots.double()
    positions = positions.double()
    upper = torch.searchsorted(knots, positions, right=True).clamp(1, knots.numel() - 1)
    lower = upper - 1
    weight = ((positions - knots[lower]) / (knots[upper] - knots[lower])).clamp(0.0, 1.0)
    weight = weight.to(device=values.device, dtype=values.dtype)[:, None, None]
    lower, upper = lower.to(values.device), upper.to(values.device)
    mixed = values[lower] * (1.0 - weight) + values[upper] * weight  # (T, B, E)
    return mixed.permute(1, 0, 2).contiguous()


def sliding_prediction(
    predict: Callable[[torch.Tensor], torch.Tensor],
    waveform: torch.Tensor,
    frames: int,
    samples_per_frame: int,
    window: int,
    hop: int,
) -> torch.Tensor:
    """Soft labels ``(B, T, 7)`` of ``predict`` applied to windows of ``window`` samples every ``hop`` samples.

    See :class:`SlidingEmotion`. ``predict`` maps ``(B, n)`` waveforms to ``(B, 7)`` probabilities.
    """
    total = waveform.shape[-1]
    if total <= window:
        probs = predict(waveform)
        return probs[:, None].expand(-1, frames, -1).clone()
    starts = list(range(0, total - window + 1, hop))
    if starts[-1] != total - window:
        starts.append(total - window)
    values = torch.stack([predict(waveform[:, s : s + window]) for s in starts])
    centres = torch.tensor(starts, dtype=torch.float64) + window / 2
    positions = (torch.arange(frames, dtype=torch.float64) + 0.5) * samples_per_frame
    return piecewise_linear(positions, centres, values)


def broadcast_weights(weights: torch.Tensor, batch: int, frames: int) -> torch.Tensor:
    """Explicit weights ``(7,)``, ``(B, 7)`` or ``(B, T, 7)`` (batch 1 broadcasts) -> ``(B, T, 7)``."""
    weights = check_tensor(
        "emotion", weights, ndim=(1, 2, 3), last_dim=len(EMOTION_LABELS), hint="Expected (7,), (B, 7) or (B, T, 7)."
    )
    if weights.ndim == 1:
        weights = weights[None]
    if weights.ndim == 2:
        weights = weights[:, None]
    if weights.shape[0] not in (1, batch) or weights.shape[1] not in (1, frames):
        raise ShapeError(
            f"emotion weights of shape {tuple(weights.shape)} do not fit {batch} clips x {frames} frames; "
            f"expected (7,), ({batch}, 7) or ({batch}, {frames}, 7)."
        )
    return weights.expand(batch, frames, -1).clone()


def resolve_emotion(
    spec: EmotionSpec | torch.Tensor,
    *,
    batch: int,
    frames: int,
    fps: float,
    predict: Callable[[], torch.Tensor],
    sliding: Callable[[SlidingEmotion], torch.Tensor],
    first_frame: int = 0,
) -> torch.Tensor:
    """Per-frame weights ``(B, T, 7)`` of a specification for frames ``first_frame .. first_frame + T - 1``.

    Args:
        predict: returns the predicted soft label ``(B, 7)`` (called at most once, only if the spec needs it).
        sliding: returns the per-frame soft labels ``(B, T, 7)`` of a :class:`SlidingEmotion` (before intensity).
        first_frame: absolute index of the first frame (keyframe times are absolute).
    """
    if isinstance(spec, torch.Tensor):
        return broadcast_weights(spec, batch, frames)
    if isinstance(spec, SlidingEmotion):
        return with_intensity(sliding(spec), spec.intensity)
    predicted: list[torch.Tensor] = []

    def clip_weights(static: LabelEmotion | MixtureEmotion | PredictedEmotion) -> torch.Tensor:
        if not isinstance(static, PredictedEmotion):
            return static_weights(static, batch)
        if not predicted:
            predicted.append(predict())
        return with_intensity(predicted[0], static.intensity)

    if isinstance(spec, KeyframeEmotion):
        values = [clip_weights(k.emotion) for k in spec.keyframes]
        device = next((v.device for v in values if v.device.type != "cpu"), values[0].device)
        knots = torch.tensor([k.time * fps for k in spec.keyframes])
        positions = torch.arange(first_frame, first_frame + frames)
        return piecewise_linear(positions, knots, torch.stack([v.to(device) for v in values]))
    return clip_weights(spec)[:, None].expand(-1, frames, -1).clone()
