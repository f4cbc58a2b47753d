"""Public kernel functions: input checks, then the Triton custom ops or the PyTorch references.

``backend="auto"`` runs Triton for CUDA tensors when Triton is installed and supports the inputs (dtype, head
dimension, channel count), and the PyTorch reference otherwise; ``"triton"`` forces the kernels (a clear error
when they cannot run) and ``"torch"`` forces the reference. Under Triton's CPU interpreter (``TRITON_INTERPRET=1``
set before the first import), ``backend="triton"`` also runs the kernels on CPU tensors, which is how the test
suite checks them without a GPU; ``"auto"`` keeps using the reference on CPU.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from types import ModuleType
from typing import Literal

import torch

from motionkit_kernels import reference
from motionkit_kernels._availability import kernels_unusable_reason
from motionkit_kernels._errors import kernel_error

Backend = Literal["auto", "triton", "torch"]

DENSE_ATTENTION_MAX_T = 1024
"""Up to this sequence length the dense-mask SDPA reference is used on CPU; above it, the O(T*w) unfold."""


def _load_triton_ops() -> tuple[ModuleType | None, ModuleType | None, bool, str]:
    """The Triton op modules, whether they were decorated for the interpreter, and why they are missing if so.
    They are only imported where they can run, so CPU-only installs do not pay for importing Triton."""
    reason = kernels_unusable_reason()
    if reason:
        return None, None, False, reason
    try:
        attention = importlib.import_module("motionkit_kernels.ops.banded_attention")
        adaln = importlib.import_module("motionkit_kernels.ops.adaln")
        interpreter = importlib.import_module("motionkit_kernels.ops._interpreter")
    except ImportError as error:  # a broken triton install must not break the reference path
        return None, None, False, f"triton failed to import ({error})"
    return attention, adaln, bool(interpreter.INTERPRETED), ""


_ATTENTION_OPS, _ADALN_OPS, TRITON_INTERPRETED, _TRITON_MISSING = _load_triton_ops()

TRITON_AVAILABLE = _ATTENTION_OPS is not None
"""True when the Triton kernels are loaded: Triton is installed, and PyTorch has CUDA or ``TRITON_INTERPRET`` was set
at import (then they also run on CPU tensors)."""


def _use_triton(backend: str, device: torch.device, unsupported: Callable[[], str]) -> bool:
    """Resolve ``backend`` for tensors on ``device``; ``unsupported()`` says why Triton cannot take the inputs ("" if
    it can), and is only evaluated when Triton is in question (the CPU path pays nothing for it)."""
    if backend == "torch":
        return False
    if backend == "auto":
        return TRITON_AVAILABLE and device.type == "cuda" and not unsupported()
    if backend != "triton":
        raise kernel_error("ConfigError", f"backend must be 'auto', 'triton' or 'torch', got {backend!r}")
    if not TRITON_AVAILABLE:
        raise kernel_error(
            "ConfigError",
            f"backend='triton' is unavailable: {_TRITON_MISSING}; use backend='auto' or 'torch' for the PyTorch path",
        )
    if device.type != "cuda" and not TRITON_INTERPRETED:
        raise kernel_error(
            "ConfigError",
            f"backend='triton' needs CUDA tensors, got tensors on {device}; move them to a GPU or use backend='auto' "
            "(to run the kernels on CPU for testing, set TRITON_INTERPRET=1 before importing motionkit_kernels)",
        )
    reason = unsupported()
    if reason:
        raise kernel_error("ShapeError", f"{reason}; use backend='auto' or 'torch' for the PyTorch reference")
    return True


# Checks run on every call, including the CPU path at FLOAT's small shapes: conditions are tested before any
# message is formatted, so a valid call costs a few attribute reads.


def _check_same(name: str, reference_name: str, tensor: torch.Tensor, like: torch.Tensor, shape: bool) -> None:
    if tensor.device != like.device:
        raise kernel_error(
            "ShapeError",
            f"{name} is on {tensor.device} but {reference_name} is on {like.device}; put all inputs on one device",
        )
    if shape and tensor.shape != like.shape:
        raise kernel_error(
            "ShapeError",
            f"{name} must have the shape of {reference_name} {tuple(like.shape)}, got {tuple(tensor.shape)}",
        )


def banded_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    scale: float | None = None,
    backend: Backend = "auto",
) -> torch.Tensor:
    """Attention of each frame to the frames within ``window`` of it::

        O_i = sum_{|i-j| <= w} softmax_j(scale * q_i . k_j) v_j

    Args:
        q, k, v: ``(B, H, T, Dh)``, one dtype (float16, bfloat16, float32; float64 on the reference path), any
            ``T >= 1``. The Triton path takes ``Dh`` in {32, 64, 128}.
        window: band half-width ``w >= 0`` in frames (``w >= T - 1`` is full attention).
        scale: softmax scale, default ``1 / sqrt(Dh)``.
        backend: ``"auto"``, ``"triton"`` or ``"torch"`` (see the module docstring).
    Returns:
        ``(B, H, T, Dh)`` in the input dtype. Differentiable on both paths.
    """
    if q.dim() != 4:
        raise kernel_error("ShapeError", f"q must have shape (B, H, T, Dh), got {tuple(q.shape)}")
    _check_same("k", "q", k, q, shape=True)
    _check_same("v", "q", v, q, shape=True)
    if not q.dtype == k.dtype == v.dtype:
        raise kernel_error("ShapeError", f"q, k and v must share one dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if not q.is_floating_point():
        raise kernel_error("ShapeError", f"q, k and v must be floating point, got {q.dtype}")
    if not isinstance(window, int) or isinstance(window, bool) or window < 0:
        raise kernel_error("ConfigError", f"window must be an int >= 0 (frames on each side), got {window!r}")
    T, head_dim = q.shape[-2], q.shape[-1]
    if T < 1 or head_dim < 1:
        raise kernel_error("ShapeError", f"q must have T >= 1 and Dh >= 1, got {tuple(q.shape)}")

    if _use_triton(backend, q.device, lambda: _attention_unsupported(q)):
        assert _ATTENTION_OPS is not None
        softmax_scale = 1.0 / math.sqrt(head_dim) if scale is None else float(scale)
        return _ATTENTION_OPS.banded_attention_triton(q, k, v, window, softmax_scale)
    if T <= DENSE_ATTENTION_MAX_T:
        return reference.banded_attention_dense(q, k, v, window, scale)
    return reference.banded_attention_unfold(q, k, v, window, scale)


def _attention_unsupported(q: torch.Tensor) -> str:
    if _ATTENTION_OPS is None:
        return ""
    if q.dtype not in _ATTENTION_OPS.DTYPES:
        return f"the Triton banded attention takes float16, bfloat16 or float32, got {q.dtype}"
    if q.shape[-1] not in _ATTENTION_OPS.HEAD_DIMS:
        return f"the Triton banded attention takes head dims {_ATTENTION_OPS.HEAD_DIMS}, got Dh={q.shape[-1]}"
    return ""


def _check_rows(name: str, t: torch.Tensor, x: torch.Tensor) -> None:
    """``t`` must be ``(B, T, C)`` like ``x``."""
    _check_same(name, "x", t, x, shape=True)
    if not t.is_floating_point():
        raise kernel_error("ShapeError", f"{name} must be floating point, got {t.dtype}")


def _check_modulation(name: str, t: torch.Tensor, x: torch.Tensor) -> None:
    """``t`` must broadcast to ``x``'s ``(B, T, C)`` without enlarging it: ``(B, T, C)``, ``(B, 1, C)``, ``(C,)``..."""
    _check_same(name, "x", t, x, shape=False)
    if not t.is_floating_point():
        raise kernel_error("ShapeError", f"{name} must be floating point, got {t.dtype}")
    shape, target = t.shape, x.shape
    if shape != target and (len(shape) > 3 or any(s not in (1, target[i - len(shape)]) for i, s in enumerate(shape))):
        raise kernel_error(
            "ShapeError",
            f"{name} must be (B, T, C) per frame or (B, 1, C) broadcast over frames for x of shape "
            f"{tuple(x.shape)}, got {tuple(t.shape)}",
        )


