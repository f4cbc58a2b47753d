"""Triton banded attention against the references: values, gradients, properties, canaries, determinism, errors.

Without CUDA these run in Triton's CPU interpreter, so shapes are kept small.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_checks import DEVICE, assert_close_to_exact, canary, grads, needs_triton, randn
from motionkit_kernels import banded_attention, reference

from motionkit.errors import ConfigError, ShapeError
from motionkit.testing.tolerances import assert_rounding_close, attention_depth

pytestmark = needs_triton

LOW_PRECISION = [torch.float32, torch.float16, torch.bfloat16]


def _check_against_reference(B: int, H: int, T: int, head_dim: int, window: int, dtype: torch.dtype) -> None:
    q, k, v = (randn(B, H, T, head_dim, dtype=dtype, requires_grad=True) for _ in range(3))
    out = banded_attention(q, k, v, window, backend="triton")
    assert out.shape == q.shape
    assert out.dtype == dtype
    same = [t.detach().requires_grad_(True) for t in (q, k, v)]
    same_out = reference.banded_attention_dense(*same, window)
    exact = [t.detach().double().requires_grad_(True) for t in (q, k, v)]
    exact_out = reference.banded_attention_dense(*exact, window)
    assert_close_to_exact(out, same_out, exact_out, "output")
    for name, got, s, e in zip(
        ("dq", "dk", "dv"), grads(out, [q, k, v]), grads(same_out, same), grads(exact_out, exact)
    ):
        assert_close_to_exact(got, s, e, name)


@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=str)
@pytest.mark.parametrize("head_dim", [32, 64, 128])
def test_matches_reference_for_every_dtype_and_head_dim(dtype: torch.dtype, head_dim: int) -> None:
    _check_against_reference(B=2, H=2, T=37, head_dim=head_dim, window=2, dtype=dtype)


@pytest.mark.parametrize(
    ("T", "window"),
    [(1, 0), (1, 5), (16, 0), (60, 2), (65, 8), (70, 33), (23, 40), (129, 2)],
)
def test_matches_reference_for_any_length_and_window(T: int, window: int) -> None:
    # 33 and 40 take the wide-window tiles; 65 and 129 leave a partial last block.
    _check_against_reference(B=1, H=2, T=T, head_dim=32, window=window, dtype=torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_matches_reference_at_the_float_shape(dtype: torch.dtype) -> None:
    # FLOAT's transformer: 8 heads of 128, L' + L = 60 frames, window 2.
    _check_against_reference(B=1, H=8, T=60, head_dim=128, window=2, dtype=dtype)


def test_window_zero_returns_v_exactly() -> None:
    q, k, v = (randn(2, 2, 19, 32) for _ in range(3))
    assert torch.equal(banded_attention(q, k, v, 0, backend="triton"), v)


def test_window_covering_the_sequence_is_full_attention() -> None:
    q, k, v = (randn(1, 2, 21, 64) for _ in range(3))
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double())
    for window in (20, 1000):
        got = banded_attention(q, k, v, window, backend="triton").double()
        assert_rounding_close(got, expected, depth=attention_depth(64, 21), dtype=torch.float32)


def test_explicit_scale_is_used() -> None:
    q, k, v = (randn(1, 1, 24, 32) for _ in range(3))
    got = banded_attention(q, k, v, 3, scale=0.37, backend="triton")
    assert_rounding_close(got, reference.banded_attention_dense(q, k, v, 3, scale=0.37), depth=attention_depth(32, 7))


@given(T=st.integers(1, 80), window=st.integers(0, 6), data=st.data())
@settings(max_examples=15)
def test_changing_a_key_changes_only_rows_within_the_window(T: int, window: int, data: st.DataObject) -> None:
    j = data.draw(st.integers(0, T - 1), label="j")
    q, k, v = (randn(1, 1, T, 32) for _ in range(3))
    before = banded_attention(q, k, v, window, backend="triton")
    k2, v2 = k.clone(), v.clone()
    k2[..., j, :] += 3.0
    v2[..., j, :] -= 5.0
    after = banded_attention(q, k2, v2, window, backend="triton")
    rows = torch.arange(T, device=DEVICE)
    far = (rows - j).abs() > window
    assert torch.equal(after[..., far, :], before[..., far, :]), "rows outside the window must be bitwise unchanged"
    assert not torch.equal(after[..., j, :], before[..., j, :]), "the perturbed frame's own row must change"


@given(T=st.integers(1, 70), window=st.integers(0, 9))
@settings(max_examples=10)
def test_time_reversal_equivariance(T: int, window: int) -> None:
    q, k, v = (randn(1, 2, T, 32) for _ in range(3))
    forward = banded_attention(q, k, v, window, backend="triton")
    flipped = banded_attention(q.flip(2), k.flip(2), v.flip(2), window, backend="triton")
    # reversed rows land at other positions in the kernel's tiles: the same math in another order
    assert_rounding_close(flipped.flip(2), forward, depth=attention_depth(32, 2 * window + 1))


def test_batch_and_head_permutation_equivariance() -> None:
    q, k, v = (randn(3, 4, 29, 32) for _ in range(3))
    out = banded_attention(q, k, v, 2, backend="triton")
    pb, ph = torch.tensor([2, 0, 1]), torch.tensor([3, 1, 0, 2])

    def permute(t: torch.Tensor) -> torch.Tensor:
        return t[pb][:, ph]

    assert torch.equal(banded_attention(permute(q), permute(k), permute(v), 2, backend="triton"), permute(out))


@pytest.mark.parametrize("last_stride", [1, 2])
def test_nan_padded_strided_inputs_give_the_contiguous_result(last_stride: int) -> None:
    q, k, v = (randn(2, 2, 45, 32, requires_grad=True) for _ in range(3))
    out = banded_attention(q, k, v, 3, backend="triton")
    expected_grads = grads(out, [q, k, v])
    views = [canary(t, last_stride=last_stride) for t in (q, k, v)]
    got = banded_attention(*views, 3, backend="triton")
    assert torch.equal(got, out)
    for got_grad, want in zip(grads(got, views), expected_grads):
        assert not got_grad.isnan().any()
        assert torch.equal(got_grad, want)


def test_gradient_of_a_nan_padded_output_gradient() -> None:
    q, k, v = (randn(1, 2, 33, 64, requires_grad=True) for _ in range(3))
    out = banded_attention(q, k, v, 2, backend="triton")
    weight = randn(*out.shape)
    expected = torch.autograd.grad(out, (q, k, v), weight)
    out = banded_attention(q, k, v, 2, backend="triton")
    got = torch.autograd.grad(out, (q, k, v), canary(weight))
    for g, e in zip(got, expected):
        assert torch.equal(g, e)


def test_results_and_gradients_are_deterministic() -> None:
    q, k, v = (randn(2, 2, 50, 32, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    runs = []
    for _ in range(2):
        out = banded_attention(q, k, v, 4, backend="triton")
        runs.append([out, *grads(out, [q, k, v])])
    for first, second in zip(*runs):
        assert torch.equal(first, second)


def test_inputs_are_not_modified() -> None:
    q, k, v = (randn(1, 2, 20, 32, requires_grad=True) for _ in range(3))
    copies = [t.detach().clone() for t in (q, k, v)]
    grads(banded_attention(q, k, v, 2, backend="triton"), [q, k, v])
    for t, c in zip((q, k, v), copies):
        assert torch.equal(t.detach(), c)


def test_unsupported_head_dim_is_a_clear_error_on_triton_and_falls_back_on_auto() -> None:
    q, k, v = (randn(1, 1, 10, 48) for _ in range(3))
    with pytest.raises(ShapeError, match=r"head dims \(32, 64, 128\), got Dh=48"):
        banded_attention(q, k, v, 2, backend="triton")
    assert_rounding_close(
        banded_attention(q, k, v, 2), reference.banded_attention_dense(q, k, v, 2), depth=attention_depth(48, 5)
    )


def test_float64_is_a_clear_error_on_triton() -> None:
    q, k, v = (randn(1, 1, 10, 32, dtype=torch.float64) for _ in range(3))
    with pytest.raises(ShapeError, match=r"float16, bfloat16 or float32, got torch.float64"):
        banded_attention(q, k, v, 2, backend="triton")


@pytest.mark.parametrize(
    ("shapes", "match"),
    [
        (((1, 10, 32), (1, 10, 32), (1, 10, 32)), r"q must have shape \(B, H, T, Dh\)"),
        (((1, 1, 10, 32), (1, 1, 11, 32), (1, 1, 10, 32)), r"k must have the shape of q"),
        (((1, 1, 10, 32), (1, 1, 10, 32), (1, 2, 10, 32)), r"v must have the shape of q"),
        (((1, 1, 0, 32), (1, 1, 0, 32), (1, 1, 0, 32)), r"T >= 1"),
    ],
)
def test_bad_shapes_are_clear_errors(shapes: tuple, match: str) -> None:
    q, k, v = (randn(*s) for s in shapes)
    for backend in ("torch", "triton"):
        with pytest.raises(ShapeError, match=match):
            banded_attention(q, k, v, 2, backend=backend)  # type: ignore[arg-type]


def test_mixed_dtypes_are_a_clear_error() -> None:
    q, k = randn(1, 1, 8, 32), randn(1, 1, 8, 32)
    with pytest.raises(ShapeError, match="share one dtype"):
        banded_attention(q, k, k.half(), 2)


@pytest.mark.parametrize("window", [-1, 2.0, True])
def test_bad_window_is_a_clear_error(window: object) -> None:
    q = randn(1, 1, 8, 32)
    with pytest.raises(ConfigError, match="window must be an int >= 0"):
        banded_attention(q, q, q, window)  # type: ignore[arg-type]
