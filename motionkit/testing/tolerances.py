"""The tolerance for comparing two evaluations of the same mathematics that round differently.

Two floating-point evaluations of one computation differ only because they round in different places: a fused
kernel against its reference, ``torch.compile`` against eager, a batch against its rows, a CUDA graph against eager
launches, a stream against the whole signal, and every one of these on an AVX-512 against an AVX2-only CPU (a
different vector width changes the order of every reduction and the code of every vectorized ``exp``). How far
apart they may be follows from the computation, not from a number that happened to pass on one machine.

**Model.** Each elementary operation returns its exact result ``y`` as ``y (1 + δ)`` with ``|δ| ≤ u``, the unit
roundoff ``u = eps / 2`` of the dtype. A result reached through ``n`` roundings (its *depth*, counted below) of a
well-conditioned computation carries the error ``e = Σ_i c_i δ_i``, where ``|c_i| ≤ M`` is the size of the value
rounded at step ``i`` as it reaches the output (for a sum: its partial sums; for a normalized network: its
activations; where nothing cancels, ``M`` is the size of the output).

- Worst case, every ``δ_i`` at ``u`` with one sign: ``|e| ≤ n u M`` (the ``γ_n`` bound of Higham, *Accuracy and
  Stability of Numerical Algorithms*, 2nd ed., ch. 3). It grows with ``n`` and is far from what happens.
- Rounding errors of distinct operations behave as independent and mean-zero (Higham & Mary, "A new approach to
  probabilistic rounding error analysis", SIAM J. Sci. Comput. 41(5), 2019). Each term lies in ``[-u M, u M]``, so
  Hoeffding's inequality gives ``P(|e| ≥ λ u M √n) ≤ 2 exp(-λ² / 2)``.

Two evaluations carry two such sums, ``2 n`` terms in all, so

    |a - b| ≤ λ · u · M · √(2 n)        with probability ≥ 1 - 2 exp(-λ² / 2) per element.

``λ = CONFIDENCE = 8`` puts that at ``2 exp(-32) ≈ 2.5e-14`` per element: below ``1e-5`` for every element of a
thousand tensors of a million elements, so a test on this bound fails for a wrong computation, not by chance.

**Counting the depth** ``n`` of one output element, on the longest path from the inputs to it:

- a reduction of ``K`` terms (a sum, a mean, a variance, the inner dimension of a matrix product or a convolution
  window ``C_in · k_h · k_w``) counts ``K``: sequential summation rounds ``K - 1`` times on the path of its last
  term, and the blocked or pairwise orders of vectorized code round fewer times, so ``K`` covers every order;
- an elementwise arithmetic operation counts 1;
- a transcendental function (``exp``, ``log``, ``tanh``, ``erf``, ``rsqrt``, ``sin``) counts
  :data:`TRANSCENDENTAL_DEPTH`: vectorized math libraries are accurate to 1 ulp ``= 2 u``, and a term bounded by
  ``2 u M`` weighs as four terms bounded by ``u M`` in Hoeffding's ``√(Σ (b_i - a_i)²)``;
- the stages of a chain add; a gradient's depth is the forward depth plus the backward reductions (for a weight,
  the sum over every row that used it).

**Where it holds.** Independence fails once a sum stagnates: when a term is below half a unit in the last place
of the partial sum it is lost every time, with one sign. That starts when ``n u`` nears 1 (``n`` terms of one size
sum to ``n`` times their size), so the rule asks ``n u ≤`` :data:`MAX_DEPTH_ROUNDOFF`: any depth in float32 and
float64, ``n ≤ 512`` in float16 and ``n ≤ 64`` in bfloat16 (low-precision kernels accumulate in float32, and their
tests compare with the same-dtype PyTorch error instead).

**The magnitude** ``M`` defaults to the largest absolute value of the expected tensor: the bound is norm-wise
relative (``‖a - b‖_∞ ≤ tol · ‖b‖_∞``), which holds for elements near zero that an element-wise relative test
would reject. Pass a larger ``magnitude`` where the computation cancels (intermediates larger than its output).
"""

from __future__ import annotations

import math

import torch

CONFIDENCE = 8.0
"""``λ`` of the Hoeffding bound: an element fails by chance with probability at most ``2 exp(-λ² / 2)``."""

MAX_DEPTH_ROUNDOFF = 0.25
"""Largest ``n u`` the rule accepts: beyond it sums stagnate and their rounding errors stop being independent."""

TRANSCENDENTAL_DEPTH = 4
"""Depth of one vectorized transcendental function: its 1-ulp error ``2 u`` weighs as four roundings."""


def unit_roundoff(dtype: torch.dtype) -> float:
    """``u = eps / 2``: the largest relative error of rounding a real number to ``dtype`` (round to nearest)."""
    if not dtype.is_floating_point:
        raise ValueError(f"rounding tolerances are for floating-point dtypes, not {dtype}")
    return torch.finfo(dtype).eps / 2


