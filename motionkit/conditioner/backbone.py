"""Forward pieces of a Hugging Face ``Wav2Vec2Model`` that FLOAT's audio path needs separately.

FLOAT runs the conv feature encoder, resamples its output in time, and only then runs the transformer, keeping every
layer's output. These helpers expose the two halves with version-independent semantics:

* :func:`conv_features` — the conv feature encoder, optionally in chunks with identical results (bounded memory);
* :func:`transformer_states` — feature projection + positional conv + transformer layers, returning the layer
  outputs with the ``hidden_states`` semantics of transformers 4.30 (FLOAT's pinned version).
"""

from __future__ import annotations

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


def conv_features(model: Any, waveform: torch.Tensor, chunk_samples: int | None = None) -> torch.Tensor:
    """Conv feature-encoder output ``(B, n, C)`` of a normalised waveform ``(B, N)``.

    With ``chunk_samples`` set and ``N`` above it, the frames are computed in chunks of at most ``chunk_samples``
    input samples. Each conv layer only sees its own receptive field, so chunks give the same frames; the one global
    operation, the GroupNorm of the first layer in ``feat_extract_norm="group"`` models (per-channel statistics over
    the whole clip), is applied with statistics accumulated over all chunks in a first pass (float64 sums). Results
    equal the one-pass encoder up to float32 rounding; peak memory is bounded by the chunk size instead of ``N``.
    """
    extractor = model.feature_extractor
    field, stride = conv_geometry(model)
    num_samples = waveform.shape[-1]
    if num_samples < field:
        raise AudioError(
            f"audio of {num_samples} samples is shorter than the {field}-sample receptive field of the wav2vec2 "
            "feature encoder; give a longer clip."
        )
    if chunk_samples is None or num_samples <= chunk_samples:
        return extractor(waveform).transpose(1, 2)
    num_frames = (num_samples - field) // stride + 1
    frames_per_chunk = max(1, (chunk_samples - field) // stride + 1)
    layers = list(extractor.conv_layers)
    first = layers[0]
    group_norm = first.layer_norm if isinstance(getattr(first, "layer_norm", None), nn.GroupNorm) else None
    stats = _first_layer_group_stats(first.conv, group_norm, waveform, chunk_samples) if group_norm else None
    chunks = []
    for start in range(0, num_frames, frames_per_chunk):
        stop = min(num_frames, start + frames_per_chunk)
        hidden = waveform[:, stride * start : stride * (stop - 1) + field][:, None]
        rest = layers
        if group_norm is not None and stats is not None:
            hidden = first.activation(_apply_group_norm(first.conv(hidden), group_norm, *stats))
            rest = layers[1:]
        for layer in rest:
            hidden = layer(hidden)
        chunks.append(hidden)
    return torch.cat(chunks, dim=-1).transpose(1, 2)


def _first_layer_group_stats(
    conv: nn.Conv1d, norm: nn.GroupNorm, waveform: torch.Tensor, chunk_samples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and population variance ``(B, G)`` of the first conv's output per group, over the whole clip."""
    kernel, step = conv.kernel_size[0], conv.stride[0]
    num_samples = waveform.shape[-1]
    total = (num_samples - kernel) // step + 1
    per_chunk = max(1, (chunk_samples - kernel) // step + 1)
    groups = norm.num_groups
    sums = torch.zeros(waveform.shape[0], groups, dtype=torch.float64, device=waveform.device)
    squares = torch.zeros_like(sums)
    for start in range(0, total, per_chunk):
        stop = min(total, start + per_chunk)
        out = conv(waveform[:, step * start : step * (stop - 1) + kernel][:, None]).double()
        grouped = out.reshape(out.shape[0], groups, -1)
        sums += grouped.sum(-1)
        squares += grouped.square().sum(-1)
    count = total * (conv.out_channels // groups)
    mean = sums / count
    var = (squares / count - mean.square()).clamp_min(0.0)
    return mean, var


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
    states = []
    for index, layer in enumerate(encoder.layers[:num_layers]):
        out = layer(hidden, attention_mask=None)
        hidden = out[0] if isinstance(out, tuple) else out
        is_last = index == len(encoder.layers) - 1
        states.append(encoder.layer_norm(hidden) if pre_norm and is_last else hidden)
    return states


def resample_frames(features: torch.Tensor, frames: int) -> torch.Tensor:
    """Linear resampling ``(B, n, C) -> (B, frames, C)`` in time with ``align_corners=True`` (FLOAT's rule).

    Output frame ``t`` is input position ``t * (n - 1) / (frames - 1)``; for ``N = 640 T`` samples wav2vec2 gives
    ``n = 2T - 1`` frames and this picks every other frame exactly.
    """
    return nn.functional.interpolate(
        features.transpose(1, 2), size=frames, mode="linear", align_corners=True
    ).transpose(1, 2)
