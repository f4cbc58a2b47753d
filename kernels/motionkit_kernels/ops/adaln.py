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

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import triton
import triton.language as tl

from motionkit_kernels.ops._fast_path import once_differentiable, plain_eager
from motionkit_kernels.ops._launch import LAUNCH_CACHE_SIZE, Launch, cdiv
from motionkit_kernels.ops._tiles import load_tile, masked_range, store_tile

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
def _row_tile(tile, b, T, col_ok, BLOCK_R: tl.constexpr):  # type: ignore[no-untyped-def]
    """Tile ``tile`` of batch element ``b``'s frames: its frame indices, which exist, its mask (existing frames by
    existing channels), and its rows of the contiguous ``(B, T, C)`` outputs and ``(B, T)`` statistics."""
    t, row_ok = masked_range(tile * BLOCK_R, T, BLOCK_R)
    return t, row_ok, row_ok[:, None] & col_ok[None, :], b * T + t


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
    b = tl.program_id(1).to(tl.int64)
    c, col_ok = masked_range(0, C, BLOCK_C)
    t, row_ok, mask, out_rows = _row_tile(tl.program_id(0), b, T, col_ok, BLOCK_R)

    u = load_tile(X + b * stride_xb, t, c, stride_xt, mask).to(ACC)
    if RESIDUAL:
        gate = load_tile(GATE + b * stride_gb, t, c, stride_gt, mask).to(ACC)
        branch = load_tile(BRANCH + b * stride_yb, t, c, stride_yt, mask)
        h = (u + gate * branch.to(ACC)).to(H_OUT.dtype.element_ty)
        store_tile(H_OUT, out_rows, c, C, h, mask)
        u = h.to(ACC)  # normalise the stored (rounded) residual, as the composed reference does
    if NORM:
        mean = tl.sum(u, axis=1) / C
        centred = tl.where(mask, u - mean[:, None], 0.0)
        rstd = 1.0 / tl.sqrt(tl.sum(centred * centred, axis=1) / C + eps)
        shift = load_tile(SHIFT + b * stride_shb, t, c, stride_sht, mask)
        scale = load_tile(SCALE + b * stride_scb, t, c, stride_sct, mask)
        m = centred * rstd[:, None] * (1.0 + scale.to(ACC)) + shift.to(ACC)
        store_tile(M_OUT, out_rows, c, C, m.to(M_OUT.dtype.element_ty), mask)
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
    c, col_ok = masked_range(0, C, BLOCK_C)
    sum_dshift = tl.zeros([BLOCK_C], dtype=ACC)
    sum_dscale = tl.zeros([BLOCK_C], dtype=ACC)
    sum_dgate = tl.zeros([BLOCK_C], dtype=ACC)
    for i in range(tiles_per_program):
        t, row_ok, mask, out_rows = _row_tile(pid * tiles_per_program + i, b, T, col_ok, BLOCK_R)
        out_offs = out_rows[:, None] * C + c[None, :]
        if NORM:
            g = load_tile(DM + b * stride_dmb, t, c, stride_dmt, mask).to(ACC)
            u = load_tile(U + b * stride_ub, t, c, stride_ut, mask).to(ACC)
            scale = load_tile(SCALE + b * stride_scb, t, c, stride_sct, mask)
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
            dh = load_tile(DH + b * stride_dhb, t, c, stride_dht, mask).to(ACC)
            if NORM:
                dh += du
                tl.store(DX + out_offs, dh.to(DX.dtype.element_ty), mask=mask)
            gate = load_tile(GATE + b * stride_gb, t, c, stride_gt, mask)
            branch = load_tile(BRANCH + b * stride_yb, t, c, stride_yt, mask)
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


def _rows(t: torch.Tensor | None) -> torch.Tensor | None:
    """``t`` itself when its channel dimension is contiguous (kernels address it with stride 1), else a copy."""
    return t if t is None or t.stride()[-1] == 1 else t.contiguous()


def _bt_strides(t: torch.Tensor | None) -> tuple[int, int]:
    """Batch and frame strides; a single frame (broadcast modulation) is read with frame stride 0."""
    if t is None:
        return 0, 0
    strides = t.stride()
    return strides[0], (0 if t.shape[1] == 1 else strides[1])


def is_broadcast(modulation: torch.Tensor, frames: int) -> bool:
    """Whether a ``(B, 1 | T, C)`` modulation tensor is shared by all ``frames`` (its gradient is summed)."""
    return modulation.shape[1] == 1 and frames > 1


def _empty(like: torch.Tensor) -> torch.Tensor:
    """Zero-element stand-in for an output a flag combination does not produce (custom ops return tensors only)."""
    return like.new_empty((0,))


