"""Forward pieces of a Hugging Face ``Wav2Vec2Model`` that FLOAT's audio path needs separately.

FLOAT runs the conv feature encoder, resamples its output in time, and only then runs the transformer, keeping every
layer's output. These helpers expose the two halves with version-independent semantics:

* :func:`conv_features` — the conv feature encoder, optionally in chunks with identical results (bounded memory);
* :func:`transformer_states` — feature projection + positional conv + transformer layers, returning the layer
  outputs with the ``hidden_states`` semantics of transformers 4.30 (FLOAT's pinned version).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from motionkit.errors import AudioError


def conv_geometry(model: Any) -> tuple[int, int]:
    """``(receptive_field, stride)`` of the conv feature encoder in samples (wav2vec2-base: 400, 320).

    Output frame ``j`` is computed from samples ``[stride*j, stride*j + receptive_field)``, so ``N`` samples give
    ``floor((N - receptive_field) / stride) + 1`` frames.
    """
    field, stride = 1, 1
    for kernel, step in zip(model.config.conv_kernel, model.config.conv_stride):
        field += (kernel - 1) * stride
        stride *= step
    return field, stride


GroupStats = tuple[torch.Tensor, torch.Tensor]
"""Mean and population variance ``(B, G)`` of the first conv layer's output per GroupNorm group."""


def first_group_norm(model: Any) -> tuple[nn.Conv1d, nn.GroupNorm] | None:
    """``(conv, GroupNorm)`` of the first conv layer of ``feat_extract_norm="group"`` models (wav2vec2-base), else
    ``None``. That GroupNorm (one group per channel) normalises over the whole clip: it is the conv encoder's only
    operation that is not local in time."""
    first = model.feature_extractor.conv_layers[0]
    norm = getattr(first, "layer_norm", None)
    return (first.conv, norm) if isinstance(norm, nn.GroupNorm) else None


