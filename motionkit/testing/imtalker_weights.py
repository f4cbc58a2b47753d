"""Deterministic synthetic weights for IMTalker's official checkpoints, keyed by checkpoint name.

The formula is FLOAT's (:func:`motionkit.testing.float_weights.generate_tensor`: ``crc32`` of the key seeds numpy's
legacy normal stream, ``float32(offset + std * n)``); only the table of ``std``/``offset`` differs
(``shared/imtalker-parity/README.md`` section 1). Keys are the checkpoint files' own: ``gen.`` + an ``IMTRenderer``
key (``renderer.ckpt``), ``model.`` + an ``FMGenerator`` key (``generator.ckpt``).

Buffers that a checkpoint holds but the constructors rebuild identically (FIR ``kernel``s, the Swin
``relative_position_index`` and ``attn_mask``, BatchNorm ``num_batches_tracked``, the rotary ``inv_freq``) are not
generated (:data:`motionkit.families.imtalker.checkpoints.CONSTRUCTOR_BUFFERS`); BatchNorm running statistics are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from motionkit.families.imtalker.checkpoints import GENERATOR_PREFIX, RENDERER_PREFIX, is_constructor_buffer
from motionkit.testing.float_weights import WeightRule, generate_tensor, wav2vec2_weight_rule

EQUALISED_LINEAR_CHAINS = (
    "gen.dense_feature_encoder.linear_layers.",
    "gen.dense_feature_encoder.final_linear.",
    "gen.latent_token_encoder.linear_layers.",
    "gen.latent_token_encoder.final_linear.",
    "gen.adapt.",
)
"""Key prefixes of the EqualLinear MLP chains, generated with gain sqrt(2) (README section 1.5)."""

EQUALISED_WEIGHTS = (".equalconv.weight", ".modulation.weight")
"""Key endings of EqualConv2d / style EqualLinear weights, generated with std 1 like the modulated convolutions'
``(1, out, in, k, k)`` weights and the motion encoder's blurred convolutions (:data:`_MOTION_ENCODER_CONVS`)."""

_MOTION_ENCODER_CONVS = ("conv1.0.weight", "conv2.1.weight", "skip.1.weight")
_LAYER_NORMS = (".norm_q.", ".norm_kv.", ".norm_ffn.")
_STANDARD_NORMALS = ("gen.latent_token_decoder.const", "q_pos_embedding", "k_pos_embedding")
_PROJECTIONS = tuple(f"model.{name}_projection." for name in ("audio", "gaze", "pose", "cam"))
_BATCH_NORM_RULES = {
    "weight": WeightRule("bn_weight", 0.1, 1.0),
    "bias": WeightRule("bn_bias", 0.1),
    "running_mean": WeightRule("bn_running_mean", 0.1),
    "running_var": WeightRule("bn_running_var", 0.1, 1.0),
}


def is_generated(key: str) -> bool:
    """Whether the fixture's recipe generates ``key`` (constructor buffers are rebuilt, not generated)."""
    return not is_constructor_buffer(key)


def _is_batch_norm(key: str) -> bool:
    return ".norm.norm." in key or key.startswith("gen.dense_feature_encoder.initial_conv.1.")


def _renderer_rule(key: str, shape: Sequence[int]) -> WeightRule:
    last = key.rsplit(".", 1)[-1]
    if key.endswith(".noise.weight"):
        return WeightRule("zero", 0.0)
    if _is_batch_norm(key):
        return _BATCH_NORM_RULES[last]
    if any(part in key for part in _LAYER_NORMS):
        return WeightRule("ln_weight", 0.1, 1.0) if last == "weight" else WeightRule("ln_bias", 0.1)
    if key.endswith(".modulation.bias"):
        return WeightRule("modulation_bias", 0.02, 1.0)
    if last == "bias":
        return WeightRule("bias", 0.02)
    if key.startswith(_STANDARD_NORMALS) or key.endswith(_STANDARD_NORMALS):
        return WeightRule("randn", 1.0)
    if key.endswith("relative_position_bias_table"):
        return WeightRule("rel_pos_bias", 1.0)
    if key.startswith(EQUALISED_LINEAR_CHAINS):
        return WeightRule("equalised_linear_weight", math.sqrt(2.0))
    modulated = len(shape) == 5
    if (
        modulated
        or key.endswith(EQUALISED_WEIGHTS)
        or (key.startswith("gen.latent_token_encoder.res_blocks.") and key.endswith(_MOTION_ENCODER_CONVS))
    ):
        return WeightRule("equalised_weight", 1.0)
    if len(shape) == 4:
        return WeightRule("conv_weight", 1.0 / math.sqrt(shape[1] * shape[2] * shape[3]))
    if len(shape) == 2:
        return WeightRule("linear_weight", 1.0 / math.sqrt(shape[1]))
    raise KeyError(f"no synthetic-weight rule for IMTalker renderer key {key!r} of shape {tuple(shape)}")


def _generator_rule(key: str, shape: Sequence[int]) -> WeightRule:
    if ".wav2vec2." in key:
        rule = wav2vec2_weight_rule(key, shape)
        return WeightRule("wav2vec2", rule.std, rule.offset)
    last = key.rsplit(".", 1)[-1]
    if key.startswith(_PROJECTIONS) and key.endswith(".1.weight"):
        return WeightRule("ln_weight", 0.02, 1.0)
    if key.startswith(("model.fmt.", *_PROJECTIONS)):
        if last == "bias":
            return WeightRule("bias", 0.02)
        if last == "weight" and len(shape) == 2:
            return WeightRule("linear_weight", 1.0 / math.sqrt(shape[1]))
    raise KeyError(f"no synthetic-weight rule for IMTalker generator key {key!r} of shape {tuple(shape)}")


def imtalker_weight_rule(key: str, shape: Sequence[int]) -> WeightRule:
    """The generation rule of the IMTalker parity recipe for the checkpoint key ``key`` (``gen.*`` or ``model.*``)."""
    if not is_generated(key):
        raise KeyError(f"{key!r} is a constructor buffer, not generated by the recipe")
    if key.startswith(RENDERER_PREFIX):
        return _renderer_rule(key, shape)
    if key.startswith(GENERATOR_PREFIX):
        return _generator_rule(key, shape)
    raise KeyError(f"IMTalker checkpoint keys start with {RENDERER_PREFIX!r} or {GENERATOR_PREFIX!r}, got {key!r}")


def imtalker_tensor(key: str, shape: Sequence[int]) -> torch.Tensor:
    """The float32 tensor the IMTalker parity recipe assigns to the checkpoint key ``key`` with ``shape``."""
    return generate_tensor(key, shape, imtalker_weight_rule(key, shape))


def imtalker_state_dict(shapes: Mapping[str, Sequence[int]]) -> dict[str, torch.Tensor]:
    """Generate every recipe-generated key of ``shapes`` (checkpoint key -> shape); constructor buffers are left out."""
    return {key: imtalker_tensor(key, shape) for key, shape in shapes.items() if is_generated(key)}
