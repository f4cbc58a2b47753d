"""Light audio encoder: log-mel features and a small causal conv stack, trainable from scratch.

Frame alignment is the wav2vec2 path's: ``T = ceil(N / spf)`` frames, frame ``t`` covering samples
``[spf*t, spf*(t+1))``, the waveform replicate-padded to ``T * spf``. With ``r = spf / hop`` (4 at the defaults)::

    x      = [0] * (n_fft - hop) ++ a'                       # causal left padding (silence)
    M[k]   = log(mel_fb @ |STFT(x)[k]|^2 + floor)           # K = r T mel frames; frame k ends at sample hop (k+1)
    f[t]   = [M[rt] | M[rt+1] | ... | M[rt+r-1]]            # (r * n_mels); all end inside video frame t
    h_0    = GELU(CausalConv(f))                            # kernel k, left padding k-1
    h_i    = h_{i-1} + GELU(CausalConv(h_{i-1}))            # i = 1 .. layers-1
    w_a    = SiLU(LayerNorm(Linear(h)))                     # (B, T, audio_dim), like FLOAT's projection

Receptive field: video frame ``t`` depends on samples ``[spf*(t - L*(k-1)) - (n_fft - hop), spf*(t+1))`` only —
``L*(k-1)`` frames (``config.mel.receptive_field_frames``; 16 frames = 0.64 s at the defaults) plus
``n_fft - hop`` samples (15 ms) of left context and no lookahead. Streaming with at least that much left context
reproduces whole-clip features exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from motionkit.conditioner.audio_encoder import projection_head
from motionkit.conditioner.frames import pad_to_frames
from motionkit.config.conditioner import ConditionerConfig, MelEncoderConfig


def hz_to_mel(freq: torch.Tensor) -> torch.Tensor:
    """HTK mel scale ``m = 2595 log10(1 + f / 700)``."""
    return 2595.0 * torch.log10(1.0 + freq / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (torch.pow(10.0, mel / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float, f_max: float) -> torch.Tensor:
    """Triangular HTK-mel filters ``(n_mels, n_freqs)`` over the bins of a one-sided spectrum (no area norm).

    Filter ``m`` rises linearly from edge ``f_m`` to ``f_{m+1}`` (value 1) and falls to ``f_{m+2}``, with
    ``n_mels + 2`` edges equally spaced on the mel scale between ``f_min`` and ``f_max``.
    """
    freqs = torch.linspace(0.0, sample_rate / 2, n_freqs, dtype=torch.float64)
    edges = mel_to_hz(
        torch.linspace(
            float(hz_to_mel(torch.tensor(f_min))), float(hz_to_mel(torch.tensor(f_max))), n_mels + 2
        ).double()
    )
    widths = edges[1:] - edges[:-1]
    offsets = edges[None, :] - freqs[:, None]
    rising = -offsets[:, :-2] / widths[:-1]
    falling = offsets[:, 2:] / widths[1:]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).T.to(torch.float32).contiguous()


class LogMel(nn.Module):
    """``log(mel_fb @ |STFT(x)|^2 + floor)``: ``(B, S) -> (B, n_mels, (S - n_fft) // hop + 1)``, Hann window."""

    def __init__(self, config: MelEncoderConfig, sample_rate: int) -> None:
        super().__init__()
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.floor = config.log_floor
        # Derived from the config, so not part of the checkpoint.
        self.window: torch.Tensor
        self.filterbank: torch.Tensor
        self.register_buffer("window", torch.hann_window(config.n_fft, periodic=True), persistent=False)
        fb = mel_filterbank(config.n_fft // 2 + 1, config.n_mels, sample_rate, config.f_min, config.f_max)
        self.register_buffer("filterbank", fb, persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(
            waveform,
            self.n_fft,
            hop_length=self.hop_length,
            window=self.window.to(waveform.dtype),
            center=False,
            return_complex=True,
        )
        power = spectrum.real.square() + spectrum.imag.square()
        return torch.log(torch.matmul(self.filterbank.to(power.dtype), power) + self.floor)


class MelAudioEncoder(nn.Module):
    """Trainable log-mel + causal conv encoder ``(B, N) -> (B, T, audio_dim)`` (no pretrained weights)."""

    frozen_prefixes: tuple[str, ...] = ()

    def __init__(self, config: ConditionerConfig) -> None:
        super().__init__()
        mel = config.mel
        self.samples_per_frame = config.samples_per_frame
        self.mels_per_frame = config.samples_per_frame // mel.hop_length
        self.left_pad = mel.n_fft - mel.hop_length
        self.kernel_size = mel.kernel_size
        self.log_mel = LogMel(mel, config.sample_rate)
        widths = [mel.n_mels * self.mels_per_frame] + [mel.channels] * mel.layers
        self.convs = nn.ModuleList(nn.Conv1d(widths[i], widths[i + 1], mel.kernel_size) for i in range(mel.layers))
        self.audio_projection = projection_head(mel.channels, config.audio_dim, config.projection_eps)
        self.receptive_field_frames = mel.receptive_field_frames

    def features(self, waveform: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """Stacked log-mel features ``(B, r * n_mels, T)`` for a normalised waveform ``(B, N)``."""
        frames = math.ceil(waveform.shape[-1] / self.samples_per_frame) if frames is None else frames
        padded = pad_to_frames(waveform, frames, self.samples_per_frame)
        padded = nn.functional.pad(padded, (self.left_pad, 0))
        mel = self.log_mel(padded)  # (B, n_mels, r T)
        batch, n_mels, _ = mel.shape
        grouped = mel.reshape(batch, n_mels, frames, self.mels_per_frame).permute(0, 3, 1, 2)
        return grouped.reshape(batch, self.mels_per_frame * n_mels, frames)

    def forward(self, waveform: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """Audio features ``(B, T, audio_dim)``; frame ``t`` depends only on audio up to the end of frame ``t``."""
        hidden = self.features(waveform, frames)
        for index, conv in enumerate(self.convs):
            update = nn.functional.gelu(conv(nn.functional.pad(hidden, (self.kernel_size - 1, 0))))
            hidden = update if index == 0 else hidden + update
        return self.audio_projection(hidden.transpose(1, 2))
