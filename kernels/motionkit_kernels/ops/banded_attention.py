"""Banded attention in Triton: forward and backward kernels, launchers and the ``motionkit::`` custom ops.

Row ``i`` attends to key ``j`` iff ``|i - j| <= w``::

    S_ij = scale * q_i . k_j,   P_ij = softmax_j(S_ij) over the band,   O_i = sum_j P_ij v_j
    LSE_i = log2 sum_j exp2(S_ij * log2(e))                   (stored per row, base 2, for the backward)
    dV_j = sum_i P_ij dO_i
    dS_ij = P_ij (dO_i . v_j - D_i),   D_i = dO_i . O_i
    dQ_i = scale * sum_j dS_ij k_j,   dK_j = scale * sum_i dS_ij q_i

Each program owns ``outer`` consecutive rows and loops over ``inner``-row blocks of the other side, visiting only
the blocks that intersect the band ``[r0 - w, r0 + outer - 1 + w]``: at most ``ceil((outer + 2w) / inner) + 1``
blocks whatever ``T``, so the cost is O(T * (outer + 2w + inner) * Dh), not O(T^2). The band is symmetric, so the
key-side backward (dK, dV) uses the same loop with the roles of queries and keys swapped and needs no atomics:
every output element is written by exactly one program and the results are bitwise deterministic.

Masked scores use a finite ``NEG`` and masked probabilities are set to exactly zero. A row whose first visited
block holds no key of its band therefore keeps ``l = 0`` and ``m = NEG`` until its first valid key rescales
everything by ``exp2(NEG - m) = 0``; ``-inf`` would produce ``exp2(-inf + inf) = NaN`` there instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch
import triton
import triton.language as tl

from motionkit_kernels.ops._fast_path import once_differentiable, plain_eager
from motionkit_kernels.ops._interpreter import dot, dot_precision, dot_upcast
from motionkit_kernels.ops._launch import LAUNCH_CACHE_SIZE, Launch, cdiv
from motionkit_kernels.ops._tiles import load_tile, masked_range, store_tile

HEAD_DIMS = (32, 64, 128)
"""Head dimensions of the Triton path (each checked by the AOT compile); others use the reference."""

DTYPES = (torch.float16, torch.bfloat16, torch.float32)
"""Input dtypes of the Triton path (``tl.dot`` has no float64)."""

WIDE_WINDOW = 32
"""Windows above this use 64-row inner blocks (fewer loop steps); narrower ones use 16-row blocks (less waste)."""

NEG = tl.constexpr(-1.0e30)
LOG2E = 1.4426950408889634


@dataclass(frozen=True)
class Tiles:
    """Launch shape of one kernel: ``outer`` rows per program, ``inner`` rows per loop step."""

    outer: int
    inner: int
    num_warps: int
    num_stages: int


@dataclass(frozen=True)
class AttentionTiles:
    """Tiles of the forward, the query-side backward (dQ) and the key-side backward (dK, dV)."""

    forward: Tiles
    backward_q: Tiles
    backward_kv: Tiles


def attention_tiles(window: int, head_dim: int, dtype: torch.dtype) -> AttentionTiles:
    """Tile sizes for a window, head dimension and dtype; a pure function of them, so launches are reproducible.

    Narrow bands (FLOAT: ``w = 2``) use 16-row inner blocks: a 64-row query block then reads 96 keys for its
    64 + 2w useful ones. Wide bands use 64-row inner blocks, where the band dominates and longer steps win.
    float32 runs exact (IEEE) dots, whose operands stay in registers: 32-row tiles and 8 warps avoid spills.
    Every choice here compiles without register spills for sm_80 and sm_90 (checked by ``motionkit_kernels.aot``).
    """
    wide = window > WIDE_WINDOW
    if dtype == torch.float32:
        inner = 32 if wide else 16
        # 32x32 tiles at Dh = 128 spill on sm_90 (the forward with Triton 3.7, the key side with 3.6); 32x16 do not.
        narrow_inner = 16 if head_dim == 128 else inner
        forward = Tiles(outer=32, inner=narrow_inner, num_warps=8, num_stages=1)
        backward_q = Tiles(outer=32, inner=inner, num_warps=8, num_stages=1)
        backward_kv = Tiles(outer=32, inner=narrow_inner, num_warps=8, num_stages=1)
        return AttentionTiles(forward=forward, backward_q=backward_q, backward_kv=backward_kv)
    inner = 64 if wide else 16
    tiles = Tiles(outer=64, inner=inner, num_warps=4, num_stages=2)
    # The key side keeps two (64, Dh) float32 accumulators: at Dh = 128 with 64-row steps, 4 warps spill.
    kv_warps = 8 if wide and head_dim == 128 else 4
    return AttentionTiles(
        forward=tiles, backward_q=tiles, backward_kv=Tiles(outer=64, inner=inner, num_warps=kv_warps, num_stages=2)
    )


DELTA_TILES = Tiles(outer=64, inner=0, num_warps=4, num_stages=1)
"""Rows per program (``outer``) of the ``D_i = dO_i . O_i`` preprocessing kernel, which has no inner loop."""


@triton.jit
def _band_mask(rows, cols, T, window):  # type: ignore[no-untyped-def]
    """``(R, C)`` mask of the pairs inside the band and the sequence: ``|i - j| <= w``, ``i < T``, ``j < T``."""
    diff = rows[:, None] - cols[None, :]
    return (diff <= window) & (diff >= -window) & (rows[:, None] < T) & (cols[None, :] < T)


@triton.jit
def _block_range(r0, window, T, OUTER: tl.constexpr, INNER: tl.constexpr):  # type: ignore[no-untyped-def]
    """``[lo, hi)`` of the inner blocks that intersect the band of rows ``[r0, r0 + OUTER)``; ``lo`` block-aligned."""
    lo = (tl.maximum(r0 - window, 0) // INNER) * INNER
    hi = tl.minimum(r0 + OUTER + window, T)
    return lo, hi


@triton.jit
def _program_rows(H, T, BLOCK: tl.constexpr):  # type: ignore[no-untyped-def]
    """The prologue of every attention kernel: this program's batch ``b`` and head ``h`` (grid axis 1 runs over
    ``B * H``; int64, so base offsets cannot overflow), the offset of its rows in the ``(B * H, T)`` statistics, and
    its ``BLOCK`` rows (grid axis 0): the first, all of them, and which exist."""
    pid_r = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b = (pid_bh // H).to(tl.int64)
    h = (pid_bh % H).to(tl.int64)
    r0 = pid_r * BLOCK
    rows, rows_ok = masked_range(r0, T, BLOCK)
    return b, h, pid_bh.to(tl.int64) * T, r0, rows, rows_ok


@triton.jit
def _head(X, b, h, stride_b, stride_h):  # type: ignore[no-untyped-def]
    """Pointer to the ``(T, Dh)`` matrix of batch ``b``, head ``h`` of a ``(B, H, T, Dh)`` tensor."""
    return X + b * stride_b + h * stride_h


@triton.jit
def _attention_fwd_kernel(  # type: ignore[no-untyped-def]
    Q,
    K,
    V,
    OUT,
    LSE,
    stride_qb,
    stride_qh,
    stride_qt,
    stride_kb,
    stride_kh,
    stride_kt,
    stride_vb,
    stride_vh,
    stride_vt,
    stride_ob,
    stride_oh,
    stride_ot,
    H,
    T,
    window,
    qk_scale_log2,
    HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    DOT_UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    b, h, stats, m0, offs_m, row_ok = _program_rows(H, T, BLOCK_M)
    k_base = _head(K, b, h, stride_kb, stride_kh)
    v_base = _head(V, b, h, stride_vb, stride_vh)
    offs_d = tl.arange(0, HEAD_DIM)
    q = load_tile(_head(Q, b, h, stride_qb, stride_qh), offs_m, offs_d, stride_qt, row_ok[:, None])

    m_i = tl.full([BLOCK_M], NEG, dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    lo, hi = _block_range(m0, window, T, BLOCK_M, BLOCK_N)
    for n0 in range(lo, hi, BLOCK_N):
        offs_n, col_ok = masked_range(n0, T, BLOCK_N)
        k = load_tile(k_base, offs_n, offs_d, stride_kt, col_ok[:, None])
        v = load_tile(v_base, offs_n, offs_d, stride_vt, col_ok[:, None])
        band = _band_mask(offs_m, offs_n, T, window)
        s = dot(q, tl.trans(k), DOT_UPCAST, PRECISION) * qk_scale_log2
        s = tl.where(band, s, NEG)
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.where(band, tl.exp2(s - m_new[:, None]), 0.0)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + dot(p.to(v.dtype), v, DOT_UPCAST, PRECISION)
        m_i = m_new

    # Every row i < T sees at least key i, so l_i >= 1 there; the guard only protects padding rows.
    l_safe = tl.where(l_i > 0.0, l_i, 1.0)
    out = acc / l_safe[:, None]
    out_base = _head(OUT, b, h, stride_ob, stride_oh)
    store_tile(out_base, offs_m, offs_d, stride_ot, out.to(OUT.dtype.element_ty), row_ok[:, None])
    tl.store(LSE + stats + offs_m, m_i + tl.log2(l_safe), mask=row_ok)


@triton.jit
def _attention_bwd_delta_kernel(  # type: ignore[no-untyped-def]
    OUT,
    DO,
    DELTA,
    stride_ob,
    stride_oh,
    stride_ot,
    stride_dob,
    stride_doh,
    stride_dot,
    H,
    T,
    HEAD_DIM: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b, h, stats, _, offs_m, row_ok = _program_rows(H, T, BLOCK)
    offs_d = tl.arange(0, HEAD_DIM)
    o = load_tile(_head(OUT, b, h, stride_ob, stride_oh), offs_m, offs_d, stride_ot, row_ok[:, None])
    do = load_tile(_head(DO, b, h, stride_dob, stride_doh), offs_m, offs_d, stride_dot, row_ok[:, None])
    tl.store(DELTA + stats + offs_m, tl.sum(o.to(tl.float32) * do.to(tl.float32), axis=1), mask=row_ok)


@triton.jit
def _attention_bwd_dq_kernel(  # type: ignore[no-untyped-def]
    Q,
    K,
    V,
    DO,
    LSE,
    DELTA,
    DQ,
    stride_qb,
    stride_qh,
    stride_qt,
    stride_kb,
    stride_kh,
    stride_kt,
    stride_vb,
    stride_vh,
    stride_vt,
    stride_dob,
    stride_doh,
    stride_dot,
    stride_dqb,
    stride_dqh,
    stride_dqt,
    H,
    T,
    window,
    qk_scale_log2,
    scale,
    HEAD_DIM: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    DOT_UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    b, h, stats, m0, offs_m, row_ok = _program_rows(H, T, BLOCK_M)
    k_base = _head(K, b, h, stride_kb, stride_kh)
    v_base = _head(V, b, h, stride_vb, stride_vh)
    offs_d = tl.arange(0, HEAD_DIM)
    q = load_tile(_head(Q, b, h, stride_qb, stride_qh), offs_m, offs_d, stride_qt, row_ok[:, None])
    do = load_tile(_head(DO, b, h, stride_dob, stride_doh), offs_m, offs_d, stride_dot, row_ok[:, None])
    row_stats = stats + offs_m
    lse = tl.load(LSE + row_stats, mask=row_ok, other=0.0)
    delta = tl.load(DELTA + row_stats, mask=row_ok, other=0.0)

    dq = tl.zeros([BLOCK_M, HEAD_DIM], dtype=tl.float32)
    lo, hi = _block_range(m0, window, T, BLOCK_M, BLOCK_N)
    for n0 in range(lo, hi, BLOCK_N):
        offs_n, col_ok = masked_range(n0, T, BLOCK_N)
        k = load_tile(k_base, offs_n, offs_d, stride_kt, col_ok[:, None])
        v = load_tile(v_base, offs_n, offs_d, stride_vt, col_ok[:, None])
        band = _band_mask(offs_m, offs_n, T, window)
        s = dot(q, tl.trans(k), DOT_UPCAST, PRECISION) * qk_scale_log2
        p = tl.where(band, tl.exp2(s - lse[:, None]), 0.0)
        dp = dot(do, tl.trans(v), DOT_UPCAST, PRECISION)
        ds = p * (dp - delta[:, None])
        dq += dot(ds.to(k.dtype), k, DOT_UPCAST, PRECISION)

    dq_base = _head(DQ, b, h, stride_dqb, stride_dqh)
    store_tile(dq_base, offs_m, offs_d, stride_dqt, (dq * scale).to(DQ.dtype.element_ty), row_ok[:, None])


@triton.jit
def _attention_bwd_dkdv_kernel(  # type: ignore[no-untyped-def]
    Q,
    K,
    V,
    DO,
    LSE,
    DELTA,
    DK,
    DV,
    stride_qb,
    stride_qh,
    stride_qt,
    stride_kb,
    stride_kh,
    stride_kt,
    stride_vb,
    stride_vh,
    stride_vt,
    stride_dob,
    stride_doh,
    stride_dot,
    stride_dkb,
    stride_dkh,
    stride_dkt,
    stride_dvb,
    stride_dvh,
    stride_dvt,
    H,
    T,
    window,
    qk_scale_log2,
    scale,
    HEAD_DIM: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_M: tl.constexpr,
    DOT_UPCAST: tl.constexpr,
    PRECISION: tl.constexpr,
):
    b, h, stats, n0, offs_n, col_ok = _program_rows(H, T, BLOCK_N)
    q_base = _head(Q, b, h, stride_qb, stride_qh)
    do_base = _head(DO, b, h, stride_dob, stride_doh)
    offs_d = tl.arange(0, HEAD_DIM)
    k = load_tile(_head(K, b, h, stride_kb, stride_kh), offs_n, offs_d, stride_kt, col_ok[:, None])
    v = load_tile(_head(V, b, h, stride_vb, stride_vh), offs_n, offs_d, stride_vt, col_ok[:, None])

    dk = tl.zeros([BLOCK_N, HEAD_DIM], dtype=tl.float32)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], dtype=tl.float32)
    # The band is symmetric: the queries that see keys [n0, n0 + BLOCK_N) are those within w of them.
    lo, hi = _block_range(n0, window, T, BLOCK_N, BLOCK_M)
    for m0 in range(lo, hi, BLOCK_M):
        offs_m, row_ok = masked_range(m0, T, BLOCK_M)
        q = load_tile(q_base, offs_m, offs_d, stride_qt, row_ok[:, None])
        do = load_tile(do_base, offs_m, offs_d, stride_dot, row_ok[:, None])
        lse = tl.load(LSE + stats + offs_m, mask=row_ok, other=0.0)
        delta = tl.load(DELTA + stats + offs_m, mask=row_ok, other=0.0)
        band_t = _band_mask(offs_n, offs_m, T, window)  # (keys, queries)
        s_t = dot(k, tl.trans(q), DOT_UPCAST, PRECISION) * qk_scale_log2
        p_t = tl.where(band_t, tl.exp2(s_t - lse[None, :]), 0.0)
        dv += dot(p_t.to(do.dtype), do, DOT_UPCAST, PRECISION)
        dp_t = dot(v, tl.trans(do), DOT_UPCAST, PRECISION)
        ds_t = p_t * (dp_t - delta[None, :])
        dk += dot(ds_t.to(q.dtype), q, DOT_UPCAST, PRECISION)

    dk_base = _head(DK, b, h, stride_dkb, stride_dkh)
    dv_base = _head(DV, b, h, stride_dvb, stride_dvh)
    store_tile(dk_base, offs_n, offs_d, stride_dkt, (dk * scale).to(DK.dtype.element_ty), col_ok[:, None])
    store_tile(dv_base, offs_n, offs_d, stride_dvt, dv.to(DV.dtype.element_ty), col_ok[:, None])


def _unit_last_stride(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself when its last dimension is contiguous (the kernels address it with stride 1), else a copy."""
    return t if t.stride()[-1] == 1 else t.contiguous()


