"""Shared fixtures of the renderer tests: a tiny layout and official-layout synthetic weights built from key names."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from motionkit.config import RendererConfig
from motionkit.families import preset
from motionkit.families.float.layout import RENDERER_PREFIX as FLOAT_PREFIX
from motionkit.families.float.layout import renderer_from_official
from motionkit.renderer import Renderer
from motionkit.testing import synthetic_tensor
from motionkit.testing.tolerances import layers_depth, sampled_magnitude


def synthetic_float_state_dict(config: RendererConfig) -> dict[str, torch.Tensor]:
    """Official-layout weights (``motion_autoencoder.*``) for ``config``, generated from the key names with the
    parity recipe (the same values the FLOAT parity fixture used at 512 px)."""
    names = Renderer(config).state_dict()
    return {FLOAT_PREFIX + k: synthetic_tensor(FLOAT_PREFIX + k, v.shape) for k, v in names.items()}


@pytest.fixture(scope="session")
def float_weights_for() -> Callable[[RendererConfig], dict[str, torch.Tensor]]:
    """The weight builder above, for tests that need another layout (e.g. float-512 parity)."""
    return synthetic_float_state_dict


@pytest.fixture(scope="session")
def tiny_config() -> RendererConfig:
    """64 px, D = 32, M = 8, widths 8..32 — the ``tiny`` preset's renderer."""
    return preset("tiny").renderer


@pytest.fixture(scope="session")
def tiny_weights(tiny_config: RendererConfig) -> dict[str, torch.Tensor]:
    return synthetic_float_state_dict(tiny_config)


@pytest.fixture
def tiny_renderer(tiny_config: RendererConfig, tiny_weights: dict[str, torch.Tensor]) -> Renderer:
    return renderer_from_official(tiny_weights, tiny_config)


@pytest.fixture
def portraits(tiny_config: RendererConfig) -> torch.Tensor:
    """Two smooth 64 px test images in [-1, 1]."""
    size = tiny_config.size
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    first = torch.stack([x, y, x * y])
    second = torch.stack([torch.sin(3 * x), torch.cos(2 * y), 0.5 * x])
    return torch.stack([first, second]).clamp(-1, 1)


WARP_DEPTH = 8
"""Bilinear sampling: four weights from the sampling coordinates (4 roundings) and their weighted sum of 4 (4)."""


@pytest.fixture
def decode_depth(tiny_renderer: Renderer) -> int:
    """Roundings on the longest path of an encode + decode of the tiny renderer (``motionkit.testing.tolerances``):
    every layer's fan-in, counted from the weights, plus the warps."""
    return layers_depth(tiny_renderer) + WARP_DEPTH * int(math.log2(tiny_renderer.config.size))  # one warp a level


@pytest.fixture(scope="session")
def warped_magnitude() -> Callable[[torch.Tensor, torch.Tensor], float]:
    """``M`` of decoded frames from the frames and their sampling grid (``motionkit.testing.tolerances``)."""
    return sampled_magnitude
