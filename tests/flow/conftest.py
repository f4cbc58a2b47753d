"""Shared helpers of the flow tests: tiny configurations and models with non-trivial (non-zero-init) weights.

Helpers are exposed as fixtures (``randomize``, ``make_conditions``) so that test modules never import conftest.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from motionkit.config import FlowConfig
from motionkit.families import preset
from motionkit.flow import FlowSampler
from motionkit.testing.tolerances import layer_norm_depth, transformer_depth
from motionkit.types import Conditions


def _randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Fill every linear weight with N(0, 1/fan_in) and biases with N(0, 0.02^2), as the parity recipe does.

    A freshly initialised FLOAT model outputs exactly zero (adaLN-Zero), which would hide most bugs.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name == "pos_embed":
                continue
            if param.dim() == 2:
                param.copy_(torch.randn(param.shape, generator=generator) / math.sqrt(param.shape[1]))
            else:
                param.copy_(0.02 * torch.randn(param.shape, generator=generator))
    return model


@pytest.fixture(scope="session")
def tiny_config() -> FlowConfig:
    return preset("tiny").flow


@pytest.fixture(scope="session")
def tiny_sampler(tiny_config: FlowConfig) -> FlowSampler:
    sampler = FlowSampler(tiny_config)
    _randomize(sampler, seed=1)
    return sampler.eval()


def _random_conditions(config: FlowConfig, frames: int, batch: int = 1, seed: int = 0) -> Conditions:
    """Random audio and per-frame soft-label emotion."""
    generator = torch.Generator().manual_seed(seed)
    audio = torch.randn(batch, frames, config.audio_dim, generator=generator)
    emotion = torch.softmax(torch.randn(batch, frames, config.emotion_dim, generator=generator), dim=-1)
    return Conditions(audio, emotion)


@pytest.fixture(scope="session")
def randomize() -> Callable[..., torch.nn.Module]:
    return _randomize


@pytest.fixture(scope="session")
def make_conditions() -> Callable[..., Conditions]:
    return _random_conditions


EULER_GUIDED_STEP_DEPTH = 6
"""Per solver step on top of the vector field: guidance's combination of three branches (4) and ``x + dt v`` (2)."""


@pytest.fixture(scope="session")
def field_depth(tiny_config: FlowConfig) -> int:
    """Roundings on the longest path through one call of the tiny vector field (``motionkit.testing.tolerances``):
    the input embedding (at most every input channel of a frame, + bias), the blocks, the output head."""
    c = tiny_config
    embedding = 2 * c.motion_dim + c.audio_dim + c.emotion_dim + 1
    blocks = transformer_depth(
        c.hidden_dim,
        layers=c.depth,
        heads=c.num_heads,
        hidden=int(c.hidden_dim * c.mlp_ratio),
        keys=2 * c.attention_window + 1,
    )
    return embedding + blocks + layer_norm_depth(c.hidden_dim) + 2 + c.hidden_dim + 1


@pytest.fixture(scope="session")
def sample_depth(field_depth: int, tiny_config: FlowConfig) -> Callable[..., int]:
    """Depth of a sampled latent after ``nfe`` solver steps (the config's by default): the roundings of every step
    reach the end through the (non-expanding, for these weights) flow of the ODE."""

    def depth(nfe: int = tiny_config.nfe) -> int:
        return nfe * (field_depth + EULER_GUIDED_STEP_DEPTH)

    return depth