def _clamp_window(window: int, frames: int) -> int:
    """``|i - j| <= T - 1`` always, so wider windows are full attention; clamping keeps the kernel's int32 bounds
    (``r0 + outer + w``) from overflowing."""
    return min(window, max(frames - 1, 0))


def _strides(t: torch.Tensor) -> tuple[int, ...]:
    """Batch, head and frame strides (one ``stride()`` call: ``stride(i)`` parses its argument each time)."""
    return t.stride()[:3]


@dataclass(frozen=True)
class AttentionLaunches:
    """The launches of one problem: the forward, and the backward's delta, query-side and key-side kernels."""

    forward: Launch
    delta: Launch
    backward_q: Launch
    backward_kv: Launch


@functools.lru_cache(maxsize=LAUNCH_CACHE_SIZE)
def attention_launches(
    batch_heads: int, frames: int, head_dim: int, window: int, dtype: torch.dtype
) -> AttentionLaunches:
    """Grids and options of every kernel of one problem (``window`` already clamped to ``frames - 1``), computed
    once per shape: on the hot path a launch then costs a cache lookup instead of tile choices and grid arithmetic."""
    tiles = attention_tiles(window, head_dim, dtype)
    common = {"HEAD_DIM": head_dim, "DOT_UPCAST": dot_upcast(dtype), "PRECISION": dot_precision(dtype)}

    def launch(t: Tiles, **constexprs: Any) -> Launch:
        grid = (cdiv(frames, t.outer), batch_heads)
        return Launch(grid, {**constexprs, "num_warps": t.num_warps, "num_stages": t.num_stages})

    return AttentionLaunches(
        forward=launch(tiles.forward, **common, BLOCK_M=tiles.forward.outer, BLOCK_N=tiles.forward.inner),
        delta=launch(DELTA_TILES, HEAD_DIM=head_dim, BLOCK=DELTA_TILES.outer),
        backward_q=launch(tiles.backward_q, **common, BLOCK_M=tiles.backward_q.outer, BLOCK_N=tiles.backward_q.inner),
        backward_kv=launch(
            tiles.backward_kv, **common, BLOCK_N=tiles.backward_kv.outer, BLOCK_M=tiles.backward_kv.inner
        ),
    )


