"""FLOAT's audio encoder: frozen wav2vec2, CNN features resampled to the video rate, 12 layers stacked, projected.

(IMTalker's encoder is the same with ``ConditionerConfig.wav2vec2_features = "last"``: ``s = h_12`` alone, 768 wide.)

For a normalised waveform ``a`` of ``N`` samples and ``T = ceil(N * fps / sample_rate)`` frames::

    a'  = a right-padded to T * spf samples by repeating its last sample      # spf = 640 at 16 kHz, 25 fps
    c   = CNN(a')                          (B, n, 512),  n = 2T - 1
    c~  = interpolate(c, T, linear, align_corners=True)                       # 25 fps BEFORE the transformer
    h_l = transformer layer l output for l = 1..12                            (B, T, 768)
    s   = [h_1 | h_2 | ... | h_12]         (B, T, 9216)                       # layer-major within a frame
    w_a = SiLU(LayerNorm(Linear(s)))       (B, T, 512)

The projection ``audio_projection`` = ``Sequential(Linear, LayerNorm, SiLU)`` has FLOAT's parameter names
(``audio_projection.0.*``, ``audio_projection.1.*``), so ``audio_encoder.audio_projection.*`` checkpoint keys load
unchanged. Any ``Wav2Vec2Config`` works as long as its width and layer count match the config's
``wav2vec2_hidden`` / ``wav2vec2_layers`` (a model with more layers runs only the first ``wav2vec2_layers``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from motionkit.conditioner.backbone import GroupStats, conv_features, iter_transformer_states, resample_frames
from motionkit.conditioner.frames import pad_to_frames
from motionkit.conditioner.wav2vec2 import freeze
from motionkit.config.conditioner import ConditionerConfig
from motionkit.errors import ConfigError

if TYPE_CHECKING:
    from transformers import Wav2Vec2Model


def projection_head(in_dim: int, out_dim: int, eps: float) -> nn.Sequential:
    """``SiLU(LayerNorm(Linear(x)))`` with FLOAT's submodule indices 0 (Linear) and 1 (LayerNorm)."""
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.LayerNorm(out_dim, eps=eps), nn.SiLU())


class Wav2Vec2AudioEncoder(nn.Module):
    """Frozen wav2vec2 backbone + trainable projection to ``audio_dim`` (FLOAT's ``AudioEncoder``).

    Args:
        wav2vec2: the backbone; it is frozen (eval mode, no gradients) and stays in eval mode when the encoder is
            put in training mode.
        config: the conditioner configuration (layers, widths, frame rate, CNN chunking).
    """

    frozen_prefixes = ("wav2vec2.",)

    def __init__(self, wav2vec2: Wav2Vec2Model, config: ConditionerConfig) -> None:
        super().__init__()
        model_config = wav2vec2.config
        if model_config.hidden_size != config.wav2vec2_hidden:
            raise ConfigError(
                f"the wav2vec2 model has hidden size {model_config.hidden_size} but the conditioner config says "
                f"wav2vec2_hidden={config.wav2vec2_hidden}; set it to the model's width."
            )
        if model_config.num_hidden_layers < config.wav2vec2_layers:
            raise ConfigError(
                f"the wav2vec2 model has {model_config.num_hidden_layers} layers but wav2vec2_layers="
                f"{config.wav2vec2_layers} are to be stacked; lower wav2vec2_layers."
            )
        self.wav2vec2 = freeze(wav2vec2)
        self.audio_projection = projection_head(config.stacked_dim, config.audio_dim, config.projection_eps)
        self.samples_per_frame = config.samples_per_frame
        self.num_layers = config.wav2vec2_layers
        self.last_only = config.wav2vec2_features == "last"
        self.chunk_samples = config.cnn_chunk_samples

    def train(self, mode: bool = True) -> Wav2Vec2AudioEncoder:
        super().train(mode)
        self.wav2vec2.eval()
        return self

    def hidden_features(
        self, waveform: torch.Tensor, frames: int | None = None, group_stats: GroupStats | None = None
    ) -> torch.Tensor:
        """Stacked hidden states ``(B, T, layers * hidden)`` of a normalised waveform ``(B, N)``.

        ``frames`` defaults to ``ceil(N / spf)``; the waveform is replicate-padded to ``frames * spf`` samples.
        ``group_stats`` overrides the first conv layer's GroupNorm statistics (used when ``waveform`` is a window
        of a longer clip, see :func:`~motionkit.conditioner.backbone.conv_features`).
        """
        return torch.cat(list(self._states(waveform, frames, group_stats)), dim=-1)

    def _states(
        self, waveform: torch.Tensor, frames: int | None, group_stats: GroupStats | None
    ) -> Iterator[torch.Tensor]:
        frames = -(-waveform.shape[-1] // self.samples_per_frame) if frames is None else frames
        padded = pad_to_frames(waveform, frames, self.samples_per_frame)
        with torch.no_grad():
            features = resample_frames(conv_features(self.wav2vec2, padded, self.chunk_samples, group_stats), frames)
        states = iter_transformer_states(self.wav2vec2, features, self.num_layers)
        if self.last_only:
            with torch.no_grad():
                *_, last = states
            states = iter([last])
        # Grad mode is global: the frozen backbone runs without autograd inside next(), and the consumer (the
        # projection) keeps its own mode between states.
        while True:
            with torch.no_grad():
                state = next(states, None)
            if state is None:
                return
            yield state

    def forward(
        self, waveform: torch.Tensor, frames: int | None = None, group_stats: GroupStats | None = None
    ) -> torch.Tensor:
        """Projected audio features ``w_a`` ``(B, T, audio_dim)`` (gradients flow into the projection only).

        Equal to ``audio_projection(hidden_features(...))``, with the first Linear applied layer by layer,
        ``Linear(s) = b + sum_l W[:, l H:(l + 1) H] h_l``, so the ``(B, T, layers * hidden)`` stack is never
        stored (at inference 10 minutes of audio need ~75 MB for it instead of ~1.1 GB).
        """
        linear, norm_and_activation = cast(nn.Linear, self.audio_projection[0]), self.audio_projection[1:]
        blocks = linear.weight.split(self.wav2vec2.config.hidden_size, dim=1)
        total: torch.Tensor = linear.bias
        for state, block in zip(self._states(waveform, frames, group_stats), blocks):
            total = total + nn.functional.linear(state, block)
        return norm_and_activation(total)
