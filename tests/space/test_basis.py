"""The motion basis: FLOAT's QR rule, orthonormality for any weight, parity with the official code."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.errors import NonFiniteError, ShapeError
from motionkit.space import MotionSpace, orthonormal_basis
from motionkit.space.basis import QR_EPSILON
from motionkit.testing import parity_fixture, synthetic_tensor


def _orthonormality_error(basis: torch.Tensor) -> float:
    gram = basis.double().T @ basis.double()
    return float((gram - torch.eye(basis.shape[1], dtype=torch.float64)).abs().max())


def _ill_conditioned(dim: int, rank: int, log_condition: float, seed: int) -> torch.Tensor:
    """A (dim, rank) float32 weight with singular values spread over 10^log_condition."""
    generator = torch.Generator().manual_seed(seed)
    left, _ = torch.linalg.qr(torch.randn(dim, rank, generator=generator, dtype=torch.float64))
    right, _ = torch.linalg.qr(torch.randn(rank, rank, generator=generator, dtype=torch.float64))
    singular = torch.logspace(0, -log_condition, rank, dtype=torch.float64)
    return ((left * singular) @ right.T).float()


@given(
    dim=st.integers(1, 96),
    rank_fraction=st.floats(0.0, 1.0),
    log_condition=st.floats(0.0, 12.0),
    seed=st.integers(0, 2**16),
)
def test_basis_is_orthonormal_for_any_weight(dim: int, rank_fraction: float, log_condition: float, seed: int) -> None:
    rank = max(1, round(rank_fraction * dim))
    weight = _ill_conditioned(dim, rank, log_condition, seed)
    basis = orthonormal_basis(weight)
    assert basis.shape == (dim, rank)
    assert basis.dtype == torch.float32
    assert _orthonormality_error(basis) <= 1e-5


@pytest.mark.parametrize("shape", [(512, 20), (512, 40), (1024, 64), (20, 20), (7, 1)])
def test_basis_is_orthonormal_for_model_shapes(shape: tuple[int, int]) -> None:
    weight = torch.randn(*shape)
    assert _orthonormality_error(orthonormal_basis(weight)) <= 1e-5


@pytest.mark.parametrize(
    "weight",
    [
        torch.zeros(64, 8),  # becomes a constant matrix of 1e-8: rank one
        torch.ones(64, 8),  # identical columns
        torch.cat([torch.randn(64, 4)] * 2, dim=1),  # duplicated columns
        torch.randn(64, 8) * 1e-30,  # far below the 1e-8 shift
        torch.randn(64, 8) * 1e30,
    ],
    ids=["zeros", "ones", "duplicate-columns", "tiny", "huge"],
)
def test_basis_is_orthonormal_for_degenerate_weights(weight: torch.Tensor) -> None:
    basis = orthonormal_basis(weight)
    assert torch.isfinite(basis).all()
    assert _orthonormality_error(basis) <= 1e-5


def test_basis_is_q_of_shifted_weight() -> None:
    weight = torch.randn(32, 6, dtype=torch.float64)
    q, r = torch.linalg.qr(weight + QR_EPSILON)
    torch.testing.assert_close(orthonormal_basis(weight), q, rtol=0, atol=0)
    torch.testing.assert_close(orthonormal_basis(weight) @ r, weight + QR_EPSILON)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_weight_is_decomposed_in_float32(dtype: torch.dtype) -> None:
    weight = torch.randn(128, 10).to(dtype)
    basis = orthonormal_basis(weight)
    assert basis.dtype == dtype
    torch.testing.assert_close(basis, orthonormal_basis(weight.float()).to(dtype), rtol=0, atol=0)
    assert _orthonormality_error(basis) <= 2e-2


def test_bad_weights_raise() -> None:
    with pytest.raises(ShapeError, match=r"M <= D"):
        orthonormal_basis(torch.randn(4, 5))
    with pytest.raises(ShapeError, match="at least one direction"):
        orthonormal_basis(torch.randn(4, 0))
    with pytest.raises(ShapeError, match="2 dimensions"):
        orthonormal_basis(torch.randn(4, 5, 2))
    with pytest.raises(ShapeError, match="dtype int64"):
        orthonormal_basis(torch.ones(4, 2, dtype=torch.int64))
    with pytest.raises(NonFiniteError, match="NaN or infinite"):
        orthonormal_basis(torch.tensor([[1.0], [float("nan")]]))
    with pytest.raises(ShapeError, match="M <= D"):
        MotionSpace.from_weight(torch.randn(3, 4))
    with pytest.raises(NonFiniteError):
        MotionSpace.from_weight(torch.full((8, 2), float("inf")))


@pytest.mark.parity
def test_basis_matches_official_float_code() -> None:
    fixture = parity_fixture()
    weight = synthetic_tensor("motion_autoencoder.dec.direction.weight", (512, 20))
    space = MotionSpace.from_weight(weight)
    fixture.assert_close("enc_Q", space.basis)
    fixture.assert_close("enc_r_s", space.compose(fixture.tensor("enc_lambda")))
    fixture.assert_close("enc_lambda", space.project(fixture.tensor("enc_r_s")))


def test_from_weight_of_a_trainable_parameter_gives_a_constant_basis() -> None:
    weight = torch.nn.Parameter(torch.randn(32, 4))
    space = MotionSpace.from_weight(weight)
    assert not space.basis.requires_grad
    torch.testing.assert_close(space.basis, orthonormal_basis(weight.detach()), rtol=0, atol=0)
