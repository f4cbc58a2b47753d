"""The work motionkit's sampler does equals the official code's structure (FLOAT spec §9.2, §9.4, §10.4): per window
``nfe - 1`` Euler evaluations, each one forward on a batch of the 3 guidance branches x 60 tokens, and per forward
the 46 linear layers of the official FlowMatchingTransformer at depth 8 (2 in the time MLP, the token and condition
embeddings, 5 per block, 2 in the output head). A benchmark baseline or a speed comparison against the official
code is only meaningful while this holds."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import torch

from motionkit.config import FlowConfig
from motionkit.flow import FlowSampler
from motionkit.types import Conditions

GUIDANCE_BRANCHES = 3
"""Unconditional, audio-only and audio+emotion branches, batched together (spec §9.4)."""


def official_linears(depth: int) -> int:
    """Linear layers of one official forward: t-MLP (2), x_embedder, c_embedder, 5 per block, the head's 2."""
    return 2 + 1 + 1 + 5 * depth + 2


def test_linear_calls_and_rows_per_window_match_the_official_code(
    tiny_sampler: FlowSampler, tiny_config: FlowConfig, make_conditions: Callable[..., Conditions]
) -> None:
    config = tiny_config
    frames = 2 * config.window - 3  # two windows, the second padded (spec §10.4)
    calls: Counter[tuple[int, int, int]] = Counter()

    def count(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        assert isinstance(module, torch.nn.Linear)
        x = inputs[0]
        calls[(x.numel() // x.shape[-1], module.in_features, module.out_features)] += 1

    hooks = [m.register_forward_hook(count) for m in tiny_sampler.modules() if isinstance(m, torch.nn.Linear)]
    try:
        with torch.no_grad():
            tiny_sampler.sample(make_conditions(config, frames), torch.randn(1, config.motion_dim), seed=0, nfe=10)
    finally:
        for hook in hooks:
            hook.remove()
    windows = math.ceil(frames / config.window)
    forwards = windows * (10 - 1)
    assert sum(calls.values()) == forwards * official_linears(config.depth)
    tokens = GUIDANCE_BRANCHES * config.sequence_length
    single_rows = sum(n for (rows, _, _), n in calls.items() if rows == 1)
    assert single_rows == 2 * forwards  # the time MLP runs once per forward for all branches, as officially
    assert all(rows in (1, tokens) for rows, _, _ in calls)  # everything else on every branch's 60 tokens
    assert calls[(tokens, config.hidden_dim, 6 * config.hidden_dim)] == forwards * config.depth
