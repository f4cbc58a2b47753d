"""The rounding rule of ``motionkit.testing.tolerances``: it holds for reduction orders that vectorized code, blocked
matrix products and a sequential loop each use, in every dtype it accepts, and it is not loose by orders of
magnitude (a sum that rounds at every step comes within a small factor of it)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.testing.tolerances import (
    CONFIDENCE,
    MAX_DEPTH_ROUNDOFF,
    TRANSCENDENTAL_DEPTH,
    assert_rounding_close,
    attention_depth,
    layer_norm_depth,
    layers_depth,
    rounding_tolerance,
    sampled_magnitude,
    transformer_depth,
    unit_roundoff,
)

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_K = 1024
"""Longest reduction drawn (a sequential loop of Python steps; longer sums add time, not coverage)."""


def _longest_sum(dtype: torch.dtype) -> int:
    """The longest reduction whose depth (``K`` additions + 1 product) the rule accepts in ``dtype``."""
    return min(MAX_K, int(MAX_DEPTH_ROUNDOFF / unit_roundoff(dtype)) - 1)


def _sequential(terms: torch.Tensor) -> torch.Tensor:
    """Sum over the last dimension one term at a time, rounding to the terms' dtype after every addition."""
    total = terms[..., 0].clone()
    for k in range(1, terms.shape[-1]):
        total = total + terms[..., k]
    return total


def _blocked(terms: torch.Tensor, block: int) -> torch.Tensor:
    """Sum blocks of ``block`` terms with ``torch.sum`` (vectorized), then the block sums one at a time."""
    sums = [terms[..., i : i + block].sum(-1) for i in range(0, terms.shape[-1], block)]
    return _sequential(torch.stack(sums, dim=-1))


@st.composite
def _matmul_case(draw: st.DrawFn) -> tuple[torch.dtype, torch.Tensor, torch.Tensor, int, int]:
    dtype = draw(st.sampled_from(DTYPES))
    k = draw(st.integers(1, _longest_sum(dtype)))
    # float16 overflows at 65504: keep its sums of K products of scaled normals well inside
    exponent = draw(st.integers(-6, 6) if dtype == torch.float16 else st.integers(-40, 40))
    rows, cols = draw(st.integers(4, 12)), draw(st.integers(4, 12))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    a = torch.randn(rows, k, generator=generator, dtype=torch.float64) * 2.0**exponent
    b = torch.randn(k, cols, generator=generator, dtype=torch.float64)
    return dtype, a, b, draw(st.integers(1, max(1, k))), draw(st.integers(0, 2**31 - 1))


@given(_matmul_case())
def test_reordered_matrix_products_stay_within_the_rounding_bound(case: tuple) -> None:
    dtype, a, b, block, seed = case
    a_low, b_low = a.to(dtype), b.to(dtype)
    exact_of_rounded = a_low.double() @ b_low.double()  # the inputs' own rounding is not the computation's
    permutation = torch.randperm(a.shape[1], generator=torch.Generator().manual_seed(seed))
    products = a_low[:, :, None] * b_low[None]  # (rows, K, cols), each product rounded to dtype
    orders = {
        "library": a_low @ b_low,
        "sequential": _sequential(products.transpose(1, 2)),
        "permuted blocks": _blocked(products[:, permutation].transpose(1, 2), block),
    }
    depth = a.shape[1] + 1
    for name, result in orders.items():
        assert_rounding_close(result.double(), exact_of_rounded, depth=depth, dtype=dtype, msg=name)
    names = list(orders)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert_rounding_close(
                orders[first].double(), orders[second].double(), depth=depth, dtype=dtype, msg=f"{first} vs {second}"
            )


