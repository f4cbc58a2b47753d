"""Compile-friendliness and mixed precision: the transformer traces as one graph; autocast keeps the ODE in fp32."""

from __future__ import annotations

import torch

from motionkit.flow import FlowSampler
from motionkit.testing.tolerances import assert_rounding_close


def test_transformer_is_one_graph_and_sampler_uses_compiled_forward(
    tiny_config, randomize, make_conditions, sample_depth
):
    """``fullgraph=True`` fails on any graph break; the eager backend checks tracing without a C++ toolchain."""
    eager = randomize(FlowSampler(tiny_config), seed=4).eval()
    compiled = randomize(FlowSampler(tiny_config), seed=4).eval()
    compiled.compile(fullgraph=True, backend="eager")
    assert compiled._compiled_call_impl is not None
    conditions = make_conditions(tiny_config, 13)
    source = torch.randn(1, tiny_config.motion_dim)
    expected = eager.sample(conditions, source, seed=0, nfe=3).latents
    assert_rounding_close(compiled.sample(conditions, source, seed=0, nfe=3).latents, expected, depth=sample_depth(3))


def test_bfloat16_autocast_keeps_state_in_float32(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 12)
    source = torch.randn(1, tiny_config.motion_dim)
    reference = tiny_sampler.sample(conditions, source, seed=0).latents
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = tiny_sampler.sample(conditions, source, seed=0).latents
    assert mixed.dtype == torch.float32
    relative = (mixed - reference).norm() / reference.norm()
    assert relative < 0.05
