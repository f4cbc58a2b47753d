"""MotionSpace projection algebra: identities, Parseval, any leading shape, dtypes, devices, bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.errors import NonFiniteError, ShapeError
from motionkit.space import MotionSpace
from motionkit.testing.tolerances import assert_rounding_close, rounding_tolerance, unit_roundoff


def _space(dim: int, rank: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> MotionSpace:
    return MotionSpace.random(dim=dim, rank=rank, seed=seed, dtype=dtype)


def _depth(dim: int, rank: int) -> int:
    """Roundings behind an identity of the space (``motionkit.testing.tolerances``): the basis is orthonormal to
    ``O(dim rank u)`` (Householder QR, Higham's Theorem 19.4, or one rounding of each element when cast from
    float64, which a dim-long sum gathers), then a projection (dim terms) and a composition (rank terms)."""
    return dim * rank + dim + rank


shapes = st.tuples(st.integers(1, 48), st.integers(1, 48)).map(lambda dm: (max(dm), min(dm)))
leading = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@given(shape=shapes, lead=leading, seed=st.integers(0, 1000))
def test_project_compose_identities(shape: tuple[int, int], lead: tuple[int, ...], seed: int) -> None:
    dim, rank = shape
    space = _space(dim, rank, seed)
    generator = torch.Generator().manual_seed(seed)
    coefficients = torch.randn(*lead, rank, generator=generator, dtype=torch.float64)
    latents = torch.randn(*lead, dim, generator=generator, dtype=torch.float64)

    depth = _depth(dim, rank)
    size = float(latents.abs().max())  # what the rounded values are as large as, where the expected value is 0
    # project o compose = identity on coefficients
    assert_rounding_close(space.project(space.compose(coefficients)), coefficients, depth=depth)
    # compose o project is idempotent and equals V V^T
    once = space.compose(space.project(latents))
    assert_rounding_close(space.compose(space.project(once)), once, depth=2 * depth, magnitude=size)
    assert_rounding_close(once, latents @ (space.basis @ space.basis.T), depth=depth, magnitude=size)
    # the residual completes the decomposition and is orthogonal to the span
    residual = space.residual(latents)
    assert_rounding_close(once + residual, latents, depth=depth + 1)
    assert_rounding_close(space.project(residual), torch.zeros_like(coefficients), depth=2 * depth, magnitude=size)
    # Parseval: |V^T x|^2 + |residual|^2 = |x|^2, and |V c| = |c|
    total = space.project(latents).square().sum(-1) + residual.square().sum(-1)
    assert_rounding_close(total, latents.square().sum(-1), depth=2 * depth + dim)
    assert_rounding_close(space.compose(coefficients).norm(dim=-1), coefficients.norm(dim=-1), depth=depth + dim)


def test_float32_identities_within_float32_precision() -> None:
    space = _space(512, 20, dtype=torch.float32)
    latents = torch.randn(2, 30, 512)
    coefficients = torch.randn(2, 30, 20)
    assert space.project(latents).dtype == torch.float32
    assert_rounding_close(space.project(space.compose(coefficients)), coefficients, depth=_depth(512, 20))
    decomposed = space.compose(space.project(latents)) + space.residual(latents)
    assert_rounding_close(decomposed, latents, depth=_depth(512, 20) + 1)


def test_bfloat16_is_computed_in_float32_and_cast_back() -> None:
    space = _space(64, 8, dtype=torch.float32)
    latents = torch.randn(3, 64).to(torch.bfloat16)
    coefficients = space.project(latents)
    assert coefficients.dtype == torch.bfloat16
    torch.testing.assert_close(coefficients, space.project(latents.float()).to(torch.bfloat16), rtol=0, atol=0)
    assert space.compose(coefficients).dtype == torch.bfloat16
    assert space.residual(latents).dtype == torch.bfloat16


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_random_space_is_deterministic_and_dtype_independent(dtype: torch.dtype) -> None:
    first, second = _space(40, 6, seed=3, dtype=dtype), _space(40, 6, seed=3, dtype=dtype)
    assert first.basis.dtype == dtype
    torch.testing.assert_close(first.basis, second.basis, rtol=0, atol=0)
    # the float64 basis cast once: off by at most one rounding, u |x|
    torch.testing.assert_close(first.basis.double(), _space(40, 6, seed=3).basis, rtol=unit_roundoff(dtype), atol=0)
    assert not torch.equal(_space(40, 6, seed=4).basis, _space(40, 6, seed=3).basis)


def test_space_owns_its_basis() -> None:
    basis, _ = torch.linalg.qr(torch.randn(16, 4, dtype=torch.float64))
    space = MotionSpace(basis)
    basis.zero_()  # the caller's tensor changes; the space must not
    assert float(space.basis.abs().sum()) > 0


def test_projection_does_not_modify_inputs() -> None:
    space = _space(16, 4)
    latents = torch.randn(5, 16, dtype=torch.float64)
    copy = latents.clone()
    space.project(latents), space.compose(space.project(latents)), space.residual(latents)
    assert torch.equal(latents, copy)


def test_to_moves_basis_and_keeps_axes() -> None:
    space = _space(16, 4).with_axes([])
    moved = space.to(dtype=torch.float32)
    assert moved.dtype == torch.float32
    assert moved.device == torch.device("cpu")
    assert dict(moved.axes) == dict(space.axes)


def test_bad_input_raises_clear_errors() -> None:
    space = _space(16, 4)
    with pytest.raises(ShapeError, match=r"last dimension 16"):
        space.project(torch.randn(3, 15, dtype=torch.float64))
    with pytest.raises(ShapeError, match=r"last dimension 4"):
        space.compose(torch.randn(3, 5, dtype=torch.float64))
    with pytest.raises(ShapeError, match=r"last dimension 16"):
        space.residual(torch.randn(16, 3))
    with pytest.raises(NonFiniteError):
        space.project(torch.full((2, 16), float("nan")))
    with pytest.raises(NonFiniteError):
        space.compose(torch.tensor([[0.0, float("inf"), 0.0, 0.0]]))
    with pytest.raises(ShapeError, match=r"must be a torch\.Tensor"):
        space.project([0.0] * 16)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="not orthonormal"):
        MotionSpace(torch.randn(16, 4))
    with pytest.raises(ShapeError, match="1 <= M <= D"):
        MotionSpace(torch.eye(4, 6))
    with pytest.raises(ShapeError, match="1 <= rank <= dim"):
        MotionSpace.random(dim=4, rank=5)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_matches_cpu(dtype: torch.dtype) -> None:
    space = _space(512, 20, dtype=torch.float32)
    latents = torch.randn(2, 10, 512).to(dtype)
    on_gpu = space.project(latents.cuda())
    assert on_gpu.device.type == "cuda"
    assert on_gpu.dtype == dtype
    # float32 sums in the two devices' orders; a low-precision result is then cast once on each side, and two
    # float32 values that straddle a rounding boundary land one unit in the last place (2 u |x|) apart
    expected = space.project(latents)
    size = float(expected.abs().max())
    atol = rounding_tolerance(torch.float32, 512, size) + 2 * unit_roundoff(dtype) * size
    torch.testing.assert_close(on_gpu.cpu(), expected, rtol=0, atol=atol)
    composed = space.compose(on_gpu.cpu())
    size = float(composed.abs().max())
    atol = rounding_tolerance(torch.float32, 20, size) + 2 * unit_roundoff(dtype) * size
    torch.testing.assert_close(space.to("cuda").compose(on_gpu).cpu(), composed, rtol=0, atol=atol)
