"""Frame-wise AdaLN in Triton: one forward and one backward kernel, launchers, and the ``motionkit::`` custom ops.

One kernel pair serves the three public operations, selected by two compile-time flags::

    RESIDUAL:          h = x + gate * y                                   (gated_residual)
    NORM:              m = LN(u) * (1 + scale) + shift,  u = x            (adaln_modulate)
    RESIDUAL and NORM: h as above, then m with u = h                      (gated_residual_adaln)

``LN`` has no affine parameters: ``LN(u) = (u - mean(u)) * rstd``, ``rstd = 1 / sqrt(var(u) + eps)`` over the last
dimension ``C``, computed in float32 (float64 for float64 input) whatever the input dtype. In the fused form ``u``
is ``h`` rounded to the output dtype, exactly what ``adaln_modulate(gated_residual(...))`` normalises.

Backward, per row (``g`` = dL/dm, ``g_h`` = dL/dh, ``u_hat = LN(u)``)::

    d_hat = g * (1 + scale)
    du = rstd * (d_hat - mean(d_hat) - u_hat * mean(d_hat * u_hat))
    dshift = g,  dscale = g * u_hat
    dh_total = g_h + du  (fused) ;  dx = dh_total,  dy = dh_total * gate,  dgate = dh_total * y

Modulation tensors (``gate``, ``shift``, ``scale``) are per frame ``(B, T, C)`` or broadcast ``(B, 1, C)``. Per frame,
their gradients are written row by row (``dshift = g`` is returned without a copy). Broadcast, each program sums
its rows' contributions in registers and writes one partial row per chunk of frames; the host adds the chunks.
No atomics are used, so gradients are bitwise deterministic.

Each program owns a ``(BLOCK_R, BLOCK_C)`` tile: ``BLOCK_C = next_pow2(C)`` holds a whole row (rows stay in
registers, one HBM read per input), ``BLOCK_R`` rows fill the tile for small ``C``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import triton
import triton.language as tl

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
"""Input dtypes of the Triton path. Statistics are float32, or float64 for float64 input."""

FORWARD_TILE_BYTES = 16 * 1024
BACKWARD_TILE_BYTES = 8 * 1024
"""Bytes of one accumulator-dtype tile per program; the backward keeps about twice as many live tiles."""

FLOAT64_FORWARD_ROWS = 32
"""Most rows of a float64 forward tile: Triton 3.6 gives 8-warp float64 forward programs of 64 or more (narrow)
rows a stack frame."""

BYTES_PER_THREAD = 64
"""Accumulator bytes per thread and live tile (16 float32 values): with the broadcast backward's ~11 live tiles
this stays under the 255 registers a thread can have, so rows stay in registers without spilling."""

MAX_WARPS = 16

NUM_STAGES = 1
"""No software pipelining: each program streams its rows once, so there is nothing to overlap in shared memory."""


def max_channels(dtype: torch.dtype) -> int:
    """Largest ``C`` of the Triton path: a whole row is kept in registers, and wider rows spill (float64 earlier:
    16 warps cap a thread at 128 registers, and the fused broadcast backward then needs more)."""
    return 2048 if dtype == torch.float64 else 4096


BROADCAST_PROGRAMS_PER_SM = 4
"""Target programs per SM for the broadcast backward, whose programs each reduce a chunk of frames."""

INTERPRETER_BROADCAST_PROGRAMS = 2
"""Programs of the broadcast backward under the interpreter (where every program runs serially)."""


@dataclass(frozen=True)
class RowTiles:
    """Launch shape of one AdaLN kernel: a ``(block_rows, block_cols)`` tile per program."""

    block_rows: int
    block_cols: int
    num_warps: int


def row_tiles(channels: int, backward: bool, dtype: torch.dtype) -> RowTiles:
    """Tile for rows of ``channels`` elements: one whole row per tile row, rows stacked up to the byte budget.

    Every choice compiles without register spills for sm_80 and sm_90 up to :func:`max_channels` (checked by
    ``motionkit_kernels.aot``).
    """
    acc_bytes = 8 if dtype == torch.float64 else 4
    block_cols = max(16, triton.next_power_of_2(channels))
    budget = (BACKWARD_TILE_BYTES if backward else FORWARD_TILE_BYTES) // acc_bytes
    block_rows = max(1, budget // block_cols)
    if dtype == torch.float64 and not backward:
        block_rows = min(block_rows, FLOAT64_FORWARD_ROWS)
    per_thread = BYTES_PER_THREAD // acc_bytes
    num_warps = min(MAX_WARPS, max(4, block_rows * block_cols // (32 * per_thread)))
    return RowTiles(block_rows=block_rows, block_cols=block_cols, num_warps=num_warps)


@triton.jit
def _adaln_fwd_kernel(  # type: ignore[no-untyped-def]
    X,
    GATE,
    BRANCH,
    SHIFT,
    SCALE,
    H_OUT,
    M_OUT,
    MEAN,
    RSTD,
    stride_xb,
    stride_xt,
    stride_gb,
    stride_gt,
    stride_yb,
    stride_yt,
    stride_shb,
    stride_sht,
    stride_scb,
    stride_sct,
    T,
    C,
    eps,
    RESIDUAL: tl.constexpr,
    NORM: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_C: tl.constexpr,
    ACC: tl.constexpr,
):
    pid_t = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    t = pid_t * BLOCK_R + tl.arange(0, BLOCK_R)
    c = tl.arange(0, BLOCK_C)
    row_ok = t < T
    col_ok = c < C
    mask = row_ok[:, None] & col_ok[None, :]
    out_rows = b * T + t  # row index into the contiguous (B, T, C) outputs and (B, T) statistics

    u = tl.load(X + b * stride_xb + t[:, None] * stride_xt + c[None, :], mask=mask, other=0.0).to(ACC)
    if RESIDUAL:
        gate = tl.load(GATE + b * stride_gb + t[:, None] * stride_gt + c[None, :], mask=mask, other=0.0).to(ACC)
        branch = tl.load(BRANCH + b * stride_yb + t[:, None] * stride_yt + c[None, :], mask=mask, other=0.0)
        h = (u + gate * branch.to(ACC)).to(H_OUT.dtype.element_ty)
        tl.store(H_OUT + out_rows[:, None] * C + c[None, :], h, mask=mask)
        u = h.to(ACC)  # normalise the stored (rounded) residual, as the composed reference does
    if NORM:
        mean = tl.sum(u, axis=1) / C
        centred = tl.where(mask, u - mean[:, None], 0.0)
        rstd = 1.0 / tl.sqrt(tl.sum(centred * centred, axis=1) / C + eps)
        shift = tl.load(SHIFT + b * stride_shb + t[:, None] * stride_sht + c[None, :], mask=mask, other=0.0)
        scale = tl.load(SCALE + b * stride_scb + t[:, None] * stride_sct + c[None, :], mask=mask, other=0.0)
        m = centred * rstd[:, None] * (1.0 + scale.to(ACC)) + shift.to(ACC)
        tl.store(M_OUT + out_rows[:, None] * C + c[None, :], m.to(M_OUT.dtype.element_ty), mask=mask)
        tl.store(MEAN + out_rows, mean, mask=row_ok)
        tl.store(RSTD + out_rows, rstd, mask=row_ok)


@triton.jit
def _adaln_bwd_kernel(  # type: ignore[no-untyped-def]
    DH,
    DM,
    U,
    GATE,
    BRANCH,
    SCALE,
    MEAN,
    RSTD,
    DX,
    DGATE,
    DBRANCH,
    DSHIFT,
    DSCALE,
    stride_dhb,
    stride_dht,
    stride_dmb,
    stride_dmt,
    stride_ub,
    stride_ut,
    stride_gb,
    stride_gt,
    stride_yb,
    stride_yt,
    stride_scb,
    stride_sct,
    T,
    C,
    tiles_per_program,
    RESIDUAL: tl.constexpr,
    NORM: tl.constexpr,
    BROADCAST: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_C: tl.constexpr,
    ACC: tl.constexpr,
):
    pid = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    c = tl.arange(0, BLOCK_C)
    col_ok = c < C
    sum_dshift = tl.zeros([BLOCK_C], dtype=ACC)
    sum_dscale = tl.zeros([BLOCK_C], dtype=ACC)
    sum_dgate = tl.zeros([BLOCK_C], dtype=ACC)
    for i in range(tiles_per_program):
        t = (pid * tiles_per_program + i) * BLOCK_R + tl.arange(0, BLOCK_R)
        row_ok = t < T
        mask = row_ok[:, None] & col_ok[None, :]
        out_rows = b * T + t
        out_offs = out_rows[:, None] * C + c[None, :]
        if NORM:
            g = tl.load(DM + b * stride_dmb + t[:, None] * stride_dmt + c[None, :], mask=mask, other=0.0).to(ACC)
            u = tl.load(U + b * stride_ub + t[:, None] * stride_ut + c[None, :], mask=mask, other=0.0).to(ACC)
            scale = tl.load(SCALE + b * stride_scb + t[:, None] * stride_sct + c[None, :], mask=mask, other=0.0)
            mean = tl.load(MEAN + out_rows, mask=row_ok, other=0.0)
            rstd = tl.load(RSTD + out_rows, mask=row_ok, other=0.0)
            u_hat = tl.where(mask, (u - mean[:, None]) * rstd[:, None], 0.0)
            d_hat = g * (1.0 + scale.to(ACC))
            mean_d = tl.sum(d_hat, axis=1) / C
            mean_du = tl.sum(d_hat * u_hat, axis=1) / C
            du = (d_hat - mean_d[:, None] - u_hat * mean_du[:, None]) * rstd[:, None]
            dscale = g * u_hat
            if BROADCAST:
                sum_dshift += tl.sum(g, axis=0)
                sum_dscale += tl.sum(dscale, axis=0)
            else:
                tl.store(DSCALE + out_offs, dscale.to(DSCALE.dtype.element_ty), mask=mask)
        if RESIDUAL:
            dh = tl.load(DH + b * stride_dhb + t[:, None] * stride_dht + c[None, :], mask=mask, other=0.0).to(ACC)
            if NORM:
                dh += du
                tl.store(DX + out_offs, dh.to(DX.dtype.element_ty), mask=mask)
            gate = tl.load(GATE + b * stride_gb + t[:, None] * stride_gt + c[None, :], mask=mask, other=0.0)
            branch = tl.load(BRANCH + b * stride_yb + t[:, None] * stride_yt + c[None, :], mask=mask, other=0.0)
            tl.store(DBRANCH + out_offs, (dh * gate.to(ACC)).to(DBRANCH.dtype.element_ty), mask=mask)
            dgate = dh * branch.to(ACC)
            if BROADCAST:
                sum_dgate += tl.sum(dgate, axis=0)
            else:
                tl.store(DGATE + out_offs, dgate.to(DGATE.dtype.element_ty), mask=mask)
        elif NORM:
            tl.store(DX + out_offs, du.to(DX.dtype.element_ty), mask=mask)
    if BROADCAST:
        partial = (b * tl.num_programs(0) + pid) * C + c
        if NORM:
            tl.store(DSHIFT + partial, sum_dshift, mask=col_ok)
            tl.store(DSCALE + partial, sum_dscale, mask=col_ok)
        if RESIDUAL:
            tl.store(DGATE + partial, sum_dgate, mask=col_ok)


def _acc_dtype(dtype: torch.dtype) -> tl.dtype:
    return tl.float64 if dtype == torch.float64 else tl.float32


def _acc_torch_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _rows(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself when its channel dimension is contiguous (kernels address it with stride 1), else a copy."""
    return t if t.stride(-1) == 1 else t.contiguous()


