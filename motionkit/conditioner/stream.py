"""Streaming conditioning: conditions for new frames as audio chunks arrive, with left context and lookahead.

Bookkeeping (``spf`` samples per frame, ``C`` context frames, ``A`` lookahead frames): after ``M`` samples have
arrived, frames ``[emitted, floor(M / spf) - A)`` are complete. They are encoded from the window of frames
``[max(0, emitted - C), floor(M / spf))`` — ``C`` frames already emitted as left context, the new frames, ``A``
frames of lookahead — and only the new frames are kept. When the chunks end, the remaining frames up to
``ceil(M / spf)`` are encoded with the clip's tail replicate-padded, as in the whole-clip path.

Normalisation needs the clip's mean and variance, which a stream does not know in advance: by default the running
statistics of all samples received so far are used (they converge to the clip's); pass fixed ones for a known level.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from motionkit.conditioner.audio_encoder import Wav2Vec2AudioEncoder
from motionkit.conditioner.backbone import RunningGroupStats, first_group_norm
from motionkit.conditioner.emotion import (
    EmotionInput,
    EmotionSpec,
    KeyframeEmotion,
    PredictedEmotion,
    SlidingEmotion,
    parse_emotion,
    resolve_emotion,
)
from motionkit.errors import AudioError, ConfigError, ShapeError
from motionkit.types import EMOTION_LABELS, Conditions

if TYPE_CHECKING:
    from motionkit.conditioner.conditioner import Conditioner


@dataclass(frozen=True)
class WaveformStats:
    """Mean and population variance of a waveform, used as ``(x - mean) / sqrt(variance + eps)``."""

    mean: float
    variance: float

    @classmethod
    def of(cls, waveform: np.ndarray | torch.Tensor) -> WaveformStats:
        """Statistics of a whole waveform (computed in float64)."""
        samples = waveform.detach().cpu().double().numpy() if isinstance(waveform, torch.Tensor) else waveform
        samples = np.asarray(samples, dtype=np.float64).reshape(-1)
        if samples.size == 0:
            raise AudioError("cannot compute statistics of an empty waveform.")
        return cls(float(samples.mean()), float(samples.var()))

    def normalize(self, samples: np.ndarray, eps: float) -> np.ndarray:
        """``(samples - mean) / sqrt(variance + eps)`` as float32."""
        scale = 1.0 / np.sqrt(self.variance + eps)
        return ((samples.astype(np.float64) - self.mean) * scale).astype(np.float32)


class _RunningStats:
    """Sum and sum of squares of every sample seen (float64)."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.squares = 0.0

    def update(self, samples: np.ndarray) -> None:
        values = samples.astype(np.float64)
        self.count += values.size
        self.total += float(values.sum())
        self.squares += float(np.square(values).sum())

    def current(self, prior: WaveformStats | None = None, prior_samples: int = 0) -> WaveformStats:
        """The moments of the samples seen; with a ``prior``, those of the samples seen plus ``prior_samples``
        samples with the prior's moments (so the estimate starts at the prior and tends to the signal's)."""
        count = self.count + (prior_samples if prior is not None else 0)
        total, squares = self.total, self.squares
        if prior is not None:
            total += prior_samples * prior.mean
            squares += prior_samples * (prior.variance + prior.mean * prior.mean)
        mean = total / count
        return WaveformStats(mean, max(squares / count - mean * mean, 0.0))


def stream_conditions(
    conditioner: Conditioner,
    chunks: Iterable[np.ndarray | torch.Tensor],
    emotion: EmotionInput,
    *,
    stats: WaveformStats | None,
    context_frames: int,
    lookahead_frames: int,
    min_new_frames: int,
) -> Iterator[Conditions]:
    """See :meth:`motionkit.Conditioner.stream`. Arguments are validated before the first chunk is read."""
    stream = ConditionStream(
        conditioner,
        emotion,
        stats=stats,
        context_frames=context_frames,
        lookahead_frames=lookahead_frames,
        min_new_frames=min_new_frames,
    )
    return stream.run(chunks)


