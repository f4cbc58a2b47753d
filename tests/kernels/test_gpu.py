"""Checks that need a CUDA device: long sequences, large rows, and that ``backend="auto"`` picks the kernels.
(The other kernel tests also run on the GPU when one is present; these add the sizes the interpreter cannot.)"""

from __future__ import annotations

import pytest
import torch
from kernel_checks import assert_close_to_exact, grads, needs_triton
from motionkit_kernels import banded_attention, gated_residual_adaln, reference

pytestmark = [pytest.mark.gpu, needs_triton]


def _cuda(*shape: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(*shape, device="cuda", dtype=dtype, requires_grad=True)


def test_auto_runs_the_triton_kernels_on_cuda() -> None:
    q, k, v = (_cuda(2, 8, 60, 128, dtype=torch.bfloat16) for _ in range(3))
    assert torch.equal(banded_attention(q, k, v, 2), banded_attention(q, k, v, 2, backend="triton"))
    x, y, gate, shift, scale = (_cuda(2, 60, 1024, dtype=torch.bfloat16) for _ in range(5))
    auto = gated_residual_adaln(x, gate, y, shift, scale)
    forced = gated_residual_adaln(x, gate, y, shift, scale, backend="triton")
    for a, b in zip(auto, forced):
        assert torch.equal(a, b)


@pytest.mark.parametrize(("T", "window", "dtype"), [(4096, 2, torch.bfloat16), (2000, 100, torch.float16)])
def test_long_sequences_match_the_unfold_reference(T: int, window: int, dtype: torch.dtype) -> None:
    q, k, v = (_cuda(1, 8, T, 128, dtype=dtype) for _ in range(3))
    out = banded_attention(q, k, v, window, backend="triton")
    same = [t.detach().requires_grad_(True) for t in (q, k, v)]
    same_out = reference.banded_attention_unfold(*same, window)
    exact = [t.detach().double().requires_grad_(True) for t in (q, k, v)]
    exact_out = reference.banded_attention_unfold(*exact, window)
    assert_close_to_exact(out, same_out, exact_out, "output")
    for got, s, e in zip(grads(out, [q, k, v]), grads(same_out, same), grads(exact_out, exact)):
        assert_close_to_exact(got, s, e, "gradient")


@pytest.mark.parametrize("frames", [1024, 1], ids=["per-frame", "broadcast"])
def test_large_fused_adaln_matches_reference(frames: int) -> None:
    x, y = _cuda(8, 1024, 1024, dtype=torch.bfloat16), _cuda(8, 1024, 1024, dtype=torch.bfloat16)
    gate, shift, scale = (_cuda(8, frames, 1024, dtype=torch.bfloat16) for _ in range(3))
    inputs = [x, gate, y, shift, scale]
    out = gated_residual_adaln(*inputs, backend="triton")
    same_in = [t.detach().requires_grad_(True) for t in inputs]
    same_out = gated_residual_adaln(*same_in, backend="torch")
    exact_in = [t.detach().double().requires_grad_(True) for t in inputs]
    exact_out = gated_residual_adaln(*exact_in, backend="torch")
    for got, s, e in zip(out, same_out, exact_out):
        assert_close_to_exact(got, s, e, "output")
    for got, s, e in zip(grads(out, inputs), grads(same_out, same_in), grads(exact_out, exact_in)):
        assert_close_to_exact(got, s, e, "gradient")