def _bt_strides(t: torch.Tensor | None) -> tuple[int, int]:
    """Batch and frame strides; a single frame (broadcast modulation) is read with frame stride 0."""
    if t is None:
        return 0, 0
    return t.stride(0), (0 if t.shape[1] == 1 else t.stride(1))


def is_broadcast(modulation: torch.Tensor, frames: int) -> bool:
    """Whether a ``(B, 1 | T, C)`` modulation tensor is shared by all ``frames`` (its gradient is summed)."""
    return modulation.shape[1] == 1 and frames > 1


def _empty(like: torch.Tensor) -> torch.Tensor:
    """Zero-element stand-in for an output a flag combination does not produce (custom ops return tensors only)."""
    return like.new_empty((0,))


def modulate_forward(
    x: torch.Tensor,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    shift: torch.Tensor | None,
    scale: torch.Tensor | None,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Launch the forward kernel. ``x, branch``: ``(B, T, C)``; modulation ``(B, T | 1, C)`` (all the same).

    ``gate`` and ``branch`` enable the residual, ``shift`` and ``scale`` the norm. Returns ``(h, m, mean, rstd)``
    with zero-element tensors for what is not computed; ``h, m`` in ``x.dtype``, statistics ``(B, T)``.
    """
    residual = gate is not None and branch is not None
    norm = shift is not None and scale is not None
    x = _rows(x)
    gate = None if gate is None else _rows(gate)
    branch = None if branch is None else _rows(branch)
    shift = None if shift is None else _rows(shift)
    scale = None if scale is None else _rows(scale)
    B, T, C = x.shape
    stats_dtype = _acc_torch_dtype(x.dtype)
    h = torch.empty((B, T, C), dtype=x.dtype, device=x.device) if residual else _empty(x)
    m = torch.empty((B, T, C), dtype=x.dtype, device=x.device) if norm else _empty(x)
    mean = torch.empty((B, T), dtype=stats_dtype, device=x.device) if norm else _empty(x)
    rstd = torch.empty((B, T), dtype=stats_dtype, device=x.device) if norm else _empty(x)
    tiles = row_tiles(C, backward=False, dtype=x.dtype)
    _adaln_fwd_kernel[(triton.cdiv(T, tiles.block_rows), B)](
        x,
        x if gate is None else gate,
        x if branch is None else branch,
        x if shift is None else shift,
        x if scale is None else scale,
        h,
        m,
        mean,
        rstd,
        *_bt_strides(x),
        *_bt_strides(gate),
        *_bt_strides(branch),
        *_bt_strides(shift),
        *_bt_strides(scale),
        T,
        C,
        eps,
        RESIDUAL=residual,
        NORM=norm,
        BLOCK_R=tiles.block_rows,
        BLOCK_C=tiles.block_cols,
        ACC=_acc_dtype(x.dtype),
        num_warps=tiles.num_warps,
        num_stages=NUM_STAGES,
    )
    return h, m, mean, rstd


def _broadcast_chunks(batch: int, n_tiles: int, device: torch.device) -> int:
    """Number of frame chunks per batch element for the broadcast backward (one program and partial row each)."""
    if device.type == "cuda":
        target = BROADCAST_PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count
    else:
        target = INTERPRETER_BROADCAST_PROGRAMS
    return max(1, min(n_tiles, -(-target // batch)))


def modulate_backward(
    grad_h: torch.Tensor | None,
    grad_m: torch.Tensor | None,
    u: torch.Tensor | None,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    scale: torch.Tensor | None,
    mean: torch.Tensor | None,
    rstd: torch.Tensor | None,
    shift_dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Launch the backward kernel; returns ``(dx, dgate, dbranch, dshift, dscale)``.

    The residual part runs when ``gate`` and ``branch`` are given (with ``grad_h``), the norm part when ``scale`` is
    (with ``grad_m``); ``u`` is the norm's input (``x``, or the forward's ``h`` when fused). The gradients have
    ``x``'s shape and dtype. Zero-element tensors stand for the gradients the kernel
    does not write: ``dx`` of the residual alone (it equals ``grad_h``) and ``dshift`` per frame (it equals
    ``grad_m``), plus whatever the flags exclude. Broadcast modulation gradients are ``(B, 1, C)``; ``dshift`` is
    returned in ``shift_dtype``.
    """
    residual = gate is not None and branch is not None
    norm = scale is not None
    x = grad_h if grad_h is not None else grad_m  # shaped and typed like x
    assert x is not None
    B, T, C = x.shape
    modulation = gate if gate is not None else scale
    assert modulation is not None
    broadcast = is_broadcast(modulation, T)
    grad_h = None if grad_h is None else _rows(grad_h)
    grad_m = None if grad_m is None else _rows(grad_m)
    u = None if u is None else _rows(u)
    gate = None if gate is None else _rows(gate)
    branch = None if branch is None else _rows(branch)
    scale = None if scale is None else _rows(scale)

    tiles = row_tiles(C, backward=True, dtype=x.dtype)
    n_tiles = triton.cdiv(T, tiles.block_rows)
    chunks = _broadcast_chunks(B, n_tiles, x.device) if broadcast else n_tiles
    tiles_per_program = triton.cdiv(n_tiles, chunks)
    chunks = triton.cdiv(n_tiles, tiles_per_program)
    acc_dtype = _acc_torch_dtype(x.dtype)

    def full(like: torch.Tensor | None) -> torch.Tensor:
        assert like is not None
        return torch.empty((B, T, C), dtype=like.dtype, device=x.device)

    def reduced(like: torch.Tensor | None) -> torch.Tensor:
        assert like is not None
        return torch.empty((B, chunks, C), dtype=acc_dtype, device=x.device) if broadcast else full(like)

    dx = full(x) if norm else _empty(x)
    dbranch = full(branch) if residual else _empty(x)
    dgate = reduced(gate) if residual else _empty(x)
    dscale = reduced(scale) if norm else _empty(x)
    dshift = torch.empty((B, chunks, C), dtype=acc_dtype, device=x.device) if norm and broadcast else _empty(x)
    _adaln_bwd_kernel[(chunks, B)](
        x if grad_h is None else grad_h,
        x if grad_m is None else grad_m,
        x if u is None else u,
        x if gate is None else gate,
        x if branch is None else branch,
        x if scale is None else scale,
        x if mean is None else mean,
        x if rstd is None else rstd,
        dx,
        dgate,
        dbranch,
        dshift,
        dscale,
        *_bt_strides(grad_h),
        *_bt_strides(grad_m),
        *_bt_strides(u),
        *_bt_strides(gate),
        *_bt_strides(branch),
        *_bt_strides(scale),
        T,
        C,
        tiles_per_program,
        RESIDUAL=residual,
        NORM=norm,
        BROADCAST=broadcast,
        BLOCK_R=tiles.block_rows,
        BLOCK_C=tiles.block_cols,
        ACC=_acc_dtype(x.dtype),
        num_warps=tiles.num_warps,
        num_stages=NUM_STAGES,
    )
    if broadcast:
        # Chunk partials are summed in a fixed order: deterministic, and no atomics in the kernel.
        if residual:
            assert gate is not None
            dgate = dgate.sum(dim=1, keepdim=True).to(gate.dtype)
        if norm:
            assert scale is not None
            dscale = dscale.sum(dim=1, keepdim=True).to(scale.dtype)
            dshift = dshift.sum(dim=1, keepdim=True).to(shift_dtype)
    return dx, dgate, dbranch, dshift, dscale


# --- torch.library registration -------------------------------------------------------------------------------
# One forward and one backward op carry all three operations (absent inputs are None, absent outputs have zero
# elements), mirroring the single kernel pair. They keep the launches opaque to torch.compile.


@torch.library.custom_op("motionkit::modulate_fwd", mutates_args=())
def modulate_fwd(
    x: torch.Tensor,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    shift: torch.Tensor | None,
    scale: torch.Tensor | None,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(h, m, mean, rstd)``; see :func:`modulate_forward`."""
    return modulate_forward(x, gate, branch, shift, scale, eps)


@modulate_fwd.register_fake
def _modulate_fwd_fake(
    x: torch.Tensor,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    shift: torch.Tensor | None,
    scale: torch.Tensor | None,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    B, T, C = x.shape
    residual = gate is not None and branch is not None
    norm = shift is not None and scale is not None
    stats_dtype = _acc_torch_dtype(x.dtype)
    return (
        x.new_empty((B, T, C)) if residual else _empty(x),
        x.new_empty((B, T, C)) if norm else _empty(x),
        x.new_empty((B, T), dtype=stats_dtype) if norm else _empty(x),
        x.new_empty((B, T), dtype=stats_dtype) if norm else _empty(x),
    )


@torch.library.custom_op("motionkit::modulate_bwd", mutates_args=())
def modulate_bwd(
    grad_h: torch.Tensor | None,
    grad_m: torch.Tensor | None,
    u: torch.Tensor | None,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    scale: torch.Tensor | None,
    mean: torch.Tensor | None,
    rstd: torch.Tensor | None,
    shift_dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dgate, dbranch, dshift, dscale)``; see :func:`modulate_backward`."""
    return modulate_backward(grad_h, grad_m, u, gate, branch, scale, mean, rstd, shift_dtype)


@modulate_bwd.register_fake
def _modulate_bwd_fake(
    grad_h: torch.Tensor | None,
    grad_m: torch.Tensor | None,
    u: torch.Tensor | None,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    scale: torch.Tensor | None,
    mean: torch.Tensor | None,
    rstd: torch.Tensor | None,
    shift_dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    x = grad_h if grad_h is not None else grad_m
    assert x is not None
    B, T, C = x.shape
    residual = gate is not None and branch is not None
    norm = scale is not None
    modulation = gate if gate is not None else scale
    assert modulation is not None
    broadcast = is_broadcast(modulation, T)

    def like(t: torch.Tensor | None, reduced: bool) -> torch.Tensor:
        assert t is not None
        return t.new_empty((B, 1, C) if reduced else (B, T, C))

    return (
        x.new_empty((B, T, C)) if norm else _empty(x),
        like(gate, broadcast) if residual else _empty(x),
        like(branch, False) if residual else _empty(x),
        x.new_empty((B, 1, C), dtype=shift_dtype) if norm and broadcast else _empty(x),
        like(scale, broadcast) if norm else _empty(x),
    )


def _setup_context(
    ctx: torch.autograd.function.FunctionCtx, inputs: tuple[Any, ...], output: tuple[torch.Tensor, ...]
) -> None:
    x, gate, branch, shift, scale, _eps = inputs
    h, _m, mean, rstd = output
    residual = gate is not None and branch is not None
    norm = shift is not None and scale is not None
    # The norm's input is x, or the stored h when fused; its backward needs only that, scale and the statistics.
    u = (h if residual else x) if norm else None
    ctx.residual = residual  # type: ignore[attr-defined]
    ctx.norm = norm  # type: ignore[attr-defined]
    ctx.shift_dtype = shift.dtype if norm else x.dtype  # type: ignore[attr-defined]
    # x itself is not saved (the gradients give its shape and dtype), so it can be freed after the forward.
    # save_for_backward accepts None for absent inputs; torch's stubs say Tensor only.
    ctx.save_for_backward(u, gate, branch, scale, mean if norm else None, rstd if norm else None)  # type: ignore[arg-type]
    ctx.mark_non_differentiable(mean, rstd)


def _backward(
    ctx: torch.autograd.function.FunctionCtx,
    grad_h: torch.Tensor | None,
    grad_m: torch.Tensor | None,
    _grad_mean: torch.Tensor | None,
    _grad_rstd: torch.Tensor | None,
) -> tuple[torch.Tensor | None, ...]:
    u, gate, branch, scale, mean, rstd = ctx.saved_tensors  # type: ignore[attr-defined]
    residual: bool = ctx.residual  # type: ignore[attr-defined]
    norm: bool = ctx.norm  # type: ignore[attr-defined]
    shift_dtype: torch.dtype = ctx.shift_dtype  # type: ignore[attr-defined]
    # A gradient of a produced output gives x's shape and dtype (skipped outputs have zero elements).
    given = next(g for g, produced in ((grad_h, residual), (grad_m, norm)) if produced and g is not None)
    if residual and grad_h is None:
        grad_h = torch.zeros_like(given)
    if norm and grad_m is None:
        grad_m = torch.zeros_like(given)
    dx, dgate, dbranch, dshift, dscale = modulate_bwd(
        grad_h if residual else None,
        grad_m if norm else None,
        u,
        gate if residual else None,
        branch if residual else None,
        scale if norm else None,
        mean,
        rstd,
        shift_dtype,
    )
    if not norm:
        dx = grad_h  # h = x + gate * y: dh/dx is the identity
    if norm and not is_broadcast(scale, given.shape[1]):
        assert grad_m is not None
        dshift = grad_m.to(shift_dtype)  # m = ... + shift: dm/dshift is the identity
    return (
        dx,
        dgate if residual else None,
        dbranch if residual else None,
        dshift if norm else None,
        dscale if norm else None,
        None,
    )


modulate_fwd.register_autograd(_backward, setup_context=_setup_context)


__all__ = [
    "DTYPES",
    "RowTiles",
    "is_broadcast",
    "max_channels",
    "modulate_backward",
    "modulate_bwd",
    "modulate_forward",
    "modulate_fwd",
    "row_tiles",
]