class ConditionStream:
    """Push-driven streaming conditioning (see the module docstring): :meth:`push` samples as they arrive, then
    :meth:`finish`. :meth:`motionkit.Conditioner.live` builds one; :meth:`motionkit.Conditioner.stream` drives one
    from an iterable.

    Args:
        conditioner: the conditioner whose encoders and emotion model are used.
        emotion: as in :meth:`motionkit.Conditioner.stream` (no per-frame tensors).
        stats: fixed waveform statistics, or None for the running statistics of the samples received.
        context_frames, lookahead_frames, min_new_frames: ``C``, ``A`` and the smallest emission.
        prior: with running statistics, the moments assumed before any audio (e.g. a typical speech level), counted
            as ``prior_samples`` samples: the estimate starts there instead of at the first few samples (a stream
            that starts in near-silence would otherwise amplify its noise to the level of speech).
        prior_samples: the weight of ``prior`` in samples.

    Attributes:
        received: samples received.
        emitted: frames emitted.
    """

    def __init__(
        self,
        conditioner: Conditioner,
        emotion: EmotionInput,
        *,
        stats: WaveformStats | None,
        context_frames: int,
        lookahead_frames: int,
        min_new_frames: int,
        prior: WaveformStats | None = None,
        prior_samples: int = 0,
    ) -> None:
        for name, value, least in (
            ("context_frames", context_frames, 0),
            ("lookahead_frames", lookahead_frames, 0),
            ("min_new_frames", min_new_frames, 1),
            ("prior_samples", prior_samples, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}.")
        config = conditioner.config
        self.conditioner = conditioner
        self.spec = stream_emotion(conditioner, emotion)
        self.fixed_stats = stats
        self.prior = prior
        self.prior_samples = prior_samples
        self.running = _RunningStats()
        self.context = context_frames
        self.lookahead = lookahead_frames
        self.min_new_frames = min_new_frames
        self.spf = config.samples_per_frame
        self.eps = config.norm_eps
        self.rate = config.sample_rate
        self.emotion_window = self._emotion_window(self.spec)
        encoder = conditioner.audio_encoder
        group = first_group_norm(encoder.wav2vec2) if isinstance(encoder, Wav2Vec2AudioEncoder) else None
        self.group_stats = None if group is None else RunningGroupStats(*group)
        self.buffer = np.zeros(0, dtype=np.float32)
        self.buffer_start = 0  # absolute index of buffer[0]
        self.received = 0
        self.emitted = 0

    def set_emotion(self, emotion: EmotionInput) -> None:
        """Condition the frames emitted from now on with ``emotion`` (validated as in the constructor; on an error
        nothing changes). Keyframe times stay absolute: second ``s`` is frame ``s * fps`` of the stream.

        Raises:
            ConfigError / ShapeError: an invalid emotion, or one that needs the classifier this model lacks.
        """
        spec = stream_emotion(self.conditioner, emotion)
        # a longer emotion window than before reads what audio is left and fills up as more arrives
        self.spec = spec
        self.emotion_window = self._emotion_window(spec)

    def emotion_weights(self, start: int, stop: int) -> torch.Tensor:
        """``(1, stop - start, 7)``: the current emotion of frames ``[start, stop)`` (absolute frame numbers)."""
        return self._emotion(start, stop)

    def _emotion_window(self, spec: EmotionSpec | torch.Tensor) -> int:
        """Samples of trailing audio an emotion prediction reads (a sliding emotion's own window)."""
        config = self.conditioner.config
        seconds = spec.window_seconds if isinstance(spec, SlidingEmotion) else config.stream.emotion_window_seconds
        return round(seconds * config.sample_rate)

    def run(self, chunks: Iterable[np.ndarray | torch.Tensor]) -> Iterator[Conditions]:
        """Conditions while iterating over ``chunks``, then the rest (:meth:`finish`)."""
        for chunk in chunks:
            conditions = self.push(chunk)
            if conditions is not None:
                yield conditions
        last = self.finish()
        if last is not None:
            yield last

    def push(self, chunk: np.ndarray | torch.Tensor) -> Conditions | None:
        """Add 1-D samples at the model rate (any length); returns the conditions of the frames they complete
        (frame ``t`` once the samples up to the end of frame ``t + A`` are in), or None while fewer than
        ``min_new_frames`` frames are ready. The chunk is validated (dtype, shape, finite) before anything changes.
        """
        samples = chunk_samples(chunk)
        if samples.size == 0:
            return None
        self.buffer = np.concatenate([self.buffer, samples])
        self.received += samples.size
        self.running.update(samples)
        if self.group_stats is not None:
            self.group_stats.update(torch.from_numpy(samples))
        ready = self.received // self.spf - self.lookahead
        if ready - self.emitted >= self.min_new_frames:
            return self._emit(self.emitted, ready, self.received // self.spf)
        return None

    def finish(self) -> Conditions | None:
        """End of the audio: the remaining frames up to ``ceil(received / spf)``, the tail replicate-padded as in
        the whole-clip path (None when every frame was emitted).

        Raises:
            AudioError: fewer samples than one frame arrived in all.
        """
        if self.received < self.spf:
            raise AudioError(
                f"the stream ended after {self.received} samples; at least one frame ({self.spf} samples) is needed."
            )
        total_frames = -(-self.received // self.spf)
        if self.emitted < total_frames:
            return self._emit(self.emitted, total_frames, total_frames)
        return None

    def _stats(self) -> WaveformStats:
        return self.fixed_stats or self.running.current(self.prior, self.prior_samples)

    def _normalised(self, start: int, stop: int) -> torch.Tensor:
        """Normalised samples ``[start, stop)`` (absolute indices) as ``(1, n)`` on the conditioner's device."""
        stats = self._stats()
        samples = self.buffer[start - self.buffer_start : stop - self.buffer_start]
        tensor = torch.from_numpy(stats.normalize(samples, self.eps))[None]
        return tensor.to(device=self.conditioner.device, dtype=self.conditioner.dtype)

    def _emit(self, start: int, stop: int, window_stop: int) -> Conditions:
        left = max(0, start - self.context)
        waveform = self._normalised(left * self.spf, min(window_stop * self.spf, self.received))
        encoder = self.conditioner.audio_encoder
        with torch.no_grad():
            if isinstance(encoder, Wav2Vec2AudioEncoder) and self.group_stats is not None:
                stats = self._stats()
                running = self.group_stats
                padding = window_stop * self.spf - self.received
                if padding > 0:  # the end of the clip: FLOAT's statistics include the replicate padding
                    last = torch.from_numpy(self.buffer[-1:]).expand(padding)
                    running = running.extended(last)
                group = running.stats(stats.mean, float(np.sqrt(stats.variance + self.eps)))
                features = encoder(waveform, window_stop - left, group)
            else:
                features = encoder(waveform, window_stop - left)
        features = features[:, start - left : stop - left]
        weights = self._emotion(start, stop).to(device=features.device, dtype=features.dtype)
        self.emitted = stop
        self._trim()
        return Conditions(features, weights, self.conditioner.config.fps)

    def _trailing_prediction(self) -> torch.Tensor:
        start = max(self.buffer_start, self.received - self.emotion_window)
        return self.conditioner.predict_emotion(self._normalised(start, self.received))

    def _emotion(self, start: int, stop: int) -> torch.Tensor:
        """Weights ``(1, stop - start, 7)``; predictions come from the trailing audio window."""
        frames = stop - start
        return resolve_emotion(
            self.spec,
            batch=1,
            frames=frames,
            fps=self.conditioner.config.fps,
            predict=self._trailing_prediction,
            sliding=lambda _: self._trailing_prediction()[:, None].expand(-1, frames, -1),
            first_frame=start,
        )

    def _trim(self) -> None:
        """Drop samples no later emission can need (left context and the emotion window)."""
        keep_from = min((self.emitted - self.context) * self.spf, self.received - self.emotion_window)
        keep_from = max(keep_from, self.buffer_start)
        if keep_from > self.buffer_start:
            self.buffer = self.buffer[keep_from - self.buffer_start :].copy()
            self.buffer_start = keep_from


def stream_emotion(conditioner: Conditioner, emotion: EmotionInput) -> EmotionSpec | torch.Tensor:
    """The emotion specification a stream runs (the model's default filled in), or a clear error: weights must be
    one ``(7,)`` / ``(1, 7)`` vector (keyframes change over time), and a predicted emotion needs the classifier."""
    spec: EmotionSpec | torch.Tensor = conditioner.default_emotion(parse_emotion(emotion))
    if isinstance(spec, torch.Tensor):
        if spec.shape not in ((len(EMOTION_LABELS),), (1, len(EMOTION_LABELS))):
            raise ShapeError(
                f"streaming takes emotion weights of shape (7,) or (1, 7), got {tuple(spec.shape)}; "
                "use a KeyframeEmotion for emotions that change over time."
            )
    elif isinstance(spec, (PredictedEmotion, SlidingEmotion)) or (
        isinstance(spec, KeyframeEmotion) and any(isinstance(k.emotion, PredictedEmotion) for k in spec.keyframes)
    ):
        conditioner.require_classifier("predict the emotion while streaming")
    return spec


def chunk_samples(chunk: np.ndarray | torch.Tensor) -> np.ndarray:
    """A stream chunk as float32 samples (a new array), or a clear error for a wrong type, shape, dtype or value."""
    if isinstance(chunk, torch.Tensor):
        chunk = chunk.detach().cpu().numpy()
    if not isinstance(chunk, np.ndarray):
        raise AudioError(f"stream chunks must be numpy arrays or tensors, got {type(chunk).__name__}.")
    if chunk.ndim != 1:
        raise ShapeError(
            f"stream chunks must be 1-D mono samples at the model rate, got shape {chunk.shape}; mix and resample "
            "first (motionkit.io.load_audio)."
        )
    if not np.issubdtype(chunk.dtype, np.floating):
        raise AudioError(f"stream chunks must hold float samples, got dtype {chunk.dtype}.")
    samples = chunk.astype(np.float32)
    if not np.isfinite(samples).all():
        raise AudioError("a stream chunk contains NaN or infinite samples; clean the signal first.")
    return samples
