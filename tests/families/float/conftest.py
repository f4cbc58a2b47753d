"""Fixtures of the FLOAT layout tests: a tiny flow sampler whose weights are all non-zero (a fresh one is
adaLN-Zero, whose zeros would hide a mis-mapped entry)."""

from __future__ import annotations

import pytest
import torch

from motionkit.config import FlowConfig
from motionkit.families import preset
from motionkit.flow import FlowSampler


@pytest.fixture(scope="session")
def tiny_config() -> FlowConfig:
    return preset("tiny").flow


@pytest.fixture(scope="session")
def tiny_sampler(tiny_config: FlowConfig) -> FlowSampler:
    sampler = FlowSampler(tiny_config)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in sampler.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return sampler.eval()
