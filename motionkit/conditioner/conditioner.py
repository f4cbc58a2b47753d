"""The Conditioner: speech in, per-frame audio features and emotion weights out (FLOAT's conditioning signals)."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from motionkit.conditioner.audio_encoder import Wav2Vec2AudioEncoder
from motionkit.conditioner.backbone import group_norm_stats
from motionkit.conditioner.classifier import EmotionClassifier
from motionkit.conditioner.emotion import (
    EmotionInput,
    LabelEmotion,
    PredictedEmotion,
    SlidingEmotion,
    parse_emotion,
    resolve_emotion,
    sliding_prediction,
)
from motionkit.conditioner.folder import (
    EMOTION_FOLDER,
    WAV2VEC2_FOLDER,
    WEIGHTS_FILE,
    Backbones,
    backbone_path,
    read_manifest,
    read_weights,
    write_manifest,
    write_weights,
)
from motionkit.conditioner.frames import FrameEncoder, encode_in_blocks, pad_to_frames
from motionkit.conditioner.mel import MelAudioEncoder
from motionkit.conditioner.stream import ConditionStream, WaveformStats, stream_conditions
from motionkit.conditioner.wav2vec2 import load_wav2vec2, save_wav2vec2
from motionkit.config.conditioner import ConditionerConfig
from motionkit.errors import AudioError, CheckpointError, ConfigError, ShapeError
from motionkit.io.audio import AudioSource, load_audio, normalize_waveform
from motionkit.io.files import make_folder
from motionkit.types import Conditions
from motionkit.validation import check_keys, raise_for_keys

if TYPE_CHECKING:
    from transformers import Wav2Vec2Model


class DefaultEmotionWarning(UserWarning):
    """No emotion was given and no classifier is loaded, so the neutral label is used."""


class Conditioner(nn.Module):
    """Speech -> :class:`~motionkit.types.Conditions` ``(audio (B, T, Da), emotion (B, T, 7))`` at ``config.fps``.

    ``T = ceil(N * fps / sample_rate)`` frames for ``N`` samples at the model rate (FLOAT's rule; 16 kHz / 25 fps:
    frame ``t`` covers samples ``[640 t, 640 (t + 1))``).

    Owns the audio encoder — FLOAT's frozen wav2vec2 + trainable projection (``config.encoder == "wav2vec2"``) or the
    trainable log-mel encoder (``"mel"``) — and optionally the frozen speech-emotion classifier. The pretrained
    backbones stay in eval mode when the conditioner is put in training mode. Submodule names follow FLOAT's
    checkpoint: ``audio_encoder.audio_projection.{0,1}.*`` and ``audio_encoder.wav2vec2.*``.

    Args:
        config: the conditioner configuration (default: FLOAT's).
        wav2vec2: the wav2vec2 backbone, required for ``encoder="wav2vec2"`` (see :meth:`from_pretrained`,
            :meth:`from_float` and :func:`motionkit.conditioner.load_wav2vec2` to get one from a folder).
        emotion: the speech-emotion classifier (optional; without it, predicted emotions are unavailable and
            ``emotion=None`` means neutral).

    Example::

        conditioner = Conditioner.from_pretrained("checkpoints/float-512/conditioner")
        conditions = conditioner("speech.mp3", emotion=("happy", 0.7))
        conditions.audio.shape, conditions.emotion.shape   # (1, T, 512), (1, T, 7)
    """

    def __init__(
        self,
        config: ConditionerConfig | None = None,
        *,
        wav2vec2: Wav2Vec2Model | None = None,
        emotion: EmotionClassifier | None = None,
    ) -> None:
        super().__init__()
        self.config = config = ConditionerConfig() if config is None else config
        self.audio_encoder: Wav2Vec2AudioEncoder | MelAudioEncoder
        if config.encoder == "wav2vec2":
            if wav2vec2 is None:
                raise ConfigError(
                    "a wav2vec2 conditioner needs the wav2vec2 model: use Conditioner.from_pretrained(folder), "
                    "motionkit.families.float.conditioner_from_official(state_dict, wav2vec2_dir), or pass "
                    "wav2vec2=load_wav2vec2(folder); "
                    'for a model without pretrained weights use ConditionerConfig(encoder="mel").'
                )
            self.audio_encoder = Wav2Vec2AudioEncoder(wav2vec2, config)
        else:
            if wav2vec2 is not None:
                raise ConfigError('wav2vec2= was given but config.encoder is "mel"; drop one of the two.')
            self.audio_encoder = MelAudioEncoder(config)
        if emotion is not None and not isinstance(emotion, EmotionClassifier):
            raise ConfigError(f"emotion must be an EmotionClassifier, got {type(emotion).__name__}.")
        self.emotion_classifier = emotion
        self._warned_default_emotion = False

    # ----------------------------------------------------------------------------------------------------------
    # Properties and modes

    @property
    def device(self) -> torch.device:
        return next(self.audio_encoder.audio_projection.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.audio_encoder.audio_projection.parameters()).dtype

    @property
    def fps(self) -> float:
        return self.config.fps

    @property
    def sample_rate(self) -> int:
        """Rate (Hz) of the waveforms the conditioner encodes; other rates are resampled to it."""
        return self.config.sample_rate

    @property
    def predicts_emotion(self) -> bool:
        """Whether ``emotion=None`` is predicted from speech (a classifier is loaded) rather than neutral."""
        return self.emotion_classifier is not None

    def frames_for(self, num_samples: int) -> int:
        """``T = ceil(N * fps / sample_rate)`` for ``N`` samples at the model rate."""
        return self.config.frames_for(num_samples)

    # ----------------------------------------------------------------------------------------------------------
    # Inference

    def forward(
        self, audio: AudioSource, emotion: EmotionInput = None, *, sample_rate: int | None = None
    ) -> Conditions:
        """Conditions for a clip or a batch of clips.

        Args:
            audio: a file path (audio or video), or samples: ``(N,)`` one clip, ``(B, N)`` a batch of mono clips of
                equal length (numpy array or tensor; integer PCM is scaled). Multi-channel arrays: mix them first
                with :func:`motionkit.io.load_audio`. Each clip is normalised on its own (zero mean, unit variance).
            emotion: see :mod:`motionkit.conditioner.emotion` — ``None`` (predicted soft label, or neutral without
                a classifier), a label, ``(label, intensity)``, a specification, a dict, or weights.
            sample_rate: the rate of array/tensor input in Hz (default: ``config.sample_rate``, i.e. no
                resampling); files carry their own rate.

        Returns:
            ``Conditions(audio (B, T, audio_dim), emotion (B, T, 7), fps)``.
        """
        waveform = self.prepare(audio, sample_rate)
        features = self.encode_audio(waveform)
        weights = self.emotion_weights(emotion, waveform, features.shape[1])
        return Conditions(features, weights.to(features.dtype), self.config.fps)

    def prepare(self, audio: AudioSource, sample_rate: int | None = None) -> torch.Tensor:
        """Load, resample to ``config.sample_rate``, and normalise: ``(B, N)`` float tensor on the module's device."""
        rate = self.config.sample_rate
        if isinstance(audio, (str, Path)):
            clips = [load_audio(audio, sample_rate, rate)]
        elif isinstance(audio, (np.ndarray, torch.Tensor)):
            source_rate = rate if sample_rate is None else sample_rate
            if audio.ndim == 1:
                clips = [load_audio(audio, source_rate, rate)]
            elif audio.ndim == 2 and audio.shape[0] >= 1:
                clips = [load_audio(row, source_rate, rate) for row in audio]
            else:
                raise ShapeError(
                    f"audio samples must be (N,) or (B, N), got shape {tuple(audio.shape)}; mix multi-channel "
                    "audio first with motionkit.io.load_audio(array, sample_rate)."
                )
        else:
            raise AudioError(
                f"cannot condition on a {type(audio).__name__}; pass a file path, a numpy array or a torch tensor."
            )
        self._check_length(clips[0].shape[0])
        normalised = np.stack([normalize_waveform(clip, self.config.norm_eps) for clip in clips])
        return torch.from_numpy(normalised).to(device=self.device, dtype=self.dtype)

    def _check_length(self, num_samples: int) -> None:
        spf, rate = self.config.samples_per_frame, self.config.sample_rate
        if num_samples < spf:
            raise AudioError(
                f"the audio is {num_samples} samples ({1000 * num_samples / rate:.1f} ms) long at {rate} Hz; at "
                f"least one frame ({spf} samples, {1000 * spf / rate:.0f} ms) is needed. Give a longer clip."
            )

    def encode_audio(self, waveform: torch.Tensor) -> torch.Tensor:
        """Audio features ``(B, T, audio_dim)`` of normalised waveforms ``(B, N)`` (see :meth:`prepare`).

        The whole clip in one pass (FLOAT), or in blocks of ``config.window_frames`` with
        ``config.window_context_frames`` of context each side; blocks share the whole clip's first-layer GroupNorm
        statistics, so they differ from the one-pass features only through the transformer's limited context.
        """
        if waveform.ndim != 2 or waveform.shape[-1] < self.config.samples_per_frame:
            raise ShapeError(
                f"waveform must be (B, N) with N >= {self.config.samples_per_frame}, got {tuple(waveform.shape)}."
            )
        frames = self.frames_for(waveform.shape[-1])
        if self.config.window_frames is None:
            return self.audio_encoder(waveform, frames)
        spf = self.config.samples_per_frame
        padded = pad_to_frames(waveform, frames, spf)
        encode: FrameEncoder = self.audio_encoder
        if isinstance(self.audio_encoder, Wav2Vec2AudioEncoder):
            with torch.no_grad():
                stats = group_norm_stats(self.audio_encoder.wav2vec2, padded, self.config.cnn_chunk_samples)
            encode = functools.partial(self.audio_encoder, group_stats=stats)
        return encode_in_blocks(encode, padded, spf, self.config.window_frames, self.config.window_context_frames)

    def predict_emotion(self, waveform: torch.Tensor) -> torch.Tensor:
        """FLOAT's soft emotion label ``(B, 7)`` of normalised, unpadded waveforms ``(B, N)``."""
        classifier = self.require_classifier("predict the emotion from speech")
        return classifier(waveform.to(self.device), self.config.cnn_chunk_samples)

    def require_classifier(self, purpose: str) -> EmotionClassifier:
        """The emotion classifier, or a :class:`ConfigError` saying how to load one (``purpose`` for the message)."""
        if self.emotion_classifier is None:
            raise ConfigError(
                f"no speech-emotion classifier is loaded, so motionkit cannot {purpose}. Load one "
                "(Conditioner.from_pretrained(..., emotion_dir=...) or "
                "conditioner_from_official(..., emotion_dir=...)) or give an explicit emotion such as 'neutral' or "
                "('happy', 0.5)."
            )
        return self.emotion_classifier

    def emotion_weights(self, emotion: EmotionInput, waveform: torch.Tensor, frames: int) -> torch.Tensor:
        """Per-frame emotion weights ``(B, T, 7)`` for normalised, unpadded waveforms ``(B, N)``."""
        spec = self.default_emotion(parse_emotion(emotion))
        if isinstance(spec, torch.Tensor):
            spec = spec.to(self.device)

        def sliding(window: SlidingEmotion) -> torch.Tensor:
            classifier = self.require_classifier("predict a sliding-window emotion")
            rate = self.config.sample_rate
            return sliding_prediction(
                lambda w: classifier(w, self.config.cnn_chunk_samples),
                waveform,
                frames,
                self.config.samples_per_frame,
                round(window.window_seconds * rate),
                max(1, round(window.hop_seconds * rate)),
            )

        weights = resolve_emotion(
            spec,
            batch=waveform.shape[0],
            frames=frames,
            fps=self.config.fps,
            predict=lambda: self.predict_emotion(waveform),
            sliding=sliding,
        )
        return weights.to(self.device)

    def default_emotion(self, spec: Any) -> Any:
        """``spec``, or for ``None``: the prediction with a classifier, else neutral (warning once per instance)."""
        if spec is not None:
            return spec
        if self.emotion_classifier is not None:
            return PredictedEmotion()
        if not self._warned_default_emotion:
            warnings.warn(
                "no emotion given and no emotion classifier loaded: using the neutral label for every frame. "
                "Pass emotion='neutral' to silence this warning, or load a classifier to predict it from speech.",
                DefaultEmotionWarning,
                stacklevel=3,
            )
            self._warned_default_emotion = True
        return LabelEmotion(label="neutral")

    def stream(
        self,
        chunks: Iterable[np.ndarray | torch.Tensor],
        emotion: EmotionInput = None,
        *,
        stats: WaveformStats | None = None,
        context_frames: int | None = None,
        lookahead_frames: int | None = None,
        min_new_frames: int | None = None,
    ) -> Iterator[Conditions]:
        """Conditions for new frames as audio arrives (one clip, batch 1).

        Frame ``t`` is emitted once the samples up to the end of frame ``t + lookahead_frames`` have arrived; each
        emission re-encodes ``context_frames`` already-emitted frames as left context. When ``chunks`` ends, the
        remaining (partial) frames are emitted with FLOAT's replicate padding, so the frame count equals the
        whole-clip count ``ceil(N / spf)``. The mel encoder is exact (equal to whole-clip features) once
        ``context_frames > config.mel.receptive_field_frames``; wav2vec2 attends over the whole clip in FLOAT, so
        streamed wav2vec2 features are an approximation whose error ``docs/conditioner.md`` tabulates against
        ``context_frames`` and ``lookahead_frames``.

        Args:
            chunks: 1-D sample arrays/tensors at ``config.sample_rate`` (resample beforehand), any lengths.
            emotion: as in :meth:`forward`, except that per-frame tensors are not accepted. Predicted and sliding
                emotions use the classifier on the trailing ``config.stream.emotion_window_seconds`` (sliding:
                ``window_seconds``) of audio at each emission; keyframes use absolute times.
            stats: waveform mean/variance to normalise with (e.g. ``WaveformStats.of(whole_clip)``); default: the
                running statistics of everything received so far.
            context_frames, lookahead_frames, min_new_frames: override ``config.stream``.

        Yields:
            ``Conditions`` with ``(1, n, audio_dim)`` audio and ``(1, n, 7)`` emotion for the next ``n`` frames.
        """
        settings = self.config.stream
        return stream_conditions(
            self,
            chunks,
            emotion,
            stats=stats,
            context_frames=settings.context_frames if context_frames is None else context_frames,
            lookahead_frames=settings.lookahead_frames if lookahead_frames is None else lookahead_frames,
            min_new_frames=settings.min_new_frames if min_new_frames is None else min_new_frames,
        )

    def live(
        self,
        emotion: EmotionInput = None,
        *,
        stats: WaveformStats | None = None,
        context_frames: int | None = None,
        lookahead_frames: int | None = None,
        prior: WaveformStats | None = None,
        prior_seconds: float = 0.0,
    ) -> ConditionStream:
        """Conditions pushed by the caller as audio arrives (one clip, batch 1): the push-driven form of
        :meth:`stream`, emitting every frame as soon as it is complete.

        ``stream.push(samples)`` returns the conditions of the frames the samples complete (frame ``t`` once the
        samples up to the end of frame ``t + lookahead_frames`` are in) or None; ``stream.finish()`` the rest. It
        is causal with that lookahead: the mel encoder needs none (its features equal the whole clip's once
        ``context_frames > config.mel.receptive_field_frames``, given the same normalisation), wav2vec2's error
        against ``context_frames`` and ``lookahead_frames`` is tabulated in ``docs/conditioner.md``. ``prior``
        (with running statistics): the waveform moments assumed before any audio, weighted as ``prior_seconds`` of
        audio (see :class:`~motionkit.conditioner.stream.ConditionStream`). Other arguments as in :meth:`stream`.
        """
        settings = self.config.stream
        return ConditionStream(
            self,
            emotion,
            stats=stats,
            context_frames=settings.context_frames if context_frames is None else context_frames,
            lookahead_frames=settings.lookahead_frames if lookahead_frames is None else lookahead_frames,
            min_new_frames=1,
            prior=prior,
            prior_samples=round(prior_seconds * self.config.sample_rate),
        )

    # ----------------------------------------------------------------------------------------------------------
    # Checkpoints

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The trainable parameters (``state_dict()`` names), i.e. everything except the pretrained backbones."""
        frozen = (*(f"audio_encoder.{p}" for p in self.audio_encoder.frozen_prefixes), "emotion_classifier.")
        return {k: v.detach() for k, v in self.state_dict().items() if not k.startswith(frozen)}

    def load_trainable_state_dict(self, state_dict: Mapping[str, torch.Tensor], source: str = "state dict") -> None:
        """Load the trainable parameters, requiring every one of them with the right shape."""
        expected = {name: tuple(tensor.shape) for name, tensor in self.trainable_state_dict().items()}
        raise_for_keys(
            check_keys(state_dict, expected),
            f"{source} does not match this conditioner ({self.config.encoder} encoder, audio_dim "
            f"{self.config.audio_dim})",
            "Build the conditioner with the ConditionerConfig the weights were saved with.",
        )
        result = self.load_state_dict(dict(state_dict), strict=False)
        assert not result.unexpected_keys  # checked above

    def save_pretrained(self, folder: str | Path, *, include_backbones: bool = True) -> Path:
        """Write the conditioner as a folder loadable by :meth:`from_pretrained` (see
        :mod:`motionkit.conditioner.folder`).

        ``conditioner.safetensors`` holds :meth:`trainable_state_dict`; with ``include_backbones`` the sub-folders
        ``wav2vec2/`` and ``emotion/`` hold the backbones (Hugging Face layout, ``weight_g``/``weight_v`` names).
        Without them, :meth:`from_pretrained` needs ``wav2vec2_dir=`` (and ``emotion_dir=``). Every file is written
        atomically and ``config.json`` last, so an interrupted save leaves no loadable half-folder.
        """
        folder = Path(folder)
        make_folder(folder)
        write_weights(folder, self.trainable_state_dict())
        backbones: Backbones = {WAV2VEC2_FOLDER: None, EMOTION_FOLDER: None}
        if include_backbones and isinstance(self.audio_encoder, Wav2Vec2AudioEncoder):
            save_wav2vec2(self.audio_encoder.wav2vec2, folder / WAV2VEC2_FOLDER)
            backbones[WAV2VEC2_FOLDER] = WAV2VEC2_FOLDER
        if include_backbones and self.emotion_classifier is not None:
            self.emotion_classifier.save(folder / EMOTION_FOLDER)
            backbones[EMOTION_FOLDER] = EMOTION_FOLDER
        write_manifest(folder, self.config, backbones)
        return folder

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path,
        *,
        wav2vec2_dir: str | Path | None = None,
        emotion_dir: str | Path | None = None,
    ) -> Conditioner:
        """Load a folder written by :meth:`save_pretrained`, offline.

        ``wav2vec2_dir`` / ``emotion_dir`` override (or supply, when saved without backbones) the Hugging Face
        folders.
        """
        folder = Path(folder)
        config, backbones = read_manifest(folder)
        wav2vec2_path = backbone_path(folder, backbones[WAV2VEC2_FOLDER], wav2vec2_dir)
        emotion_path = backbone_path(folder, backbones[EMOTION_FOLDER], emotion_dir)
        if config.encoder == "wav2vec2" and wav2vec2_path is None:
            raise CheckpointError(
                f"{folder} was saved without its wav2vec2 backbone; pass wav2vec2_dir= (the folder of "
                "facebook/wav2vec2-base-960h or the model's own wav2vec2 folder)."
            )
        conditioner = cls(
            config,
            wav2vec2=None if wav2vec2_path is None or config.encoder != "wav2vec2" else load_wav2vec2(wav2vec2_path),
            emotion=None if emotion_path is None else EmotionClassifier.from_folder(emotion_path),
        )
        weights = read_weights(folder)
        conditioner.load_trainable_state_dict(weights, str(folder / WEIGHTS_FILE))
        return conditioner
