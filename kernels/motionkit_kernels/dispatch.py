"""Backend selection for the public kernel functions (Triton on CUDA, PyTorch reference elsewhere)."""

from __future__ import annotations

from typing import Literal

import torch

from motionkit_kernels import reference

Backend = Literal["auto", "triton", "torch"]

DENSE_ATTENTION_MAX_T = 1024
"""Up to this sequence length the dense-mask SDPA reference is used on CPU; above it, the O(T*w) unfold."""


def _check_backend(backend: str) -> None:
    if backend not in ("auto", "triton", "torch"):
        raise ValueError(f"backend must be 'auto', 'triton' or 'torch', got {backend!r}")
    if backend == "triton":
        raise NotImplementedError("the Triton backend is not available in this build")


def banded_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    scale: float | None = None,
    backend: Backend = "auto",
) -> torch.Tensor:
    """Attention of each frame to frames within ``window`` of it; ``q, k, v``: ``(B, H, T, Dh)``."""
    _check_backend(backend)
    if q.shape[-2] <= DENSE_ATTENTION_MAX_T:
        return reference.banded_attention_dense(q, k, v, window, scale)
    return reference.banded_attention_unfold(q, k, v, window, scale)


def adaln_modulate(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float = 1e-6, backend: Backend = "auto"
) -> torch.Tensor:
    """``LayerNorm(x) * (1 + scale) + shift`` (no affine LayerNorm); see :mod:`motionkit_kernels.reference`."""
    _check_backend(backend)
    return reference.adaln_modulate(x, shift, scale, eps)


def gated_residual(x: torch.Tensor, gate: torch.Tensor, y: torch.Tensor, backend: Backend = "auto") -> torch.Tensor:
    """``x + gate * y``."""
    _check_backend(backend)
    return reference.gated_residual(x, gate, y)


def gated_residual_adaln(
    x: torch.Tensor,
    gate: torch.Tensor,
    y: torch.Tensor,
    shift: torch.Tensor,
    scale: torch.Tensor,
    eps: float = 1e-6,
    backend: Backend = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``h = x + gate * y``; returns ``(h, LayerNorm(h) * (1 + scale) + shift)``."""
    _check_backend(backend)
    return reference.gated_residual_adaln(x, gate, y, shift, scale, eps)