def conv_features(
    model: Any,
    waveform: torch.Tensor,
    chunk_samples: int | None = None,
    group_stats: GroupStats | None = None,
) -> torch.Tensor:
    """Conv feature-encoder output ``(B, n, C)`` of a normalised waveform ``(B, N)``.

    With ``chunk_samples`` set and ``N`` above it, the frames are computed in chunks of at most ``chunk_samples``
    input samples. Each conv layer only sees its own receptive field, so chunks give the same frames; the one global
    operation, the first layer's GroupNorm (see :func:`first_group_norm`), is applied with statistics accumulated
    over all chunks in a first pass (float64 sums). Results equal the one-pass encoder up to float32 rounding; peak
    memory is bounded by the chunk size instead of ``N``.

    ``group_stats`` replaces those statistics (e.g. the whole clip's, when ``waveform`` is a window of it); it is
    ignored by models without a first-layer GroupNorm.
    """
    extractor = model.feature_extractor
    field, stride = conv_geometry(model)
    num_samples = waveform.shape[-1]
    if num_samples < field:
        raise AudioError(
            f"audio of {num_samples} samples is shorter than the {field}-sample receptive field of the wav2vec2 "
            "feature encoder; give a longer clip."
        )
    group = first_group_norm(model)
    num_frames = (num_samples - field) // stride + 1
    frames_per_chunk = num_frames
    if chunk_samples is not None and num_samples > chunk_samples:
        frames_per_chunk = max(1, (chunk_samples - field) // stride + 1)
    elif group is None or group_stats is None:
        return extractor(waveform).transpose(1, 2)
    layers = list(extractor.conv_layers)
    if group is not None and group_stats is None:
        group_stats = group_norm_stats(model, waveform, chunk_samples)
    chunks = []
    for start in range(0, num_frames, frames_per_chunk):
        stop = min(num_frames, start + frames_per_chunk)
        hidden = waveform[:, stride * start : stride * (stop - 1) + field][:, None]
        rest = layers
        if group is not None and group_stats is not None:
            conv, norm = group
            hidden = layers[0].activation(_apply_group_norm(conv(hidden), norm, *group_stats))
            rest = layers[1:]
        for layer in rest:
            hidden = layer(hidden)
        chunks.append(hidden)
    return torch.cat(chunks, dim=-1).transpose(1, 2)


def group_norm_stats(model: Any, waveform: torch.Tensor, chunk_samples: int | None = None) -> GroupStats | None:
    """First-layer GroupNorm statistics ``(B, G)`` of a normalised waveform ``(B, N)`` (``None`` without one).

    Computed chunk by chunk (float64 sums), so memory stays bounded by ``chunk_samples``.
    """
    group = first_group_norm(model)
    if group is None:
        return None
    conv, norm = group
    kernel, step = conv.kernel_size[0], conv.stride[0]
    total = (waveform.shape[-1] - kernel) // step + 1
    per_chunk = total if chunk_samples is None else max(1, (chunk_samples - kernel) // step + 1)
    sums = torch.zeros(waveform.shape[0], conv.out_channels, dtype=torch.float64, device=waveform.device)
    squares = torch.zeros_like(sums)
    for start in range(0, total, per_chunk):
        stop = min(total, start + per_chunk)
        out = conv(waveform[:, step * start : step * (stop - 1) + kernel][:, None]).double()
        sums += out.sum(-1)
        squares += out.square().sum(-1)
    return _grouped(sums / total, squares / total, norm.num_groups)


def _grouped(first: torch.Tensor, second: torch.Tensor, groups: int) -> GroupStats:
    """Per-group mean and population variance from per-channel first and second moments ``(B, C)``."""
    batch = first.shape[0]
    mean = first.reshape(batch, groups, -1).mean(-1)
    var = (second.reshape(batch, groups, -1).mean(-1) - mean.square()).clamp_min(0.0)
    return mean, var


class RunningGroupStats:
    """First-layer GroupNorm statistics of a stream, accumulated on the raw (unnormalised) samples.

    The first conv is linear, so for a normalised stream ``a = (x - m) / s`` its output is
    ``y_c = (y^x_c - m W_c) / s + b_c`` where ``y^x`` is the bias-free conv of the raw samples and ``W_c`` the sum of
    channel ``c``'s kernel: moments of ``y^x`` collected once give the statistics under any ``(m, s)`` — the
    stream's running normalisation included — exactly.
    """

    def __init__(self, conv: nn.Conv1d, norm: nn.GroupNorm) -> None:
        self.conv = conv
        self.groups = norm.num_groups
        self.kernel, self.step = conv.kernel_size[0], conv.stride[0]
        self.pending = torch.zeros(0)
        self.count = 0
        self.sums = torch.zeros(conv.out_channels, dtype=torch.float64)
        self.squares = torch.zeros_like(self.sums)

    @torch.no_grad()
    def update(self, samples: torch.Tensor) -> None:
        """Add the next raw samples ``(n,)`` of the stream."""
        self.pending = torch.cat([self.pending, samples.detach().cpu().float()])
        frames = (self.pending.numel() - self.kernel) // self.step + 1
        if frames <= 0:
            return
        used = self.pending[: self.step * (frames - 1) + self.kernel]
        weight = self.conv.weight.detach().cpu().float()
        out = nn.functional.conv1d(used[None, None], weight, stride=self.step)[0].double()
        self.count += frames
        self.sums += out.sum(-1)
        self.squares += out.square().sum(-1)
        self.pending = self.pending[self.step * frames :]

    def extended(self, samples: torch.Tensor) -> RunningGroupStats:
        """A copy that has also seen ``samples`` (e.g. the replicate padding of the clip's end)."""
        copy = RunningGroupStats.__new__(RunningGroupStats)
        copy.__dict__.update(self.__dict__)
        copy.sums, copy.squares = self.sums.clone(), self.squares.clone()
        copy.update(samples)
        return copy

    def stats(self, mean: float, scale: float) -> GroupStats | None:
        """Statistics ``(1, G)`` of the first conv's output on ``(x - mean) / scale``; None before the first frame."""
        if self.count == 0:
            return None
        raw_mean, raw_second = self.sums / self.count, self.squares / self.count
        kernel_sums = self.conv.weight.detach().cpu().double().sum(dim=(1, 2))
        bias = torch.zeros_like(kernel_sums) if self.conv.bias is None else self.conv.bias.detach().cpu().double()
        channel_mean = (raw_mean - mean * kernel_sums) / scale + bias
        channel_var = (raw_second - raw_mean.square()).clamp_min(0.0) / scale**2
        mean_g, var_g = _grouped(channel_mean[None], (channel_var + channel_mean.square())[None], self.groups)
        device = self.conv.weight.device
        return mean_g.to(device), var_g.to(device)


def _apply_group_norm(x: torch.Tensor, norm: nn.GroupNorm, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """``GroupNorm`` of ``x (B, C, n)`` with precomputed per-group statistics ``(B, G)``."""
    channels = x.shape[1]
    per_group = channels // norm.num_groups
    inv_std = torch.rsqrt(var + norm.eps).to(x.dtype).repeat_interleave(per_group, dim=1)[..., None]
    centred = x - mean.to(x.dtype).repeat_interleave(per_group, dim=1)[..., None]
    out = centred * inv_std
    if norm.affine:
        out = out * norm.weight[None, :, None] + norm.bias[None, :, None]
    return out


def transformer_states(model: Any, features: torch.Tensor, num_layers: int) -> list[torch.Tensor]:
    """Hidden states ``1..num_layers`` ``(B, T, H)`` of the transformer for conv features ``(B, T, C)``.

    Semantics of transformers 4.30's ``hidden_states[1:]``: state ``i`` is the output of layer ``i``; for pre-LN
    (``do_stable_layer_norm``) encoders the output of the model's last layer additionally goes through the
    encoder's final LayerNorm (so state ``L`` equals ``last_hidden_state``). Only the first ``num_layers`` layers
    are run. No attention mask, no SpecAugment masking (inference).
    """
    return list(iter_transformer_states(model, features, num_layers))


def iter_transformer_states(model: Any, features: torch.Tensor, num_layers: int) -> Iterator[torch.Tensor]:
    """:func:`transformer_states` one layer at a time, so a consumer need not hold all of them."""
    encoder = model.encoder
    if not 1 <= num_layers <= len(encoder.layers):
        raise ValueError(f"num_layers must be in 1..{len(encoder.layers)}, got {num_layers}")
    projected = model.feature_projection(features)
    hidden = projected[0] if isinstance(projected, tuple) else projected
    hidden = hidden + encoder.pos_conv_embed(hidden)
    pre_norm = bool(model.config.do_stable_layer_norm)
    if not pre_norm:
        hidden = encoder.layer_norm(hidden)
    hidden = encoder.dropout(hidden)
    for index, layer in enumerate(encoder.layers[:num_layers]):
        hidden = encoder_layer(layer, hidden, pre_norm)
        is_last = index == len(encoder.layers) - 1
        yield encoder.layer_norm(hidden) if pre_norm and is_last else hidden


FEED_FORWARD_CHUNK_FRAMES = 2048
"""Frames whose position-wise part (LayerNorm + feed-forward) of a transformer layer runs at once. Attention needs
the whole clip; the rest acts frame by frame, so chunking it is exact and keeps the 4x-wide feed-forward activations
of a 10-minute clip (2 x 184 MB per layer for wav2vec2-base) from existing all at once."""


def encoder_layer(layer: Any, hidden: torch.Tensor, pre_norm: bool) -> torch.Tensor:
    """One wav2vec2 encoder layer (``Wav2Vec2EncoderLayer`` or its stable-layer-norm variant), in inference mode.

    The same operations in the same order as the layer's own forward, with the position-wise part applied in chunks
    of :data:`FEED_FORWARD_CHUNK_FRAMES` frames::

        post-LN: h = LN(x + Attn(x));      out = LN_f(h + FF(h))
        pre-LN:  h = x + Attn(LN(x));      out = h + FF(LN_f(h)) (+ adapter(out) when the model has adapters)
    """
    residual = hidden
    attended = layer.attention(layer.layer_norm(hidden) if pre_norm else hidden, attention_mask=None)
    hidden = residual + layer.dropout(attended[0] if isinstance(attended, tuple) else attended)
    if not pre_norm:
        hidden = layer.layer_norm(hidden)

    def position_wise(h: torch.Tensor) -> torch.Tensor:
        if not pre_norm:
            return layer.final_layer_norm(h + layer.feed_forward(h))
        out = h + layer.feed_forward(layer.final_layer_norm(h))
        adapter = getattr(layer, "adapter_layer", None)
        return out if adapter is None else out + adapter(out)

    if hidden.shape[1] <= FEED_FORWARD_CHUNK_FRAMES:
        return position_wise(hidden)
    return torch.cat([position_wise(part) for part in hidden.split(FEED_FORWARD_CHUNK_FRAMES, dim=1)], dim=1)


def resample_frames(features: torch.Tensor, frames: int) -> torch.Tensor:
    """Linear resampling ``(B, n, C) -> (B, frames, C)`` in time with ``align_corners=True`` (FLOAT's rule).

    Output frame ``t`` is input position ``t * (n - 1) / (frames - 1)``; for ``N = 640 T`` samples wav2vec2 gives
    ``n = 2T - 1`` frames and this picks every other frame exactly.
    """
    return nn.functional.interpolate(
        features.transpose(1, 2), size=frames, mode="linear", align_corners=True
    ).transpose(1, 2)
