"""Deterministic synthetic weights for FLOAT's official layout, keyed by parameter name.

This is the recipe of the FLOAT parity fixture (``shared/float-parity/README.md``, section 1): for a canonical key
``K`` and shape ``S``::

    seed = crc32(K)                                   # unsigned 32-bit
    n    = numpy.random.RandomState(seed).standard_normal(S)   # float64, legacy stream
    W    = float32(offset + std * n)                  # float64 arithmetic, one rounding

with ``std``/``offset`` chosen by the first matching key pattern (:func:`synthetic_weight_rule`). It lets tests and
benchmarks build full-size official-layout state dicts without any real checkpoint.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

AUDIO_W2V_PREFIX = "audio_encoder.wav2vec2."
EMOTION_PREFIX = "emotion_encoder.wav2vec2_for_emotion."


@dataclass(frozen=True)
class WeightRule:
    """How one tensor is generated. ``std`` may be per output channel (axis 1) for the ToFlow weights."""

    kind: str
    std: float | tuple[float, ...] = 1.0
    offset: float = 0.0


def _sinusoid_table(shape: Sequence[int]) -> np.ndarray:
    """FLOAT's interleaved positional table: sin at even j, cos at odd j, angle = p / 10000^(2*(j//2)/C)."""
    _, positions, channels = shape
    p = np.arange(positions, dtype=np.float64)[:, None]
    j = np.arange(channels)
    angle = p / np.power(10000.0, 2 * (j // 2) / channels)
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return table.reshape(shape)


def synthetic_weight_rule(key: str, shape: Sequence[int]) -> WeightRule:
    """The generation rule of the parity recipe for ``key`` (first matching pattern wins)."""
    if "wav2vec2" in key:
        return wav2vec2_weight_rule(key, shape)
    if key.startswith("motion_autoencoder."):
        if key.endswith(".noise.weight"):
            return WeightRule("zero", 0.0)
        if key.endswith(".modulation.bias"):
            return WeightRule("modulation_bias", 0.02, 1.0)
        if key.endswith(".bias"):
            return WeightRule("bias", 0.02)
        if ".to_flows." in key and key.endswith(".conv.weight"):
            return WeightRule("toflow_weight", (0.05, 0.05, 1.0))
        return WeightRule("equalised_or_randn", 1.0)
    if key.startswith("audio_encoder.audio_projection."):
        if key.endswith("0.weight"):
            return WeightRule("linear", 1.0 / math.sqrt(shape[1]))
        if key.endswith("1.weight"):
            return WeightRule("norm_weight", 0.02, 1.0)
        return WeightRule("bias", 0.02)
    if key == "fmt.pos_embed":
        return WeightRule("sinusoid")
    if key.startswith("fmt."):
        if key.endswith(".weight"):
            return WeightRule("linear", 1.0 / math.sqrt(shape[1]))
        return WeightRule("bias", 0.02)
    raise KeyError(f"no synthetic-weight rule for key {key!r}")


def wav2vec2_weight_rule(key: str, shape: Sequence[int]) -> WeightRule:
    """The rule of a wav2vec2 tensor, by its Hugging Face name (any prefix): the same table for every fixture."""
    if key.endswith("masked_spec_embed"):
        return WeightRule("unused", 1.0)
    if key.endswith("pos_conv_embed.conv.weight_g"):
        return WeightRule("weightnorm_g", 0.02, 1.0)
    if key.endswith("pos_conv_embed.conv.weight_v"):
        return WeightRule("weightnorm_v", 1.0)
    if ".feature_extractor.conv_layers." in key and key.endswith(".conv.weight"):
        return WeightRule("conv1d", math.sqrt(2.0 / (shape[1] * shape[2])))
    if key.endswith("layer_norm.weight"):
        return WeightRule("norm_weight", 0.02, 1.0)
    if key.endswith(".bias"):
        return WeightRule("bias", 0.02)
    if key.endswith(".weight") and len(shape) == 2:
        return WeightRule("linear", 1.0 / math.sqrt(shape[1]))
    raise KeyError(f"no synthetic-weight rule for wav2vec2 key {key!r}")


def synthetic_tensor(key: str, shape: Sequence[int]) -> torch.Tensor:
    """The float32 tensor the parity recipe assigns to ``key`` with ``shape``."""
    shape = tuple(int(s) for s in shape)
    return generate_tensor(key, shape, synthetic_weight_rule(key, shape))


def generate_tensor(key: str, shape: Sequence[int], rule: WeightRule) -> torch.Tensor:
    """The recipe's formula (module docstring) for ``key`` under ``rule``; every fixture's rule table feeds it."""
    shape = tuple(int(s) for s in shape)
    if rule.kind == "zero":
        return torch.zeros(shape, dtype=torch.float32)
    if rule.kind == "sinusoid":
        return torch.from_numpy(_sinusoid_table(shape).astype(np.float32))
    noise = np.random.RandomState(zlib.crc32(key.encode("utf-8"))).standard_normal(shape)
    if isinstance(rule.std, tuple):
        std = np.asarray(rule.std, dtype=np.float64).reshape((1, -1) + (1,) * (len(shape) - 2))
        values = rule.offset + std * noise
    else:
        values = rule.offset + rule.std * noise
    return torch.from_numpy(np.ascontiguousarray(values.astype(np.float32)))


def synthetic_state_dict(shapes: dict[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    """Generate every key of ``shapes`` (a mapping key -> shape) with :func:`synthetic_tensor`."""
    return {key: synthetic_tensor(key, shape) for key, shape in shapes.items()}
