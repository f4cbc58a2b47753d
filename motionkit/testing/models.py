"""Small random-weight model folders for tests and examples (no pretrained weights, a few seconds on a CPU)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from motionkit.conditioner import Conditioner
from motionkit.config import ModelConfig
from motionkit.families import preset
from motionkit.flow import FlowSampler
from motionkit.model_folder import save_model
from motionkit.renderer import Renderer
from motionkit.space import Axis

WEIGHT_NOISE = 0.05
"""Spread of the noise added to the initial weights: a fresh FlowSampler outputs exactly zero (adaLN-Zero), so it is
perturbed to make motion that moves."""

AXIS_SCALE = 0.05
"""Coefficient length of one unit ("degree") of the named test axes."""


def random_model_folder(
    folder: str | Path,
    *,
    preset_name: str = "tiny",
    seed: int = 0,
    axes: tuple[str, ...] = ("pitch", "yaw"),
    manifest: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model folder of the preset ``preset_name`` with seeded random weights.

    ``axes`` names basis directions 0, 1, ... (unit "deg", :data:`AXIS_SCALE` coefficients per degree) so that edits
    such as ``Oscillate.nod`` (pitch) and ``Keyframes.turn`` (yaw) apply. The tiny preset uses the mel audio
    encoder, so no Hugging Face folder is needed.
    """
    config = preset(preset_name, ModelConfig)
    torch.manual_seed(seed)
    renderer, sampler = Renderer(config.renderer), FlowSampler(config.flow)
    conditioner = Conditioner(config.conditioner)
    with torch.no_grad():
        for parameter in sampler.parameters():
            parameter.add_(torch.randn_like(parameter) * WEIGHT_NOISE)
    space = renderer.space
    if axes:
        space = space.with_axes(
            [Axis.basis(i, space.rank, name=name, unit="deg", scale=AXIS_SCALE) for i, name in enumerate(axes)]
        )
    return save_model(
        folder,
        config=config,
        renderer=renderer,
        conditioner=conditioner,
        sampler=sampler,
        space=space,
        manifest={"license": "random test weights", **dict(manifest or {})},
    )
