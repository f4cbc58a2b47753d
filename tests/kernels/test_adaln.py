"""Triton AdaLN, gated residual and the fused DiT-seam op against the references: values, gradients (including
float64 gradcheck), properties, canaries, determinism and errors. Without CUDA these run in the interpreter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_checks import DEVICE, assert_close_to_exact, canary, grads, needs_triton, randn
from motionkit_kernels import adaln_modulate, gated_residual, gated_residual_adaln, reference

from motionkit.errors import ConfigError, ShapeError
from motionkit.testing.tolerances import assert_rounding_close, layer_norm_depth, rounding_tolerance

pytestmark = needs_triton

B, T, C = 2, 13, 48  # odd T and a C that is not a power of two exercise the masks
RESIDUAL_DEPTH = 2
"""``x + gate * y``: a product and a sum."""
MODULATE_DEPTH = 2
"""``normalized * (1 + scale) + shift`` after the normalization (``1 + scale`` is exact in the references' order)."""


def _layout(name: str, b: int, t: int, c: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of two modulation tensors: per frame, broadcast over frames, channels only, or one of each."""
    return {
        "per-frame": ((b, t, c), (b, t, c)),
        "broadcast": ((b, 1, c), (b, 1, c)),
        "channels": ((c,), (c,)),
        "mixed": ((b, t, c), (b, 1, c)),
    }[name]


LAYOUTS = ["per-frame", "broadcast", "channels", "mixed"]


def _inputs(op: str, layout: str, dtype: torch.dtype, shape: tuple[int, int, int] = (B, T, C)) -> list[torch.Tensor]:
    first, second = _layout(layout, *shape)
    x, y = randn(*shape, dtype=dtype), randn(*shape, dtype=dtype)
    if op == "adaln":
        return [x, 0.5 * randn(*first, dtype=dtype), 0.5 * randn(*second, dtype=dtype)]
    if op == "residual":
        return [x, randn(*second, dtype=dtype), y]
    return [x, randn(*second, dtype=dtype), y, 0.5 * randn(*first, dtype=dtype), 0.5 * randn(*second, dtype=dtype)]


OPS: dict[str, Callable[..., torch.Tensor | tuple[torch.Tensor, torch.Tensor]]] = {
    "adaln": adaln_modulate,
    "residual": gated_residual,
    "fused": gated_residual_adaln,
}


def _outputs(op: str, tensors: list[torch.Tensor], backend: str) -> tuple[torch.Tensor, ...]:
    out = OPS[op](*tensors, backend=backend)
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("op", list(OPS))
def test_matches_reference(op: str, layout: str, dtype: torch.dtype) -> None:
    base = _inputs(op, layout, dtype)
    kernel_in = [t.detach().requires_grad_(True) for t in base]
    same_in = [t.detach().requires_grad_(True) for t in base]
    exact_in = [t.detach().double().requires_grad_(True) for t in base]
    kernel_out = _outputs(op, kernel_in, "triton")
    same_out = _outputs(op, same_in, "torch")
    exact_out = _outputs(op, exact_in, "torch")
    for got, same, exact in zip(kernel_out, same_out, exact_out):
        assert got.dtype == dtype
        assert got.shape == (B, T, C)
        assert_close_to_exact(got, same, exact, "output")
    names = {"adaln": "x shift scale", "residual": "x gate y", "fused": "x gate y shift scale"}[op].split()
    for name, got, same, exact, t in zip(
        names, grads(kernel_out, kernel_in), grads(same_out, same_in), grads(exact_out, exact_in), base
    ):
        assert got.shape == t.shape, name
        assert got.dtype == t.dtype, name
        assert_close_to_exact(got, same, exact, f"d{name}")


@pytest.mark.parametrize(("channels", "dtype"), [(1000, torch.float32), (4096, torch.bfloat16), (1, torch.float32)])
def test_matches_reference_for_wide_and_tiny_rows(channels: int, dtype: torch.dtype) -> None:
    x, y = randn(1, 3, channels, dtype=dtype), randn(1, 3, channels, dtype=dtype)
    gate, shift, scale = (0.5 * randn(1, 3, channels, dtype=dtype) for _ in range(3))
    got = gated_residual_adaln(x, gate, y, shift, scale, backend="triton")
    same = gated_residual_adaln(x, gate, y, shift, scale, backend="torch")
    exact = reference.gated_residual_adaln(*(t.double() for t in (x, gate, y, shift, scale)))
    for g, s, e in zip(got, same, exact):
        assert_close_to_exact(g, s, e, "output")


def test_float_block_shape_matches_reference_in_float32() -> None:
    # FLOAT's block seam: (B, 60, 1024) with per-frame modulation; float32 must stay at float32 round-off.
    x, y = randn(1, 60, 1024), randn(1, 60, 1024)
    gate, shift, scale = (0.5 * randn(1, 60, 1024) for _ in range(3))
    h, modulated = gated_residual_adaln(x, gate, y, shift, scale, backend="triton")
    h_ref, modulated_ref = reference.gated_residual_adaln(x, gate, y, shift, scale)
    assert_rounding_close(h, h_ref, depth=RESIDUAL_DEPTH)
    assert_rounding_close(modulated, modulated_ref, depth=RESIDUAL_DEPTH + layer_norm_depth(1024) + MODULATE_DEPTH)


@pytest.mark.parametrize("layout", ["per-frame", "broadcast"])
@pytest.mark.parametrize("op", list(OPS))
def test_float64_gradcheck(op: str, layout: str) -> None:
    inputs = [t.requires_grad_(True) for t in _inputs(op, layout, torch.float64, shape=(2, 5, 20))]

    def run(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return _outputs(op, list(tensors), "triton")

    assert torch.autograd.gradcheck(run, tuple(inputs), fast_mode=True)


# eps = 0 makes the padding rows of a tile divide by zero; they are masked out and never stored.
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@given(
    frames=st.integers(1, 9),
    channels=st.integers(2, 70),
    a=st.floats(0.05, 20.0),
    c=st.floats(-50.0, 50.0),
)
@settings(max_examples=15)
def test_normalisation_is_invariant_to_per_row_affine_input_changes(
    frames: int, channels: int, a: float, c: float
) -> None:
    x = randn(2, frames, channels, dtype=torch.float64)
    shift, scale = randn(2, frames, channels, dtype=torch.float64), randn(2, 1, channels, dtype=torch.float64)
    row_scale = a * (1 + torch.rand(2, frames, 1, dtype=torch.float64, device=DEVICE))
    row_offset = c * torch.randn(2, frames, 1, dtype=torch.float64, device=DEVICE)
    base = adaln_modulate(x, shift, scale, eps=0.0, backend="triton")
    moved = adaln_modulate(row_scale * x + row_offset, shift, scale, eps=0.0, backend="triton")
    # Rounding the moved input costs u |row_offset + row_scale x|; normalization divides by row_scale * std(x) and
    # the modulation multiplies by |1 + scale|: that is the magnitude the float64 roundings reach the output with.
    spread = row_scale * x.std(-1, correction=0, keepdim=True)
    magnitude = float(((row_offset.abs() + row_scale * x.abs()) / spread).max() * (1 + scale).abs().max())
    atol = rounding_tolerance(torch.float64, layer_norm_depth(channels) + MODULATE_DEPTH + 2, magnitude)
    torch.testing.assert_close(moved, base, rtol=0, atol=atol)


@given(
    dtype=st.sampled_from([torch.float32, torch.float16, torch.bfloat16]),
    frames=st.integers(1, 12),
    channels=st.integers(1, 80),
    broadcast=st.booleans(),
)
@settings(max_examples=15)
def test_zero_gate_gives_the_residual_exactly(dtype: torch.dtype, frames: int, channels: int, broadcast: bool) -> None:
    x, y = randn(2, frames, channels, dtype=dtype), randn(2, frames, channels, dtype=dtype)
    gate = torch.zeros(2, 1 if broadcast else frames, channels, dtype=dtype, device=DEVICE)
    shift, scale = torch.zeros_like(gate), torch.zeros_like(gate)
    assert torch.equal(gated_residual(x, gate, y, backend="triton"), x)
    h, _ = gated_residual_adaln(x, gate, y, shift, scale, backend="triton")
    assert torch.equal(h, x)


def test_zero_modulation_is_layer_norm() -> None:
    x = randn(2, 9, 40)
    zeros = torch.zeros(2, 1, 40, device=DEVICE)
    expected = F.layer_norm(x, (40,), eps=1e-6)
    assert_rounding_close(
        adaln_modulate(x, zeros, zeros, backend="triton"), expected, depth=layer_norm_depth(40) + MODULATE_DEPTH
    )


def test_broadcast_equals_per_frame_repeat_with_summed_gradients() -> None:
    x, y = randn(2, 11, 40, requires_grad=True), randn(2, 11, 40, requires_grad=True)
    mods = [randn(2, 1, 40, requires_grad=True) for _ in range(3)]
    out = gated_residual_adaln(x, mods[0], y, mods[1], mods[2], backend="triton")
    repeated = [m.detach().expand(2, 11, 40).contiguous().requires_grad_(True) for m in mods]
    out_rep = gated_residual_adaln(x, repeated[0], y, repeated[1], repeated[2], backend="triton")
    forward_depth = RESIDUAL_DEPTH + layer_norm_depth(40) + MODULATE_DEPTH
    for a, b in zip(out, out_rep):
        assert_rounding_close(a, b, depth=forward_depth)
    # The kernel sums a broadcast modulation's gradient over the 11 frames in its own order; the backward pass
    # repeats LayerNorm's reductions.
    for g, g_rep in zip(grads(out, mods), grads(out_rep, repeated)):
        assert_rounding_close(g, g_rep.sum(dim=1, keepdim=True), depth=2 * forward_depth + 11)


@pytest.mark.parametrize("last_stride", [1, 2])
@pytest.mark.parametrize("layout", ["per-frame", "broadcast"])
def test_nan_padded_strided_inputs_give_the_contiguous_result(layout: str, last_stride: int) -> None:
    base = [t.requires_grad_(True) for t in _inputs("fused", layout, torch.float32)]
    out = gated_residual_adaln(*base, backend="triton")
    expected = grads(out, base)
    views = [canary(t, last_stride=last_stride) for t in base]
    got = gated_residual_adaln(*views, backend="triton")
    for g, e in zip(got, out):
        assert torch.equal(g, e)
    for g, e in zip(grads(got, views), expected):
        assert not g.isnan().any()
        assert torch.equal(g, e)


@pytest.mark.parametrize("layout", ["per-frame", "broadcast"])
def test_results_and_gradients_are_deterministic(layout: str) -> None:
    base = [t.requires_grad_(True) for t in _inputs("fused", layout, torch.bfloat16)]
    runs = []
    for _ in range(2):
        out = gated_residual_adaln(*base, backend="triton")
        runs.append([*out, *grads(out, base)])
    for first, second in zip(*runs):
        assert torch.equal(first, second)


def test_inputs_are_not_modified() -> None:
    base = [t.requires_grad_(True) for t in _inputs("fused", "broadcast", torch.float32)]
    copies = [t.detach().clone() for t in base]
    grads(gated_residual_adaln(*base, backend="triton"), base)
    for t, c in zip(base, copies):
        assert torch.equal(t.detach(), c)


def test_too_many_channels_is_a_clear_error_on_triton_and_falls_back_on_auto() -> None:
    x = randn(1, 2, 4097)
    zeros = torch.zeros(1, 1, 4097, device=DEVICE)
    with pytest.raises(ShapeError, match=r"C <= 4096 for torch.float32, got C=4097"):
        adaln_modulate(x, zeros, zeros, backend="triton")
    assert torch.equal(adaln_modulate(x, zeros, zeros), reference.adaln_modulate(x, zeros, zeros))  # the same code


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda x, m: adaln_modulate(x[0], m, m), ShapeError, r"x must have shape \(B, T, C\)"),
        (lambda x, m: adaln_modulate(x, m[:, :, :5], m), ShapeError, r"shift must be \(B, T, C\) per frame"),
        (lambda x, m: adaln_modulate(x, m, m.expand(2, 3, 8)[:, :2]), ShapeError, r"scale must be \(B, T, C\)"),
        (lambda x, m: gated_residual(x, m, x[:, :2]), ShapeError, r"y must have the shape of x"),
        (lambda x, m: gated_residual(x, m.long(), x), ShapeError, r"gate must be floating point"),
        (lambda x, m: adaln_modulate(x, m, m, eps=-1.0), ConfigError, r"eps must be a finite number >= 0"),
        (lambda x, m: adaln_modulate(x, m, m, backend="cuda"), ConfigError, r"backend must be 'auto', 'triton'"),
    ],
)
def test_bad_inputs_are_clear_errors(call: Callable[..., object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call(randn(2, 3, 8), randn(2, 1, 8))
