"""Pure-PyTorch references of the motionkit kernels. They are the CPU path and the test oracles.

Banded attention: frame ``i`` attends to frame ``j`` iff ``|i - j| <= window``::

    O_i = sum_{|i-j|<=w} softmax_j(scale * q_i . k_j) v_j

Frame-wise AdaLN (DiT's adaLN-Zero pattern)::

    adaln_modulate(x, shift, scale) = LayerNorm(x) * (1 + scale) + shift   (LayerNorm without affine)
    gated_residual(x, gate, y)      = x + gate * y
    gated_residual_adaln(x, gate, y, shift, scale) = (h, adaln_modulate(h, shift, scale)),  h = x + gate * y

Statistics are computed in float32 (float64 for float64 input) whatever the input dtype; results are cast back.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def band_mask(length: int, window: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(T, T)`` mask, True where ``|i - j| <= window`` (may attend)."""
    idx = torch.arange(length, device=device)
    return (idx[:, None] - idx[None, :]).abs() <= window


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def banded_attention_dense(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float | None = None
) -> torch.Tensor:
    """Banded attention through SDPA with a dense ``(T, T)`` boolean mask. O(T^2) memory: use for T <= ~2k.

    Args:
        q, k, v: ``(B, H, T, Dh)``.
        window: band half-width ``w``.
        scale: softmax scale, default ``1 / sqrt(Dh)``.
    Returns:
        ``(B, H, T, Dh)`` in the input dtype.
    """
    mask = band_mask(q.shape[-2], window, q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


def banded_attention_unfold(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float | None = None
) -> torch.Tensor:
    """Banded attention in O(T * w) time and memory: each query gathers its ``2w + 1`` neighbours.

    Keys outside ``[0, T)`` are padding and get zero weight. Computed in float32 (float64 for float64 input).
    """
    T, D = q.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    width = 2 * window + 1
    cdt = _compute_dtype(q.dtype)
    qf, kf, vf = q.to(cdt), k.to(cdt), v.to(cdt)
    # Pad time by w on both sides, then view each query's neighbourhood as (T, 2w+1, D) without copying.
    kp = F.pad(kf, (0, 0, window, window)).unfold(2, width, 1)  # (B, H, T, D, 2w+1)
    vp = F.pad(vf, (0, 0, window, window)).unfold(2, width, 1)
    scores = torch.einsum("bhtd,bhtdw->bhtw", qf, kp) * scale
    offsets = torch.arange(width, device=q.device) - window
    pos = torch.arange(T, device=q.device)[:, None] + offsets[None, :]
    valid = (pos >= 0) & (pos < T)
    scores = scores.masked_fill(~valid, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    out = torch.einsum("bhtw,bhtdw->bhtd", probs, vp)
    return out.to(q.dtype)


def _layer_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    cdt = _compute_dtype(x.dtype)
    return F.layer_norm(x.to(cdt), (x.shape[-1],), eps=eps)


def adaln_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``LayerNorm(x) * (1 + scale) + shift``.

    Args:
        x: ``(B, T, C)``.
        shift, scale: ``(B, T, C)`` per frame or ``(B, 1, C)`` broadcast over frames.
    """
    cdt = _compute_dtype(x.dtype)
    out = _layer_norm(x, eps) * (1 + scale.to(cdt)) + shift.to(cdt)
    return out.to(x.dtype)


def gated_residual(x: torch.Tensor, gate: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``x + gate * y`` with ``gate`` of shape ``(B, T, C)`` or ``(B, 1, C)``."""
    cdt = _compute_dtype(x.dtype)
    return (x.to(cdt) + gate.to(cdt) * y.to(cdt)).to(x.dtype)


def gated_residual_adaln(
    x: torch.Tensor,
    gate: torch.Tensor,
    y: torch.Tensor,
    shift: torch.Tensor,
    scale: torch.Tensor,
    eps: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The DiT block seam: ``h = x + gate * y`` then ``(h, LayerNorm(h) * (1 + scale) + shift)``."""
    h = gated_residual(x, gate, y)
    return h, adaln_modulate(h, shift, scale, eps)
