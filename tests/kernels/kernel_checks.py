"""Shared helpers of the kernel tests: device, Triton availability, canary views, reference tolerances.

Without CUDA the Triton kernels run in Triton's CPU interpreter (``tests/conftest.py`` sets ``TRITON_INTERPRET=1``
before anything imports them); with CUDA the same tests run the compiled kernels on the GPU.
"""

from __future__ import annotations

import motionkit_kernels
import pytest
import torch

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

needs_triton = pytest.mark.skipif(
    not motionkit_kernels.TRITON_AVAILABLE, reason="the Triton kernels need the triton package"
)

FP32_ATOL = 1e-5
"""Absolute error allowed on top of twice the same-dtype PyTorch error (the FlashAttention test rule)."""

LOW_PRECISION_ATOL = {torch.float16: 2e-3, torch.bfloat16: 2e-2, torch.float32: FP32_ATOL, torch.float64: 1e-10}


def randn(*shape: int, dtype: torch.dtype = torch.float32, requires_grad: bool = False) -> torch.Tensor:
    return torch.randn(*shape, device=DEVICE).to(dtype).requires_grad_(requires_grad)


def canary(t: torch.Tensor, pad: int = 2, last_stride: int = 1) -> torch.Tensor:
    """``t``'s values as a non-contiguous leaf view into a NaN-filled buffer, padded by ``pad`` on every side of
    every dimension (and strided by ``last_stride`` in the last one). A kernel that reads outside the view, or
    ignores a stride, picks up NaN."""
    shape = [*(s + 2 * pad for s in t.shape[:-1]), (t.shape[-1] + 2 * pad) * last_stride]
    buffer = torch.full(shape, float("nan"), dtype=t.dtype, device=t.device)
    index = [slice(pad, pad + s) for s in t.shape[:-1]]
    index.append(slice(pad * last_stride, (pad + t.shape[-1]) * last_stride, last_stride))
    view = buffer[tuple(index)]
    view.copy_(t.detach())
    return view.detach().requires_grad_(t.requires_grad)


def max_error(actual: torch.Tensor, exact: torch.Tensor) -> float:
    return float((actual.detach().double() - exact.detach().double()).abs().max())


def assert_close_to_exact(actual: torch.Tensor, same_dtype: torch.Tensor, exact: torch.Tensor, what: str) -> None:
    """``actual`` (a kernel result) may be off the float64 ``exact`` result by at most twice the error of the PyTorch
    computation in the same dtype (``same_dtype``), plus a small absolute margin for the dtype, plus one unit in the
    last place at the largest magnitude: rounding the output to its dtype alone may cost half a unit, and the
    PyTorch result can land on the nearer side by chance (seen with float16 gradients of magnitude ~16 on an H100)."""
    atol = LOW_PRECISION_ATOL[actual.dtype]
    ulp = torch.finfo(actual.dtype).eps * float(exact.detach().abs().max()) if exact.numel() else 0.0
    error, baseline = max_error(actual, exact), max_error(same_dtype, exact)
    assert error <= 2 * baseline + atol + ulp, (
        f"{what}: error {error:.3g} > 2 x {baseline:.3g} + {atol:g} + 1 ulp ({ulp:.3g})"
    )


def grads(outputs: torch.Tensor | tuple[torch.Tensor, ...], inputs: list[torch.Tensor], seed: int = 1) -> list:
    """Gradients of ``sum(out * w)`` for fixed random weights ``w`` (one per output), w.r.t. ``inputs``."""
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    generator = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o.shape, generator=generator).to(device=o.device, dtype=o.dtype) for o in outs]
    return list(torch.autograd.grad(outs, inputs, weights))