def attention_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Launch the forward kernel. ``q, k, v``: ``(B, H, T, Dh)``; returns ``O (B, H, T, Dh)`` and the base-2
    ``LSE (B, H, T)`` in float32. Inputs are assumed validated (see :mod:`motionkit_kernels.dispatch`)."""
    q, k, v = _unit_last_stride(q), _unit_last_stride(k), _unit_last_stride(v)
    B, H, T, D = q.shape
    window = _clamp_window(window, T)
    out = torch.empty_like(q, memory_format=torch.contiguous_format)
    lse = torch.empty((B, H, T), dtype=torch.float32, device=q.device)
    launch = attention_launches(B * H, T, D, window, q.dtype).forward
    _attention_fwd_kernel[launch.grid](
        q,
        k,
        v,
        out,
        lse,
        *_strides(q),
        *_strides(k),
        *_strides(v),
        *_strides(out),
        H,
        T,
        window,
        scale * LOG2E,
        **launch.options,
    )
    return out, lse


def attention_backward(
    grad_out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    window: int,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Launch the backward kernels; returns ``(dQ, dK, dV)`` in the input dtype, shaped like ``q``."""
    q, k, v = _unit_last_stride(q), _unit_last_stride(k), _unit_last_stride(v)
    grad_out, out = _unit_last_stride(grad_out), _unit_last_stride(out)
    B, H, T, D = q.shape
    window = _clamp_window(window, T)
    launches = attention_launches(B * H, T, D, window, q.dtype)
    delta = torch.empty_like(lse, memory_format=torch.contiguous_format)
    launch = launches.delta
    _attention_bwd_delta_kernel[launch.grid](
        out, grad_out, delta, *_strides(out), *_strides(grad_out), H, T, **launch.options
    )
    dq = torch.empty_like(q, memory_format=torch.contiguous_format)
    dk = torch.empty_like(dq)
    dv = torch.empty_like(dq)
    q_strides, k_strides, v_strides, do_strides = _strides(q), _strides(k), _strides(v), _strides(grad_out)
    launch = launches.backward_q
    _attention_bwd_dq_kernel[launch.grid](
        q,
        k,
        v,
        grad_out,
        lse,
        delta,
        dq,
        *q_strides,
        *k_strides,
        *v_strides,
        *do_strides,
        *_strides(dq),
        H,
        T,
        window,
        scale * LOG2E,
        scale,
        **launch.options,
    )
    launch = launches.backward_kv
    _attention_bwd_dkdv_kernel[launch.grid](
        q,
        k,
        v,
        grad_out,
        lse,
        delta,
        dk,
        dv,
        *q_strides,
        *k_strides,
        *v_strides,
        *do_strides,
        *_strides(dk),
        *_strides(dv),
        H,
        T,
        window,
        scale * LOG2E,
        scale,
        **launch.options,
    )
    return dq, dk, dv


