"""``@triton.jit`` helpers for the prologues the kernels share: index ranges with their bounds masks, and row tiles
loaded and stored through a row stride. Triton inlines them, so they change no generated code, only its spelling.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def masked_range(start, limit, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
    """Indices ``start .. start + BLOCK - 1`` and which of them are below ``limit``."""
    offsets = start + tl.arange(0, BLOCK)
    return offsets, offsets < limit


@triton.jit
def load_tile(base, rows, cols, stride_row, mask):  # type: ignore[no-untyped-def]
    """The ``(R, C)`` tile ``base[rows * stride_row + cols]`` (columns contiguous), zero where ``mask`` is false;
    ``mask`` is ``(R, C)``, or ``(R, 1)`` for whole rows."""
    return tl.load(base + rows[:, None] * stride_row + cols[None, :], mask=mask, other=0.0)


@triton.jit
def store_tile(base, rows, cols, stride_row, value, mask):  # type: ignore[no-untyped-def]
    """Store the ``(R, C)`` tile ``value`` at ``base[rows * stride_row + cols]`` where ``mask`` is true."""
    tl.store(base + rows[:, None] * stride_row + cols[None, :], value, mask=mask)