def rounding_tolerance(dtype: torch.dtype, depth: int, magnitude: float = 1.0) -> float:
    """The absolute bound ``λ u M √(2 n)`` on the difference of two evaluations of one computation.

    Args:
        dtype: the dtype the computation rounds to (the lower precision where it mixes two).
        depth: ``n``, the number of roundings on the longest path to one output element (module docstring).
        magnitude: ``M``, the size of the values that are rounded, as they reach the output.
    """
    if depth < 1:
        raise ValueError(f"depth counts roundings and must be at least 1, got {depth}")
    u = unit_roundoff(dtype)
    if depth * u > MAX_DEPTH_ROUNDOFF:
        raise ValueError(
            f"depth {depth} in {dtype} is past the rule's range (n u = {depth * u:.3g} > {MAX_DEPTH_ROUNDOFF}): "
            "sums that long stagnate; accumulate in a wider dtype or compare with the same-dtype error"
        )
    if not math.isfinite(magnitude) or magnitude < 0:
        raise ValueError(f"magnitude must be finite and non-negative, got {magnitude}")
    return CONFIDENCE * u * magnitude * math.sqrt(2 * depth)


def assert_rounding_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    *,
    depth: int,
    dtype: torch.dtype | None = None,
    magnitude: float | None = None,
    msg: str | None = None,
) -> None:
    """Assert that ``actual`` and ``expected`` differ by no more than rounding: ``|a - b| ≤ λ u M √(2 n)``.

    Args:
        actual, expected: the two evaluations, same shape, dtype and device (``torch.testing.assert_close`` checks).
        depth: ``n``, roundings on the longest path to one element (module docstring).
        dtype: the dtype the computation rounds to; defaults to ``actual.dtype`` (pass the computation's dtype
            when the results were converted to float64 for the comparison).
        magnitude: ``M``; defaults to ``max |expected|`` (a norm-wise relative bound).
    """
    if magnitude is None:
        magnitude = float(expected.detach().abs().max()) if expected.numel() else 0.0
    atol = rounding_tolerance(dtype or actual.dtype, depth, magnitude)
    note = f"rounding bound for depth {depth}, magnitude {magnitude:.3g}"
    torch.testing.assert_close(
        actual, expected, rtol=0.0, atol=atol, msg=(lambda default: f"{msg + ': ' if msg else ''}{default} ({note})")
    )


def layer_norm_depth(channels: int) -> int:
    """Depth of LayerNorm over ``channels``: the mean and the variance (a reduction each), ``rsqrt``, then
    subtracting, multiplying and the affine step (3 elementwise)."""
    return 2 * channels + TRANSCENDENTAL_DEPTH + 3


def attention_depth(head_dim: int, keys: int) -> int:
    """Depth of softmax attention of one query over ``keys`` keys of ``head_dim`` channels: ``q · k``
    (``head_dim``), the scale and the max subtraction (2), ``exp``, the normalizer's sum and the weighted sum of values
    (``keys`` each) and the division (1). Keys that a mask sets to ``-inf`` add exact zeros and do not count."""
    return head_dim + 2 * keys + TRANSCENDENTAL_DEPTH + 3


def transformer_depth(width: int, *, layers: int, heads: int, hidden: int, keys: int) -> int:
    """Depth of ``layers`` pre-norm transformer blocks of ``width`` channels on the longest path.

    Per block: two LayerNorms; the q/k/v projection, the attention output projection and the MLP's first projection
    (``width + 1`` each with the bias); attention over ``keys`` keys; the MLP's second projection (``hidden + 1``)
    around its activation (a transcendental and 2 elementwise steps); up to four modulation or gated-residual steps
    (2 each).
    """
    block = (
        2 * layer_norm_depth(width)
        + 3 * (width + 1)
        + attention_depth(width // heads, keys)
        + hidden
        + 1
        + TRANSCENDENTAL_DEPTH
        + 2
        + 4 * 2
    )
    return layers * block


def layers_depth(module: torch.nn.Module) -> int:
    """An upper bound on the depth of any path through ``module``'s layers, read from its weights.

    Every weight of two or more dimensions (a linear layer, a convolution) counts its fan-in twice (the product,
    and the normalization or weight demodulation over the same window that a layer may add), plus a transcendental
    activation and 4 elementwise steps (bias, gain, noise or residual). A path meets each layer at most once, so
    the sum over all layers bounds the longest one (it overcounts parallel branches, which only loosens the bound
    by the square root of that factor).
    """
    depth = 0
    for weight in module.parameters():
        if weight.dim() >= 2:
            depth += 2 * (weight[0].numel()) + TRANSCENDENTAL_DEPTH + 4
    return max(depth, 1)


def sampled_magnitude(values: torch.Tensor, grid: torch.Tensor) -> float:
    """``M`` of images bilinearly sampled at computed coordinates (a warp): their size, plus what a rounding error of
    the coordinates does to them. An error ``ε`` of a coordinate of ``grid`` (``[-1, 1]`` across ``W`` pixels)
    moves a sample by ``ε W / 2`` pixels, which changes its value by up to that times the largest step between
    neighbouring pixels.

    Args:
        values: the sampled images ``(..., H, W)``.
        grid: the sampling coordinates in ``[-1, 1]`` (any shape).
    """
    step = max(float(values.diff(dim=-1).abs().max()), float(values.diff(dim=-2).abs().max()))
    return float(values.abs().max()) + float(grid.abs().max()) * values.shape[-1] / 2 * step
