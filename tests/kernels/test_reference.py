"""The PyTorch references: dense-mask SDPA and O(T * w) unfold attention agree, and AdaLN follows its formula."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from motionkit_kernels import reference

from motionkit.testing.tolerances import assert_rounding_close, attention_depth, layer_norm_depth


def _explicit_banded_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int) -> torch.Tensor:
    """The band written out with a softmax over the allowed keys only, in float64."""
    T = q.shape[-2]
    scores = q.double() @ k.double().transpose(-1, -2) / math.sqrt(q.shape[-1])
    idx = torch.arange(T)
    allowed = (idx[:, None] - idx[None, :]).abs() <= window
    probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    return probs @ v.double()


@given(
    T=st.integers(1, 40),
    window=st.integers(0, 45),
    heads=st.integers(1, 3),
    head_dim=st.sampled_from([4, 16, 24]),
)
@settings(max_examples=25)
def test_dense_and_unfold_match_the_explicit_band(T: int, window: int, heads: int, head_dim: int) -> None:
    q, k, v = (torch.randn(2, heads, T, head_dim, dtype=torch.float64) for _ in range(3))
    expected = _explicit_banded_attention(q, k, v, window)
    depth = attention_depth(head_dim, min(T, 2 * window + 1))
    assert_rounding_close(reference.banded_attention_dense(q, k, v, window), expected, depth=depth)
    assert_rounding_close(reference.banded_attention_unfold(q, k, v, window), expected, depth=depth)


def test_unfold_matches_dense_at_long_sequences_with_gradients() -> None:
    q, k, v = (torch.randn(1, 2, 2000, 16, requires_grad=True) for _ in range(3))
    dense = reference.banded_attention_dense(q, k, v, 3)
    unfold = reference.banded_attention_unfold(q, k, v, 3)
    depth = attention_depth(16, 2 * 3 + 1)
    assert_rounding_close(unfold, dense, depth=depth)
    weights = torch.randn_like(dense)
    dense_grads = torch.autograd.grad(dense, (q, k, v), weights)
    unfold_grads = torch.autograd.grad(unfold, (q, k, v), weights)
    for got, want in zip(unfold_grads, dense_grads):  # the backward pass repeats each reduction, transposed
        assert_rounding_close(got, want, depth=2 * depth)


def test_band_mask_is_the_float_alignment_mask() -> None:
    mask = reference.band_mask(60, 2)
    assert mask[0].nonzero().flatten().tolist() == [0, 1, 2]
    assert mask[30].nonzero().flatten().tolist() == [28, 29, 30, 31, 32]
    assert mask[59].nonzero().flatten().tolist() == [57, 58, 59]


@pytest.mark.parametrize("frames", [7, 1])
def test_adaln_reference_follows_its_formula(frames: int) -> None:
    x = torch.randn(2, 7, 32, dtype=torch.float64)
    shift, scale = torch.randn(2, frames, 32, dtype=torch.float64), torch.randn(2, frames, 32, dtype=torch.float64)
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-6) * (1 + scale) + shift
    # layer_norm_depth covers the statistics; + 2 for the modulation
    assert_rounding_close(reference.adaln_modulate(x, shift, scale), expected, depth=layer_norm_depth(32) + 2)
    gate, y = torch.randn(2, frames, 32, dtype=torch.float64), torch.randn(2, 7, 32, dtype=torch.float64)
    h, modulated = reference.gated_residual_adaln(x, gate, y, shift, scale)
    # the fused reference is built from the same operations: exactly equal
    torch.testing.assert_close(h, x + gate * y, rtol=0, atol=0)
    torch.testing.assert_close(modulated, reference.adaln_modulate(x + gate * y, shift, scale), rtol=0, atol=0)


def test_adaln_reference_computes_statistics_in_float32_for_bfloat16() -> None:
    x = (torch.randn(1, 4, 256) * 30 + 1000).to(torch.bfloat16)
    zeros = torch.zeros(1, 1, 256, dtype=torch.bfloat16)
    got = reference.adaln_modulate(x, zeros, zeros)
    expected = F.layer_norm(x.float(), (256,), eps=1e-6).to(torch.bfloat16)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, expected, rtol=0, atol=0)  # the same float32 statistics, rounded once
