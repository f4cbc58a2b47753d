"""Adjustments for running the kernels under Triton's CPU interpreter (``TRITON_INTERPRET=1``).

The interpreter runs each program in NumPy. It stores bfloat16 as raw 16-bit integers, so ``tl.dot`` on bfloat16
operands multiplies bit patterns; kernels therefore upcast dot operands to float32 when :data:`INTERPRETED` and the
operands are bfloat16 (``DOT_UPCAST``). Elementwise bfloat16 arithmetic is avoided everywhere by converting to the
accumulator dtype right after each load.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction


@triton.jit
def _probe() -> None:
    pass


INTERPRETED: bool = isinstance(_probe, InterpretedFunction)
"""True when the kernels of this process were decorated with the interpreter on (``TRITON_INTERPRET`` set at import).
Triton reads the variable at decoration time, so it must be set before ``motionkit_kernels`` is first imported."""


def dot_upcast(dtype: torch.dtype) -> bool:
    """Whether ``tl.dot`` operands of ``dtype`` must be upcast to float32 first (bfloat16 under the interpreter)."""
    return INTERPRETED and dtype == torch.bfloat16


def dot_precision(dtype: torch.dtype) -> str:
    """``tl.dot`` input precision: IEEE float32 for float32 operands (as PyTorch's float32 SDPA, no TF32 rounding);
    16-bit operands are exact on tensor cores whatever the setting."""
    return "ieee" if dtype == torch.float32 else "tf32"


@triton.jit
def dot(a, b, DOT_UPCAST: tl.constexpr, PRECISION: tl.constexpr):  # type: ignore[no-untyped-def]
    """``a @ b`` accumulated in float32; operands upcast first when ``DOT_UPCAST`` (bfloat16 under the interpreter)."""
    if DOT_UPCAST:
        return tl.dot(a.to(tl.float32), b.to(tl.float32))
    return tl.dot(a, b, input_precision=PRECISION)