def _check_x(x: torch.Tensor, eps: float | None) -> None:
    if x.dim() != 3:
        raise kernel_error("ShapeError", f"x must have shape (B, T, C), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise kernel_error("ShapeError", f"x must be floating point, got {x.dtype}")
    if eps is not None and not (math.isfinite(eps) and eps >= 0.0):
        raise kernel_error("ConfigError", f"eps must be a finite number >= 0, got {eps!r}")


def _adaln_unsupported(x: torch.Tensor, *others: torch.Tensor) -> str:
    if _ADALN_OPS is None:
        return ""
    for t in (x, *others):
        if t.dtype not in _ADALN_OPS.DTYPES:
            return f"the Triton AdaLN kernels take float16, bfloat16, float32 or float64, got {t.dtype}"
    limit = _ADALN_OPS.max_channels(x.dtype)
    if x.shape[-1] > limit:
        return f"the Triton AdaLN kernels take C <= {limit} for {x.dtype}, got C={x.shape[-1]}"
    return ""


def _modulation_layout(x: torch.Tensor, modulation: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """Views of the modulation tensors in one kernel layout: all ``(B, 1, C)``, or all ``(B, T, C)`` as soon as
    one of them varies over frames. ``expand`` makes no copy and its backward sums the gradient back; a tensor
    already in the layout is passed as is (an ``expand`` would still add a view and an autograd node)."""
    B, T, C = x.shape
    per_frame = any(m.dim() >= 2 and m.shape[-2] == T for m in modulation)
    layout = (B, T if per_frame else 1, C)
    return tuple(m if m.shape == layout else m.expand(layout) for m in modulation)


def adaln_modulate(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float = 1e-6, backend: Backend = "auto"
) -> torch.Tensor:
    """``LayerNorm(x) * (1 + scale) + shift`` (LayerNorm without affine, statistics in float32).

    Args:
        x: ``(B, T, C)``.
        shift, scale: ``(B, T, C)`` per frame or ``(B, 1, C)`` broadcast over frames.
        eps: LayerNorm epsilon (``rstd = 1 / sqrt(var + eps)``).
    Returns:
        ``(B, T, C)`` in ``x.dtype``.
    """
    _check_x(x, eps)
    _check_modulation("shift", shift, x)
    _check_modulation("scale", scale, x)
    if _use_triton(backend, x.device, lambda: _adaln_unsupported(x, shift, scale)):
        assert _ADALN_OPS is not None
        shift, scale = _modulation_layout(x, (shift, scale))
        _, modulated = _ADALN_OPS.modulate(x, None, None, shift, scale, float(eps))
        assert modulated is not None
        return modulated
    return reference.adaln_modulate(x, shift, scale, eps)


def gated_residual(x: torch.Tensor, gate: torch.Tensor, y: torch.Tensor, backend: Backend = "auto") -> torch.Tensor:
    """``x + gate * y``.

    Args:
        x, y: ``(B, T, C)``.
        gate: ``(B, T, C)`` per frame or ``(B, 1, C)`` broadcast over frames.
    Returns:
        ``(B, T, C)`` in ``x.dtype`` (computed in float32, float64 for float64 ``x``).
    """
    _check_x(x, None)
    _check_rows("y", y, x)
    _check_modulation("gate", gate, x)
    if _use_triton(backend, x.device, lambda: _adaln_unsupported(x, gate, y)):
        assert _ADALN_OPS is not None
        (gate,) = _modulation_layout(x, (gate,))
        h, _ = _ADALN_OPS.modulate(x, gate, y, None, None, 0.0)
        assert h is not None
        return h
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
    """The DiT block seam in one pass: ``h = x + gate * y``, then ``(h, LayerNorm(h) * (1 + scale) + shift)``.

    Equal to ``h = gated_residual(x, gate, y); (h, adaln_modulate(h, shift, scale, eps))``: the LayerNorm sees ``h``
    as returned (rounded to ``x.dtype``).

    Args:
        x, y: ``(B, T, C)``.
        gate, shift, scale: ``(B, T, C)`` per frame or ``(B, 1, C)`` broadcast over frames.
    Returns:
        ``(h, modulated)``, both ``(B, T, C)`` in ``x.dtype``.
    """
    _check_x(x, eps)
    _check_rows("y", y, x)
    _check_modulation("gate", gate, x)
    _check_modulation("shift", shift, x)
    _check_modulation("scale", scale, x)
    if _use_triton(backend, x.device, lambda: _adaln_unsupported(x, gate, y, shift, scale)):
        assert _ADALN_OPS is not None
        gate, shift, scale = _modulation_layout(x, (gate, shift, scale))
        h, modulated = _ADALN_OPS.modulate(x, gate, y, shift, scale, float(eps))
        assert h is not None
        assert modulated is not None
        return h, modulated
    return reference.gated_residual_adaln(x, gate, y, shift, scale, eps)