def _full(like: torch.Tensor) -> torch.Tensor:
    """A contiguous ``(B, T, C)`` output with ``like``'s shape, dtype and device (the kernels write rows densely)."""
    return torch.empty_like(like, memory_format=torch.contiguous_format)


@functools.lru_cache(maxsize=LAUNCH_CACHE_SIZE)
def forward_launch(batch: int, frames: int, channels: int, dtype: torch.dtype, residual: bool, norm: bool) -> Launch:
    """Grid and options of the forward kernel for one problem, computed once per shape."""
    tiles = row_tiles(channels, backward=False, dtype=dtype)
    options = {
        "RESIDUAL": residual,
        "NORM": norm,
        "BLOCK_R": tiles.block_rows,
        "BLOCK_C": tiles.block_cols,
        "ACC": _acc_dtype(dtype),
        "num_warps": tiles.num_warps,
        "num_stages": NUM_STAGES,
    }
    return Launch((cdiv(frames, tiles.block_rows), batch), options)


def modulate_forward(
    x: torch.Tensor,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    shift: torch.Tensor | None,
    scale: torch.Tensor | None,
    eps: float,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """Launch the forward kernel. ``x, branch``: ``(B, T, C)``; modulation ``(B, T | 1, C)`` (all the same).

    ``gate`` and ``branch`` enable the residual, ``shift`` and ``scale`` the norm. Returns ``(h, m, mean, rstd)``
    with ``None`` for what is not computed; ``h, m`` in ``x.dtype``, statistics ``(B, T)``.
    """
    residual = gate is not None and branch is not None
    norm = shift is not None and scale is not None
    x = _rows(x)  # type: ignore[assignment]  # x is a tensor, so is its row view
    gate, branch, shift, scale = _rows(gate), _rows(branch), _rows(shift), _rows(scale)
    B, T, C = x.shape
    h = _full(x) if residual else None
    m = _full(x) if norm else None
    mean = rstd = None
    if norm:
        stats_dtype = _acc_torch_dtype(x.dtype)
        mean = torch.empty((B, T), dtype=stats_dtype, device=x.device)
        rstd = torch.empty((B, T), dtype=stats_dtype, device=x.device)
    launch = forward_launch(B, T, C, x.dtype, residual, norm)
    # Absent tensors are passed as x: the flags compile their loads and stores away, so it is never read or written.
    _adaln_fwd_kernel[launch.grid](
        x,
        x if gate is None else gate,
        x if branch is None else branch,
        x if shift is None else shift,
        x if scale is None else scale,
        x if h is None else h,
        x if m is None else m,
        x if mean is None else mean,
        x if rstd is None else rstd,
        *_bt_strides(x),
        *_bt_strides(gate),
        *_bt_strides(branch),
        *_bt_strides(shift),
        *_bt_strides(scale),
        T,
        C,
        eps,
        **launch.options,
    )
    return h, m, mean, rstd


@functools.lru_cache(maxsize=8)
def _programs_target(device: torch.device) -> int:
    """Programs the broadcast backward aims for on ``device``: a few per SM, or a small fixed number in the
    interpreter (where programs run one after another)."""
    if device.type == "cuda":
        return BROADCAST_PROGRAMS_PER_SM * torch.cuda.get_device_properties(device).multi_processor_count
    return INTERPRETER_BROADCAST_PROGRAMS


@dataclass(frozen=True)
class BackwardLaunch:
    """The backward kernel's launch, with its frame chunks per batch element (one partial row each when the
    modulation is broadcast) and the row tiles each program loops over."""

    launch: Launch
    chunks: int
    tiles_per_program: int


@functools.lru_cache(maxsize=LAUNCH_CACHE_SIZE)
def backward_launch(
    batch: int,
    frames: int,
    channels: int,
    dtype: torch.dtype,
    residual: bool,
    norm: bool,
    broadcast: bool,
    device: torch.device,
) -> BackwardLaunch:
    """Grid, chunking and options of the backward kernel for one problem, computed once per shape and device."""
    tiles = row_tiles(channels, backward=True, dtype=dtype)
    n_tiles = cdiv(frames, tiles.block_rows)
    chunks = max(1, min(n_tiles, cdiv(_programs_target(device), batch))) if broadcast else n_tiles
    tiles_per_program = cdiv(n_tiles, chunks)
    chunks = cdiv(n_tiles, tiles_per_program)
    options = {
        "RESIDUAL": residual,
        "NORM": norm,
        "BROADCAST": broadcast,
        "BLOCK_R": tiles.block_rows,
        "BLOCK_C": tiles.block_cols,
        "ACC": _acc_dtype(dtype),
        "num_warps": tiles.num_warps,
        "num_stages": NUM_STAGES,
    }
    return BackwardLaunch(Launch((chunks, batch), options), chunks, tiles_per_program)


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
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """Launch the backward kernel; returns ``(dx, dgate, dbranch, dshift, dscale)``.

    The residual part runs when ``gate`` and ``branch`` are given (with ``grad_h``), the norm part when ``scale`` is
    (with ``grad_m``); ``u`` is the norm's input (``x``, or the forward's ``h`` when fused). The gradients have
    ``x``'s shape and dtype. ``None`` stands for the gradients the kernel does not write: ``dx`` of the residual
    alone (it equals ``grad_h``) and ``dshift`` per frame (it equals ``grad_m``), plus whatever the flags exclude.
    Broadcast modulation gradients are ``(B, 1, C)``; ``dshift`` is returned in ``shift_dtype``.
    """
    residual = gate is not None and branch is not None
    norm = scale is not None
    x = grad_h if grad_h is not None else grad_m  # shaped and typed like x
    assert x is not None
    B, T, C = x.shape
    modulation = gate if gate is not None else scale
    assert modulation is not None
    broadcast = is_broadcast(modulation, T)
    grad_h, grad_m, u = _rows(grad_h), _rows(grad_m), _rows(u)
    gate, branch, scale = _rows(gate), _rows(branch), _rows(scale)
    plan = backward_launch(B, T, C, x.dtype, residual, norm, broadcast, x.device)
    acc_dtype = _acc_torch_dtype(x.dtype)

    def reduced(like: torch.Tensor) -> torch.Tensor:
        """A broadcast gradient's per-chunk partial rows (summed below), or a per-frame gradient."""
        return torch.empty((B, plan.chunks, C), dtype=acc_dtype, device=x.device) if broadcast else _full(like)

    dx = _full(x) if norm else None
    dbranch = _full(branch) if branch is not None and residual else None
    dgate = reduced(gate) if gate is not None and residual else None
    dscale = reduced(scale) if scale is not None else None
    dshift = torch.empty((B, plan.chunks, C), dtype=acc_dtype, device=x.device) if norm and broadcast else None
    # Absent tensors are passed as x: the flags compile their loads and stores away, so it is never read or written.
    _adaln_bwd_kernel[plan.launch.grid](
        x if grad_h is None else grad_h,
        x if grad_m is None else grad_m,
        x if u is None else u,
        x if gate is None else gate,
        x if branch is None else branch,
        x if scale is None else scale,
        x if mean is None else mean,
        x if rstd is None else rstd,
        x if dx is None else dx,
        x if dgate is None else dgate,
        x if dbranch is None else dbranch,
        x if dshift is None else dshift,
        x if dscale is None else dscale,
        *_bt_strides(grad_h),
        *_bt_strides(grad_m),
        *_bt_strides(u),
        *_bt_strides(gate),
        *_bt_strides(branch),
        *_bt_strides(scale),
        T,
        C,
        plan.tiles_per_program,
        **plan.launch.options,
    )
    if broadcast:
        # Chunk partials are summed in a fixed order: deterministic, and no atomics in the kernel.
        if dgate is not None and gate is not None:
            dgate = dgate.sum(dim=1, keepdim=True).to(gate.dtype)
        if dscale is not None and scale is not None and dshift is not None:
            dscale = dscale.sum(dim=1, keepdim=True).to(scale.dtype)
            dshift = dshift.sum(dim=1, keepdim=True).to(shift_dtype)
    return dx, dgate, dbranch, dshift, dscale


# --- torch.library registration -------------------------------------------------------------------------------
# One forward and one backward op carry all three operations (absent inputs are None, absent outputs have zero
# elements), mirroring the single kernel pair. They keep the launches opaque to torch.compile. Plain eager calls
# skip them for an autograd.Function over the same launchers (``motionkit_kernels.ops._fast_path``).


def _tensors(outputs: tuple[torch.Tensor | None, ...], like: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The launchers' outputs with zero-element tensors for the absent ones (a custom op returns tensors only)."""
    return tuple(_empty(like) if t is None else t for t in outputs)


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
    h, m, mean, rstd = _tensors(modulate_forward(x, gate, branch, shift, scale, eps), x)
    return h, m, mean, rstd


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
    like = grad_h if grad_h is not None else grad_m
    assert like is not None
    gradients = modulate_backward(grad_h, grad_m, u, gate, branch, scale, mean, rstd, shift_dtype)
    dx, dgate, dbranch, dshift, dscale = _tensors(gradients, like)
    return dx, dgate, dbranch, dshift, dscale


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


def _save(
    ctx: Any,
    x: torch.Tensor,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    shift: torch.Tensor | None,
    scale: torch.Tensor | None,
    h: torch.Tensor | None,
    mean: torch.Tensor | None,
    rstd: torch.Tensor | None,
) -> None:
    """What both backward paths read: the flags, ``shift``'s dtype, and the tensors the kernel needs."""
    residual = gate is not None and branch is not None
    norm = shift is not None and scale is not None
    # The norm's input is x, or the stored h when fused; its backward needs only that, scale and the statistics.
    u = (h if residual else x) if norm else None
    ctx.residual = residual
    ctx.norm = norm
    ctx.shift_dtype = shift.dtype if shift is not None and norm else x.dtype
    # x itself is not saved (the gradients give its shape and dtype), so it can be freed after the forward.
    ctx.save_for_backward(u, gate, branch, scale, mean if norm else None, rstd if norm else None)


def _gradients(
    ctx: Any,
    grad_h: torch.Tensor | None,
    grad_m: torch.Tensor | None,
    launch_backward: Callable[..., tuple[torch.Tensor | None, ...]],
) -> tuple[torch.Tensor | None, ...]:
    """``(dx, dgate, dbranch, dshift, dscale)`` from the outputs' gradients (``None`` where an output got none),
    with ``launch_backward`` the backward op (custom-op path) or launcher (eager path)."""
    u, gate, branch, scale, mean, rstd = ctx.saved_tensors
    residual: bool = ctx.residual
    norm: bool = ctx.norm
    shift_dtype: torch.dtype = ctx.shift_dtype
    # A gradient of a produced output gives x's shape and dtype (skipped outputs have zero elements).
    given = next((g for g, produced in ((grad_h, residual), (grad_m, norm)) if produced and g is not None), None)
    if given is None:  # no output got a gradient (only on the eager path, which does not materialise zeros)
        return None, None, None, None, None
    if residual and grad_h is None:
        grad_h = torch.zeros_like(given)
    if norm and grad_m is None:
        grad_m = torch.zeros_like(given)
    dx, dgate, dbranch, dshift, dscale = launch_backward(
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
    )


def _setup_context(
    ctx: torch.autograd.function.FunctionCtx, inputs: tuple[Any, ...], output: tuple[torch.Tensor, ...]
) -> None:
    x, gate, branch, shift, scale, _eps = inputs
    h, _m, mean, rstd = output
    _save(ctx, x, gate, branch, shift, scale, h, mean, rstd)
    ctx.mark_non_differentiable(mean, rstd)


def _backward(
    ctx: torch.autograd.function.FunctionCtx,
    grad_h: torch.Tensor | None,
    grad_m: torch.Tensor | None,
    _grad_mean: torch.Tensor | None,
    _grad_rstd: torch.Tensor | None,
) -> tuple[torch.Tensor | None, ...]:
    return (*_gradients(ctx, grad_h, grad_m, modulate_bwd), None)


modulate_fwd.register_autograd(_backward, setup_context=_setup_context)


class _Modulate(torch.autograd.Function):
    """The eager path: the custom ops' launchers and formula without their dispatch. Returns ``(h, m)`` with
    ``None`` for the one not computed (the statistics are saved, not returned)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        gate: torch.Tensor | None,
        branch: torch.Tensor | None,
        shift: torch.Tensor | None,
        scale: torch.Tensor | None,
        eps: float,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        h, m, mean, rstd = modulate_forward(x, gate, branch, shift, scale, eps)
        _save(ctx, x, gate, branch, shift, scale, h, mean, rstd)
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None (no zero tensor is made for it)
        return h, m

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_h: torch.Tensor | None, grad_m: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        return (*_gradients(ctx, grad_h, grad_m, modulate_backward), None)


def modulate(
    x: torch.Tensor,
    gate: torch.Tensor | None,
    branch: torch.Tensor | None,
    shift: torch.Tensor | None,
    scale: torch.Tensor | None,
    eps: float,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(h, m)`` through the Triton kernels (``None`` for the one the flags exclude). Plain eager calls use
    :class:`_Modulate`, everything else (``torch.compile``, fake tensors, dispatch modes) the custom op; both launch
    the same kernels with the same arguments."""
    if plain_eager(x, gate, branch, shift, scale):
        h, m = _Modulate.apply(x, gate, branch, shift, scale, eps)
        return h, m
    residual = gate is not None and branch is not None
    norm = shift is not None and scale is not None
    h, m, _, _ = modulate_fwd(x, gate, branch, shift, scale, eps)
    return (h if residual else None), (m if norm else None)


__all__ = [
    "DTYPES",
    "BackwardLaunch",
    "RowTiles",
    "backward_launch",
    "forward_launch",
    "is_broadcast",
    "max_channels",
    "modulate",
    "modulate_backward",
    "modulate_bwd",
    "modulate_forward",
    "modulate_fwd",
    "row_tiles",
]
