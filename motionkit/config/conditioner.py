"""Configuration of the Conditioner: audio features and emotion."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from motionkit.config._base import FrozenConfig


class MelEncoderConfig(FrozenConfig):
    """Light log-mel audio encoder (no pretrained weights)."""

    n_fft: int = Field(400, description="STFT size in samples (25 ms at 16 kHz).")
    hop_length: int = Field(160, description="STFT hop in samples (10 ms at 16 kHz).")
    n_mels: int = Field(80, description="Mel bands.")
    f_min: float = Field(0.0, description="Lowest mel filter edge in Hz.")
    f_max: float = Field(8000.0, description="Highest mel filter edge in Hz.")
    channels: int = Field(256, description="Width of the conv stack.")
    layers: int = Field(4, description="Number of conv layers.")
    kernel_size: int = Field(5, description="Temporal kernel size of each conv layer (frames).")


class ConditionerConfig(FrozenConfig):
    """Audio and emotion conditioning. Defaults are FLOAT's (wav2vec2-base, 12 layers x 768 -> 512)."""

    encoder: Literal["wav2vec2", "mel"] = Field("wav2vec2", description="Audio feature backbone.")
    sample_rate: int = Field(16000, description="Audio sample rate the encoders expect (Hz).")
    fps: float = Field(25.0, description="Frame rate of the produced conditions.")
    audio_dim: int = Field(512, description="Projected audio feature dimension Da.")
    wav2vec2_layers: int = Field(12, description="Transformer layers whose outputs are stacked.")
    wav2vec2_hidden: int = Field(768, description="wav2vec2 hidden size (stacked width = layers x hidden).")
    emotion_dim: int = Field(7, description="Number of emotion classes (FLOAT order).")
    norm_eps: float = Field(1e-7, description="Epsilon of the waveform zero-mean/unit-variance normalisation.")
    mel: MelEncoderConfig = Field(default_factory=MelEncoderConfig, description="Settings of the mel encoder.")

    @property
    def samples_per_frame(self) -> int:
        """Audio samples per video frame (FLOAT: 16000 / 25 = 640)."""
        return round(self.sample_rate / self.fps)
