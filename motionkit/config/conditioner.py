"""Configuration of the Conditioner: audio features and emotion."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig


class MelEncoderConfig(FrozenConfig):
    """Light log-mel audio encoder (no pretrained weights).

    Causal by construction: video frame ``t`` (samples ``[spf*t, spf*(t+1))``) sees the mel frames that end inside
    it, each reaching ``n_fft - hop_length`` samples back, and the causal conv stack adds
    ``layers * (kernel_size - 1)`` frames of left context.
    """

    n_fft: int = Field(400, gt=0, description="STFT size in samples (25 ms at 16 kHz).")
    hop_length: int = Field(160, gt=0, description="STFT hop in samples (10 ms at 16 kHz).")
    n_mels: int = Field(80, gt=0, description="Mel bands.")
    f_min: float = Field(0.0, ge=0.0, description="Lowest mel filter edge in Hz.")
    f_max: float = Field(8000.0, gt=0.0, description="Highest mel filter edge in Hz.")
    log_floor: float = Field(1e-5, gt=0.0, description="Added to the mel power before the log (silence floor).")
    channels: int = Field(256, gt=0, description="Width of the conv stack.")
    layers: int = Field(4, ge=1, description="Number of conv layers.")
    kernel_size: int = Field(5, ge=1, description="Temporal kernel size of each conv layer (frames).")

    @model_validator(mode="after")
    def _check(self) -> MelEncoderConfig:
        if self.n_fft < self.hop_length:
            raise ValueError(f"n_fft {self.n_fft} must be >= hop_length {self.hop_length}")
        if self.f_min >= self.f_max:
            raise ValueError(f"f_min {self.f_min} must be below f_max {self.f_max}")
        return self

    @property
    def receptive_field_frames(self) -> int:
        """Video frames of left context the conv stack sees besides the current one."""
        return self.layers * (self.kernel_size - 1)


class StreamConfig(FrozenConfig):
    """Defaults of :meth:`motionkit.Conditioner.stream` (all overridable per call)."""

    context_frames: int = Field(
        100, ge=0, description="Frames of already-emitted audio re-encoded as left context with each new block."
    )
    lookahead_frames: int = Field(
        0, ge=0, description="Frames of future audio awaited before a frame is emitted (adds this much latency)."
    )
    min_new_frames: int = Field(1, ge=1, description="Emit only when at least this many new frames are complete.")
    emotion_window_seconds: float = Field(
        2.0, gt=0.0, description="Trailing audio the emotion classifier sees when predicting while streaming."
    )


class ConditionerConfig(FrozenConfig):
    """Audio and emotion conditioning. Defaults are FLOAT's (wav2vec2-base, 12 layers x 768 -> 512)."""

    encoder: Literal["wav2vec2", "mel"] = Field("wav2vec2", description="Audio feature backbone.")
    sample_rate: int = Field(16000, gt=0, description="Audio sample rate the encoders expect (Hz).")
    fps: float = Field(25.0, gt=0.0, description="Frame rate of the produced conditions.")
    audio_dim: int = Field(512, gt=0, description="Projected audio feature dimension Da.")
    wav2vec2_layers: int = Field(12, ge=1, description="Transformer layers whose outputs are stacked (1..layers).")
    wav2vec2_hidden: int = Field(768, ge=1, description="wav2vec2 hidden size (stacked width = layers x hidden).")
    wav2vec2_features: Literal["stacked", "last"] = Field(
        "stacked",
        description="What the projection reads: 'stacked' = the outputs of the first wav2vec2_layers layers side by "
        "side (FLOAT), 'last' = the output of layer wav2vec2_layers alone (IMTalker's last hidden state).",
    )
    projection_eps: float = Field(1e-5, gt=0.0, description="LayerNorm epsilon of the audio projection.")
    emotion_dim: int = Field(7, description="Number of emotion classes (FLOAT order).")
    norm_eps: float = Field(1e-7, description="Epsilon of the waveform zero-mean/unit-variance normalisation.")
    window_frames: int | None = Field(
        None,
        ge=1,
        description="None: the whole clip in one wav2vec2 pass (FLOAT). Otherwise encode blocks of this many frames, "
        "each with window_context_frames of context on both sides (faster for long clips, not FLOAT-exact).",
    )
    window_context_frames: int = Field(100, ge=0, description="Context on each side of a block when windowed.")
    cnn_chunk_seconds: float | None = Field(
        10.0,
        gt=0.0,
        description="Longest audio the wav2vec2 conv feature encoder processes at once; longer clips are processed "
        "in exact chunks (two-pass GroupNorm statistics), bounding memory. None: never chunk.",
    )
    mel: MelEncoderConfig = Field(default_factory=MelEncoderConfig, description="Settings of the mel encoder.")
    stream: StreamConfig = Field(default_factory=StreamConfig, description="Defaults of streaming conditioning.")

    @model_validator(mode="after")
    def _check(self) -> ConditionerConfig:
        ratio = self.sample_rate / self.fps
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"sample_rate / fps = {ratio:g} must be a whole number of samples per frame "
                "(e.g. 16000 Hz at 25 fps = 640)"
            )
        if self.emotion_dim != 7:
            raise ValueError("emotion_dim must be 7: the classes are FLOAT's (angry ... surprise)")
        if self.encoder == "mel":
            if self.samples_per_frame % self.mel.hop_length:
                raise ValueError(
                    f"mel.hop_length {self.mel.hop_length} must divide the {self.samples_per_frame} samples per frame"
                )
            if self.mel.f_max > self.sample_rate / 2:
                raise ValueError(f"mel.f_max {self.mel.f_max} is above the Nyquist frequency {self.sample_rate / 2}")
        return self

    @property
    def samples_per_frame(self) -> int:
        """Audio samples per video frame (FLOAT: 16000 / 25 = 640)."""
        return round(self.sample_rate / self.fps)

    @property
    def stacked_dim(self) -> int:
        """Width of the wav2vec2 features the projection reads (FLOAT: 12 x 768 = 9216 stacked; 'last': 768)."""
        layers = self.wav2vec2_layers if self.wav2vec2_features == "stacked" else 1
        return layers * self.wav2vec2_hidden

    @property
    def cnn_chunk_samples(self) -> int | None:
        """``cnn_chunk_seconds`` in samples (None: never chunk)."""
        return None if self.cnn_chunk_seconds is None else round(self.cnn_chunk_seconds * self.sample_rate)

    def frames_for(self, num_samples: int) -> int:
        """Number of frames ``T = ceil(N * fps / sample_rate)`` for ``N`` samples (FLOAT's rule)."""
        return -(-num_samples // self.samples_per_frame)
