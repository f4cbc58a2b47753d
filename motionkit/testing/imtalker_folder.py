"""A small IMTalker model folder for tests: the renderer at its only size and a tiny generator, every weight from the
parity fixture's weight recipe (:mod:`motionkit.testing.imtalker_weights`), a tiny wav2vec2 of wav2vec2-base's
structure; assembled by the converter's own layout functions, as ``motionkit convert-imtalker`` does from files.

The renderer weights are 124 M float32 values (0.5 GB on disk) and a 512-px frame takes about a second on a CPU core:
build the folder once per test session.
"""

from __future__ import annotations

from pathlib import Path

import torch

from motionkit.conditioner import save_wav2vec2
from motionkit.conditioner.wav2vec2 import freeze, wav2vec2_config
from motionkit.families.imtalker.config import IMTalkerConfig
from motionkit.families.imtalker.generator import IMTalkerMotion
from motionkit.families.imtalker.generator_layout import (
    conditioner_from_official,
    motion_from_official,
)
from motionkit.families.imtalker.presets import MOTION_DIM, tiny_motion
from motionkit.families.imtalker.renderer import IMTalkerRenderer
from motionkit.families.imtalker.renderer_official import renderer_from_official
from motionkit.model_folder import save_model
from motionkit.testing.imtalker_weights import GENERATOR_PREFIX, RENDERER_PREFIX, imtalker_state_dict

TINY_HIDDEN = 32
"""Features per frame of the tiny wav2vec2."""

TINY_WAV2VEC2 = {
    "hidden_size": TINY_HIDDEN,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "conv_dim": [32] * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}
"""wav2vec2-base's structure (post-LN, GroupNorm conv stem), tiny."""

PROJECTION_SHAPES = {
    "0.weight": (MOTION_DIM, TINY_HIDDEN),
    "0.bias": (MOTION_DIM,),
    "1.weight": (MOTION_DIM,),
    "1.bias": (MOTION_DIM,),
}
"""The audio projection (Linear from the tiny wav2vec2's features, LayerNorm) under ``audio_projection.``."""

WAV2VEC2_SEED = 0
"""Seed of the tiny wav2vec2's initial weights (its folder stands in for wav2vec2-base-960h)."""


def _shapes(module: torch.nn.Module, prefix: str) -> dict[str, tuple[int, ...]]:
    return {prefix + name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}


def tiny_imtalker_folder(folder: str | Path) -> Path:
    """Write the test folder (see the module docstring) at ``folder`` (which must not exist) and return it."""
    folder = Path(folder)
    with torch.device("meta"):
        renderer_shapes = _shapes(IMTalkerRenderer(), RENDERER_PREFIX)
        motion_shapes = _shapes(IMTalkerMotion(tiny_motion()), GENERATOR_PREFIX)
    generator_state = imtalker_state_dict(motion_shapes)
    generator_state.update(
        imtalker_state_dict({f"{GENERATOR_PREFIX}audio_projection.{k}": s for k, s in PROJECTION_SHAPES.items()})
    )
    from transformers import Wav2Vec2Model

    torch.manual_seed(WAV2VEC2_SEED)
    wav2vec2 = folder.with_name(folder.name + "-wav2vec2")
    save_wav2vec2(freeze(Wav2Vec2Model(wav2vec2_config(TINY_WAV2VEC2))), wav2vec2)
    motion = tiny_motion()
    conditioner = conditioner_from_official(generator_state, wav2vec2, motion.flow.audio_dim)
    config = IMTalkerConfig(name="imtalker-tiny", motion=motion, conditioner=conditioner.config)
    return save_model(
        folder,
        config=config,
        renderer=renderer_from_official(imtalker_state_dict(renderer_shapes)),
        conditioner=conditioner,
        sampler=motion_from_official(generator_state, motion),
        manifest={"license": "formula-generated test weights (shared/imtalker-parity recipe)"},
    )