@given(
    dtype=st.sampled_from(DTYPES),
    k=st.integers(2, MAX_K),
    exponent=st.integers(-6, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_sums_of_one_sign_stay_within_the_bound_where_the_rule_applies(
    dtype: torch.dtype, k: int, exponent: int, seed: int
) -> None:
    """Terms of one sign are where rounding could be biased (partial sums only grow): inside the rule's range
    ``n u ≤ 1/4`` the errors still behave as independent."""
    k = min(k, _longest_sum(dtype))
    terms = (torch.rand(8, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2.0**exponent).to(
        dtype
    )
    exact = terms.double().sum(-1)
    assert_rounding_close(_sequential(terms).double(), exact, depth=k, dtype=dtype)
    assert_rounding_close(terms.sum(-1).double(), exact, depth=k, dtype=dtype)


def test_the_bound_is_within_a_small_factor_of_a_sum_that_rounds_at_every_step() -> None:
    """A float32 sequential sum of 4096 normal terms in 256 rows: its largest error is a few percent of the bound
    (the rule is not a loose number that would pass a wrong kernel)."""
    k = 4096
    terms = torch.randn(256, k, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = terms.sum(-1)
    error = float((_sequential(terms.float()).double() - exact).abs().max())
    bound = rounding_tolerance(torch.float32, k, float(exact.abs().max()))
    assert bound / 100 < error < bound


def test_the_bound_is_the_hoeffding_bound_of_two_evaluations() -> None:
    # λ u M √(2 n): float32 u = 2^-24; 2 n = 2 x 8 = 16
    assert rounding_tolerance(torch.float32, 8, 3.0) == pytest.approx(CONFIDENCE * 2.0**-24 * 3.0 * 4.0)
    assert unit_roundoff(torch.float64) == 2.0**-53
    assert unit_roundoff(torch.bfloat16) == 2.0**-8


def test_the_magnitude_makes_the_bound_relative() -> None:
    expected = torch.tensor([1e6, 0.0, -3e5])
    allowed = rounding_tolerance(torch.float32, 10, 1e6)
    assert_rounding_close(expected + torch.tensor([0.9 * allowed, 0.0, 0.0]), expected, depth=10)
    with pytest.raises(AssertionError, match="rounding bound for depth 10"):
        assert_rounding_close(expected + torch.tensor([0.0, 1.1 * allowed, 0.0]), expected, depth=10)


@pytest.mark.parametrize(
    ("dtype", "depth", "magnitude", "message"),
    [
        (torch.float32, 0, 1.0, "at least 1"),
        (torch.int32, 4, 1.0, "floating-point"),
        (torch.float32, 4, math.nan, "finite"),
        (torch.float32, 4, -1.0, "non-negative"),
        (torch.bfloat16, 65, 1.0, "past the rule's range"),
        (torch.float16, 513, 1.0, "past the rule's range"),
    ],
)
def test_inputs_outside_the_rule_are_refused(dtype: torch.dtype, depth: int, magnitude: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rounding_tolerance(dtype, depth, magnitude)


def test_layers_depth_counts_each_layer_fan_in_twice_plus_its_elementwise_steps() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Conv2d(3, 2, 3))
    per_layer = TRANSCENDENTAL_DEPTH + 4
    assert layers_depth(net) == (2 * 4 + per_layer) + (2 * 3 * 3 * 3 + per_layer)  # biases (1-D) add nothing


def test_block_depths_add_their_reductions() -> None:
    assert layer_norm_depth(64) == 2 * 64 + TRANSCENDENTAL_DEPTH + 3
    assert attention_depth(32, 5) == 32 + 2 * 5 + TRANSCENDENTAL_DEPTH + 3
    block = 2 * layer_norm_depth(64) + 3 * 65 + attention_depth(32, 5) + 256 + 1 + TRANSCENDENTAL_DEPTH + 2 + 8
    assert transformer_depth(64, layers=2, heads=2, hidden=256, keys=5) == 2 * block


def test_sampled_magnitude_adds_how_far_a_coordinate_error_moves_a_sample() -> None:
    ramp = torch.linspace(0, 3, 16).expand(1, 16, 16)  # steps of 0.2 along the width, none along the height
    assert sampled_magnitude(ramp, torch.tensor([0.5, -1.0])) == pytest.approx(3.0 + 1.0 * 16 / 2 * 0.2)