# --- torch.library registration -------------------------------------------------------------------------------
# The custom ops make the launches opaque to torch.compile (Dynamo never traces into Triton's launcher) and carry
# fake implementations for shape propagation and an autograd formula that calls the backward op. Plain eager calls
# skip them for an autograd.Function over the same launchers (``motionkit_kernels.ops._fast_path``).


@torch.library.custom_op("motionkit::banded_attention_fwd", mutates_args=())
def banded_attention_fwd(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(O, LSE)`` of banded attention; see :func:`attention_forward`."""
    return attention_forward(q, k, v, window, scale)


@banded_attention_fwd.register_fake
def _banded_attention_fwd_fake(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    B, H, T, D = q.shape
    return q.new_empty((B, H, T, D)), q.new_empty((B, H, T), dtype=torch.float32)


@torch.library.custom_op("motionkit::banded_attention_bwd", mutates_args=())
def banded_attention_bwd(
    grad_out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    window: int,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dQ, dK, dV)`` of banded attention; see :func:`attention_backward`."""
    return attention_backward(grad_out, q, k, v, out, lse, window, scale)


@banded_attention_bwd.register_fake
def _banded_attention_bwd_fake(
    grad_out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    window: int,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    shape = tuple(q.shape)
    return q.new_empty(shape), q.new_empty(shape), q.new_empty(shape)


def _save(
    ctx: Any,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    window: int,
    scale: float,
) -> None:
    """What both backward paths read: the inputs, the output, the row statistics and the two scalars."""
    ctx.save_for_backward(q, k, v, out, lse)
    ctx.window = window
    ctx.scale = scale


def _setup_context(
    ctx: torch.autograd.function.FunctionCtx, inputs: tuple[Any, ...], output: tuple[torch.Tensor, ...]
) -> None:
    q, k, v, window, scale = inputs
    out, lse = output
    _save(ctx, q, k, v, out, lse, window, scale)
    ctx.mark_non_differentiable(lse)


def _backward(
    ctx: torch.autograd.function.FunctionCtx, grad_out: torch.Tensor, grad_lse: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None, None]:
    q, k, v, out, lse = ctx.saved_tensors  # type: ignore[attr-defined]
    dq, dk, dv = banded_attention_bwd(grad_out, q, k, v, out, lse, ctx.window, ctx.scale)  # type: ignore[attr-defined]
    return dq, dk, dv, None, None


banded_attention_fwd.register_autograd(_backward, setup_context=_setup_context)


class _BandedAttention(torch.autograd.Function):
    """The eager path: the custom ops' launchers and formula without their dispatch. Returns ``O`` alone (``LSE``
    is saved, not returned, so autograd tracks one output)."""

    @staticmethod
    def forward(ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float) -> torch.Tensor:
        out, lse = attention_forward(q, k, v, window, scale)
        _save(ctx, q, k, v, out, lse, window, scale)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None, None]:
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = attention_backward(grad_out, q, k, v, out, lse, ctx.window, ctx.scale)
        return dq, dk, dv, None, None


def banded_attention_triton(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, scale: float
) -> torch.Tensor:
    """Banded attention through the Triton kernels; ``window >= 0`` (wider than ``T - 1`` is full attention).
    Plain eager calls use :class:`_BandedAttention`, everything else (``torch.compile``, fake tensors, dispatch
    modes) the custom op; both launch the same kernels with the same arguments."""
    if plain_eager(q, k, v):
        out: torch.Tensor = _BandedAttention.apply(q, k, v, window, scale)
        return out
    out, _ = banded_attention_fwd(q, k, v, window, scale)
    return out


__all__ = [
    "DTYPES",
    "HEAD_DIMS",
    "AttentionLaunches",
    "AttentionTiles",
    "Tiles",
    "attention_backward",
    "attention_forward",
    "attention_launches",
    "attention_tiles",
    "banded_attention_bwd",
    "banded_attention_fwd",
    "banded_attention_triton",
]
