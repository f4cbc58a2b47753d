"""Benchmark motionkit's kernels: banded attention and frame-wise AdaLN, against the usual PyTorch alternatives.

On a CUDA GPU:
  * banded attention over T in {64, 256, 1024, 4096, 16384}, window in {2, 8}, H = 8, Dh = 128, B in {1, 8},
    forward and forward+backward: the Triton kernel against SDPA with a dense boolean mask, compiled
    ``flex_attention`` with a sliding-window block mask (block 128), and the O(T * w) unfold reference;
  * ``adaln_modulate``, ``gated_residual`` and the fused ``gated_residual_adaln`` over (B*T, C) up to (65536, 1024)
    with per-frame modulation, forward and forward+backward: the Triton kernels against the eager PyTorch reference
    and ``torch.compile`` of it.
On a CPU it times the PyTorch references only (the CPU path: dense-mask SDPA, unfold, eager AdaLN, and the public
functions' dispatch, which must add nothing measurable), at the sizes that fit the memory budget, and says so.

Prints microseconds (median, with the 20th and 80th percentiles), effective GB/s, percent of the HBM peak and
speed ratios; writes a CSV and a PNG plot. GB/s counts the minimal traffic of the fused kernels for every
implementation, so all of them are on one axis: attention 4 * B*H*T*Dh elements forward (read q, k, v, write o)
and 12 forward+backward (+ read q, k, v, o, dO, write dq, dk, dv); AdaLN per (B*T, C) element: see
``ADALN_PASSES``.

Usage::

    PYTHONPATH=.:kernels python benchmarks/kernel_ops.py [--dtype bf16] [--out benchmarks/results] [--quick]
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from harness import save_plot, write_csv
from motionkit_kernels import (
    TRITON_AVAILABLE,
    adaln_modulate,
    banded_attention,
    gated_residual,
    gated_residual_adaln,
    reference,
)

ATTENTION_T = (64, 256, 1024, 4096, 16384)
ATTENTION_WINDOWS = (2, 8)
ATTENTION_BATCHES = (1, 8)
ATTENTION_HEADS = 8
ATTENTION_HEAD_DIM = 128
ADALN_SHAPES = ((60, 1024), (1024, 1024), (8192, 1024), (65536, 1024), (65536, 512))
"""(B*T, C): FLOAT's window (60 frames of 1024), then larger batches of frames up to 65536 rows."""
ADALN_BATCH = 8
"""Rows are split as (B, T) = (ADALN_BATCH, rows / ADALN_BATCH) when divisible, else (1, rows)."""

ADALN_PASSES = {
    # (forward, forward+backward) full-size element passes over HBM of the fused kernels, per-frame modulation.
    "adaln_modulate": (4, 9),  # fwd: x, shift, scale -> m; bwd: dm, x, scale -> dx, dscale (dshift = dm, free)
    "gated_residual": (4, 9),  # fwd: x, gate, y -> h; bwd: dh, gate, y -> dy, dgate (dx = dh, free)
    "gated_residual_adaln": (7, 17),  # fwd: x, gate, y, shift, scale -> h, m; bwd: dh, dm, h, gate, y, scale -> 4
}

HBM_PEAK_GBPS = {
    # Vendor peak memory bandwidth (GB/s) by device-name fragment, most specific first.
    "H200": 4800.0,
    "H100 NVL": 3900.0,
    "H100 PCIe": 2000.0,
    "H100": 3350.0,  # SXM (HBM3)
    "A100-SXM4-80GB": 2039.0,
    "A100 80GB PCIe": 1935.0,
    "A100": 1555.0,  # 40 GB parts
    "L40S": 864.0,
    "RTX 4090": 1008.0,
}

CPU_MEMORY_BUDGET_GIB = 2.0
"""Largest estimated working set of one CPU measurement; bigger configurations are skipped (and listed)."""
GPU_WARMUP_MS, GPU_REP_MS = 25, 100
CPU_MIN_SECONDS = 0.5

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


@dataclass
class Row:
    """One measurement (a CSV row)."""

    suite: str
    op: str
    impl: str
    passes: str
    device: str
    dtype: str
    batch: int
    heads: int
    frames: int
    window: int
    width: int
    us: float
    us_p20: float
    us_p80: float
    gbytes: float
    gbps: float
    pct_peak: float
    speedup_of_ours: float = math.nan
    timing: str = ""
    note: str = ""

    @classmethod
    def problem(
        cls,
        suite: str,
        op: str,
        machine: Machine,
        dtype: torch.dtype,
        *,
        batch: int,
        heads: int,
        frames: int,
        window: int,
        width: int,
    ) -> Row:
        """The row of one problem before any implementation is measured (timings NaN, impl and passes empty)."""
        nan = math.nan
        return cls(
            suite, op, "", "", machine.name, str(dtype).removeprefix("torch."), batch, heads, frames, window, width,
            us=nan, us_p20=nan, us_p80=nan, gbytes=nan, gbps=nan, pct_peak=nan,
        )  # fmt: skip


@dataclass(frozen=True)
class Machine:
    device: torch.device
    name: str
    peak_gbps: float
    graphs: bool = False
    """Time CUDA-graph replays (device time only) instead of eager calls (device time or host launch time,
    whichever is longer)."""

    @property
    def gpu(self) -> bool:
        return self.device.type == "cuda"


def _machine(peak_override: float | None, graphs: bool) -> Machine:
    if torch.cuda.is_available():
        device = torch.device("cuda")
        name = torch.cuda.get_device_name(device)
        peak = next((gbps for key, gbps in HBM_PEAK_GBPS.items() if key in name), math.nan)
    else:
        device = torch.device("cpu")
        name = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads, no GPU"
        peak = math.nan
    return Machine(device, name, peak if peak_override is None else peak_override, graphs and device.type == "cuda")


def _time(fn: Callable[[], object], machine: Machine, grad_to_none: Sequence[torch.Tensor]) -> tuple[float, ...]:
    """``(headline, p20, p80)`` of one call in microseconds. GPU: ``do_bench``'s median (L2 flushed between calls;
    a call whose host-side launch work outlasts its kernels is timed at the host's pace), or with
    ``machine.graphs`` ``do_bench_cudagraph``'s (the calls captured in a CUDA graph and replayed: device time alone,
    L2 not flushed). CPU: the fastest block of ``torch.utils.benchmark``'s blocked autorange, since on a shared CPU
    interference only ever adds time; the percentiles show the spread."""
    if machine.gpu:
        import triton.testing

        quantiles = [0.5, 0.2, 0.8]
        if machine.graphs:
            ms = triton.testing.do_bench_cudagraph(
                fn, rep=GPU_REP_MS, grad_to_none=list(grad_to_none), quantiles=quantiles
            )
        else:
            ms = triton.testing.do_bench(
                fn, warmup=GPU_WARMUP_MS, rep=GPU_REP_MS, grad_to_none=list(grad_to_none), quantiles=quantiles
            )
        return tuple(1e3 * m for m in ms)
    from torch.utils.benchmark import Timer

    def run() -> None:
        for t in grad_to_none:
            t.grad = None
        fn()

    run()  # warm-up
    times = Timer(stmt="run()", globals={"run": run}).blocked_autorange(min_run_time=CPU_MIN_SECONDS).times
    if len(times) < 2:
        times = times * 2
    quantiles = statistics.quantiles(times, n=10, method="inclusive")
    return 1e6 * min(times), 1e6 * quantiles[1], 1e6 * quantiles[7]


def _fwd_bwd(forward: Callable[[], torch.Tensor | tuple[torch.Tensor, ...]]) -> Callable[[], None]:
    """A call running ``forward`` then the backward of a fixed random output gradient."""
    outputs = forward()
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    weights = [torch.randn_like(o) for o in outs]

    def run() -> None:
        result = forward()
        torch.autograd.backward(result if isinstance(result, tuple) else (result,), weights)

    return run


def _no_grad(forward: Callable[[], object]) -> Callable[[], object]:
    """The forward alone, as in inference: no autograd graph is recorded."""

    def run() -> object:
        with torch.no_grad():
            return forward()

    return run


def _timing_name(machine: Machine) -> str:
    if not machine.gpu:
        return "cpu wall"
    return "cuda-graph replay" if machine.graphs else "eager (do_bench)"


def _oom_errors() -> tuple[type[BaseException], ...]:
    return (torch.cuda.OutOfMemoryError, MemoryError) if torch.cuda.is_available() else (MemoryError,)


def _measure(
    machine: Machine,
    base: Row,
    impls: dict[str, Callable[[], torch.Tensor | tuple[torch.Tensor, ...]]],
    leaves: Sequence[torch.Tensor],
    bytes_by_pass: dict[str, float],
    skipped: dict[str, str],
) -> list[Row]:
    rows = []
    for passes, nbytes in bytes_by_pass.items():
        for impl, forward in impls.items():
            row = Row(**{**asdict(base), "impl": impl, "passes": passes, "gbytes": nbytes / 1e9})
            row.timing = _timing_name(machine)
            if impl in skipped:
                row.us = row.us_p20 = row.us_p80 = row.gbps = row.pct_peak = math.nan
                row.note = skipped[impl]
                rows.append(row)
                continue
            try:
                call = _fwd_bwd(forward) if passes == "fwd+bwd" else _no_grad(forward)
                row.us, row.us_p20, row.us_p80 = _time(call, machine, leaves if passes == "fwd+bwd" else ())
            except _oom_errors() as error:
                row.us = row.us_p20 = row.us_p80 = math.nan
                row.note = f"out of memory ({type(error).__name__})"
                if machine.gpu:
                    torch.cuda.empty_cache()
            except RuntimeError as error:
                if not machine.graphs:
                    raise
                row.us = row.us_p20 = row.us_p80 = math.nan
                row.note = f"CUDA graph capture failed: {str(error).splitlines()[0]}"
            row.gbps = nbytes / (row.us * 1e-6) / 1e9
            row.pct_peak = 100 * row.gbps / machine.peak_gbps
            rows.append(row)
            print(_format_row(row), flush=True)
    return rows


def _band_mod(window: int) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """flex_attention ``mask_mod`` of the band ``|i - j| <= window``."""

    def mod(b: torch.Tensor, h: torch.Tensor, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
        return (q_idx - kv_idx).abs() <= window

    return mod


def _attention_rows(
    machine: Machine, dtype: torch.dtype, batches: Sequence[int], windows: Sequence[int], lengths: Sequence[int]
) -> list[Row]:
    itemsize = torch.empty((), dtype=dtype).element_size()
    compiled_flex = None
    if machine.gpu:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        # One compiled graph per (T, window, B): raise Dynamo's recompile limit so none falls back to eager.
        torch._dynamo.config.cache_size_limit = 256
        compiled_flex = torch.compile(flex_attention, dynamic=False)
    rows: list[Row] = []
    for batch in batches:
        for window in windows:
            for frames in lengths:
                shape = (batch, ATTENTION_HEADS, frames, ATTENTION_HEAD_DIM)
                q, k, v = (torch.randn(shape, device=machine.device, dtype=dtype, requires_grad=True) for _ in "qkv")
                elements = q.numel()
                impls: dict[str, Callable[[], torch.Tensor | tuple[torch.Tensor, ...]]] = {}
                skipped: dict[str, str] = {}
                if machine.gpu:
                    mask = reference.band_mask(frames, window, machine.device)
                    block_mask = create_block_mask(_band_mod(window), None, None, frames, frames, device=machine.device)
                    impls["motionkit-triton"] = lambda q=q, k=k, v=v, w=window: banded_attention(
                        q, k, v, w, backend="triton"
                    )
                    impls["sdpa-dense-mask"] = lambda q=q, k=k, v=v, m=mask: F.scaled_dot_product_attention(
                        q, k, v, attn_mask=m
                    )
                    impls["flex-compiled"] = lambda q=q, k=k, v=v, bm=block_mask: compiled_flex(q, k, v, block_mask=bm)
                    impls["unfold-reference"] = lambda q=q, k=k, v=v, w=window: reference.banded_attention_unfold(
                        q, k, v, w
                    )
                else:
                    impls["reference-dense"] = lambda q=q, k=k, v=v, w=window: reference.banded_attention_dense(
                        q, k, v, w
                    )
                    impls["reference-unfold"] = lambda q=q, k=k, v=v, w=window: reference.banded_attention_unfold(
                        q, k, v, w
                    )
                    impls["dispatch-auto"] = lambda q=q, k=k, v=v, w=window: banded_attention(q, k, v, w)
                    dense_gib = 3 * batch * ATTENTION_HEADS * frames * frames * 4 / 2**30
                    unfold_gib = 6 * elements * (2 * window + 1) * 4 / 2**30
                    for impl, gib in (
                        ("reference-dense", dense_gib),
                        ("dispatch-auto", dense_gib if frames <= 1024 else unfold_gib),
                        ("reference-unfold", unfold_gib),
                    ):
                        if gib > CPU_MEMORY_BUDGET_GIB:
                            skipped[impl] = f"skipped: needs ~{gib:.1f} GiB > {CPU_MEMORY_BUDGET_GIB} GiB CPU budget"
                base = Row.problem(
                    "attention",
                    "banded_attention",
                    machine,
                    dtype,
                    batch=batch,
                    heads=ATTENTION_HEADS,
                    frames=frames,
                    window=window,
                    width=ATTENTION_HEAD_DIM,
                )
                bytes_by_pass = {"fwd": 4 * elements * itemsize, "fwd+bwd": 12 * elements * itemsize}
                rows += _measure(machine, base, impls, (q, k, v), bytes_by_pass, skipped)
                del q, k, v
    return rows


def _adaln_rows(machine: Machine, dtype: torch.dtype, shapes: Sequence[tuple[int, int]]) -> list[Row]:
    itemsize = torch.empty((), dtype=dtype).element_size()
    references: dict[str, Callable[..., torch.Tensor | tuple[torch.Tensor, torch.Tensor]]] = {
        "adaln_modulate": reference.adaln_modulate,
        "gated_residual": reference.gated_residual,
        "gated_residual_adaln": reference.gated_residual_adaln,
    }
    public: dict[str, Callable[..., torch.Tensor | tuple[torch.Tensor, torch.Tensor]]] = {
        "adaln_modulate": adaln_modulate,
        "gated_residual": gated_residual,
        "gated_residual_adaln": gated_residual_adaln,
    }
    rows: list[Row] = []
    for total, channels in shapes:
        batch = ADALN_BATCH if total % ADALN_BATCH == 0 and total >= 1024 else 1
        frames = total // batch
        for op, ref in references.items():
            x, y, gate, shift, scale = (
                torch.randn(batch, frames, channels, device=machine.device, dtype=dtype, requires_grad=True)
                for _ in range(5)
            )
            args = {
                "adaln_modulate": (x, shift, scale),
                "gated_residual": (x, gate, y),
                "gated_residual_adaln": (x, gate, y, shift, scale),
            }[op]
            impls: dict[str, Callable[[], torch.Tensor | tuple[torch.Tensor, ...]]] = {}
            skipped: dict[str, str] = {}
            if machine.gpu:
                compiled = torch.compile(ref, dynamic=False)
                impls["motionkit-triton"] = lambda f=public[op], a=args: f(*a, backend="triton")
                impls["eager-reference"] = lambda f=ref, a=args: f(*a)
                impls["compiled-reference"] = lambda f=compiled, a=args: f(*a)
            else:
                impls["eager-reference"] = lambda f=ref, a=args: f(*a)
                impls["dispatch-auto"] = lambda f=public[op], a=args: f(*a)
                gib = 16 * total * channels * 4 / 2**30  # inputs, fp32 temporaries, outputs and gradients
                if gib > CPU_MEMORY_BUDGET_GIB:
                    skipped = {
                        impl: f"skipped: needs ~{gib:.1f} GiB > {CPU_MEMORY_BUDGET_GIB} GiB CPU budget"
                        for impl in impls
                    }
            fwd_passes, total_passes = ADALN_PASSES[op]
            elements = total * channels
            base = Row.problem(
                "adaln", op, machine, dtype, batch=batch, heads=0, frames=frames, window=0, width=channels
            )
            bytes_by_pass = {"fwd": fwd_passes * elements * itemsize, "fwd+bwd": total_passes * elements * itemsize}
            rows += _measure(machine, base, impls, args, bytes_by_pass, skipped)
    return rows


OURS = {"attention": "motionkit-triton", "adaln": "motionkit-triton"}
TARGETS = {"sdpa-dense-mask": ">= 5x", "flex-compiled": ">= 1.5x"}
CPU_BASELINE = {"attention": "reference-dense", "adaln": "eager-reference"}


def _add_ratios(rows: list[Row], machine: Machine) -> None:
    """``speedup_of_ours`` = baseline time / our time for the same configuration (on CPU: the dense / eager
    reference takes the place of ours, so the column reads as 'reference time / this implementation's time')."""
    anchor = OURS if machine.gpu else CPU_BASELINE
    key_fields = ("suite", "op", "passes", "batch", "heads", "frames", "window", "width")
    ours = {tuple(getattr(r, f) for f in key_fields): r.us for r in rows if r.impl == anchor[r.suite]}
    for r in rows:
        mine = ours.get(tuple(getattr(r, f) for f in key_fields), math.nan)
        r.speedup_of_ours = r.us / mine if machine.gpu else mine / r.us


def _format_row(r: Row) -> str:
    shape = (
        f"B={r.batch} H={r.heads} T={r.frames:>5} w={r.window}"
        if r.suite == "attention"
        else f"rows={r.batch * r.frames:>5} C={r.width:>4}"
    )
    if math.isnan(r.us):
        return f"{r.op:>22} {shape} {r.passes:>7} {r.impl:>20}: {r.note}"
    peak = "" if math.isnan(r.pct_peak) else f" {r.pct_peak:5.1f}% of peak"
    return (
        f"{r.op:>22} {shape} {r.passes:>7} {r.impl:>20}: {r.us:10.1f} us "
        f"[{r.us_p20:.1f}, {r.us_p80:.1f}] {r.gbps:8.1f} GB/s{peak}"
    )


def _print_summary(rows: list[Row], machine: Machine) -> None:
    anchor = OURS if machine.gpu else CPU_BASELINE
    print()
    if machine.gpu:
        print("Speed-up of motionkit-triton over each alternative (its time / motionkit-triton's time):")
    else:
        print("CPU mode: reference-dense (attention) or eager-reference (AdaLN) time / each path's time:")
    groups: dict[tuple[object, ...], list[Row]] = {}
    for r in rows:
        groups.setdefault((r.suite, r.op, r.batch, r.frames, r.window, r.width, r.passes), []).append(r)
    for (suite, op, batch, frames, window, width, passes), members in groups.items():
        parts = [
            f"{m.impl} {m.speedup_of_ours:.2f}x"
            for m in members
            if m.impl != anchor[m.suite] and not math.isnan(m.speedup_of_ours)
        ]
        label = f"B={batch} T={frames} w={window}" if suite == "attention" else f"rows={batch * frames} C={width}"
        print(f"  {op:>22} {label:>24} {passes:>7}: " + (", ".join(parts) or "-"))
    if not machine.gpu:
        return
    print("\nTargets (H100, bf16, forward+backward):")
    for r in rows:
        if (r.suite, r.frames, r.window, r.passes) == ("attention", 4096, 2, "fwd+bwd") and r.impl in TARGETS:
            print(
                f"  banded attention T=4096 w=2 B={r.batch}: {r.speedup_of_ours:.2f}x {r.impl} (goal {TARGETS[r.impl]})"
            )
    for r in rows:
        if r.suite == "adaln" and r.passes == "fwd+bwd" and r.impl == OURS["adaln"]:
            eager = next(
                (
                    e.speedup_of_ours
                    for e in rows
                    if e.impl == "eager-reference"
                    and (e.op, e.batch, e.frames, e.width, e.passes) == (r.op, r.batch, r.frames, r.width, r.passes)
                ),
                math.nan,
            )
            print(
                f"  {r.op} rows={r.batch * r.frames} C={r.width}: {r.pct_peak:.1f}% of peak (goal >= 80%), "
                f"{eager:.2f}x eager (goal >= 2.5x)"
            )


def _csv_rows(rows: list[Row]) -> list[dict[str, object]]:
    return [{k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in asdict(r).items()} for r in rows]


def _plot(rows: list[Row], machine: Machine, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    for ax, window in zip(axes[:2], ATTENTION_WINDOWS):
        measured = [r for r in rows if r.suite == "attention" and r.window == window and not math.isnan(r.us)]
        # The batch with the most measured lengths (the larger one on ties), so the curve spans the widest range.
        batch = max((r.batch for r in measured), key=lambda b: (sum(r.batch == b for r in measured), b), default=1)
        for impl in dict.fromkeys(r.impl for r in rows if r.suite == "attention"):
            points = sorted(
                (r.frames, r.us)
                for r in rows
                if r.suite == "attention"
                and r.impl == impl
                and r.window == window
                and r.batch == batch
                and r.passes == "fwd+bwd"
                and not math.isnan(r.us)
            )
            if points:
                ax.plot(*zip(*points), marker="o", label=impl)
        ax.set(xscale="log", yscale="log", xlabel="T (frames)", ylabel="forward+backward (us)")
        ax.set_title(f"banded attention, w={window}, B={batch}, H={ATTENTION_HEADS}, Dh={ATTENTION_HEAD_DIM}")
        ax.legend(fontsize=8)
    ax = axes[2]
    width = max((r.width for r in rows if r.suite == "adaln"), default=0)
    for impl in dict.fromkeys(r.impl for r in rows if r.suite == "adaln"):
        points = sorted(
            (r.batch * r.frames, r.gbps)
            for r in rows
            if r.suite == "adaln"
            and r.impl == impl
            and r.op == "gated_residual_adaln"
            and r.width == width
            and r.passes == "fwd+bwd"
            and not math.isnan(r.us)
        )
        if points:
            ax.plot(*zip(*points), marker="o", label=impl)
    if not math.isnan(machine.peak_gbps):
        ax.axhline(machine.peak_gbps, color="grey", linestyle="--", label="HBM peak")
    ax.set(xscale="log", xlabel=f"rows (B*T), C={width}", ylabel="effective GB/s (fused-kernel bytes)")
    ax.set_title("gated_residual_adaln, forward+backward")
    ax.legend(fontsize=8)
    mode = "" if machine.gpu else " (CPU mode: PyTorch references only)"
    fig.suptitle(f"motionkit kernels on {machine.name}{mode}", fontsize=10)
    fig.tight_layout()
    save_plot(fig, path)


def _shape(text: str) -> tuple[int, int]:
    rows, _, channels = text.lower().partition("x")
    try:
        return int(rows), int(channels)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ROWSxC such as 65536x1024, got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="default: bf16 on GPU, fp32 on CPU")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="folder for CSV and PNG")
    parser.add_argument("--quick", action="store_true", help="a small subset of the sweep (smoke test)")
    parser.add_argument("--frames", type=int, nargs="+", help=f"attention lengths T (default {ATTENTION_T})")
    parser.add_argument("--windows", type=int, nargs="+", help=f"attention windows (default {ATTENTION_WINDOWS})")
    parser.add_argument("--batches", type=int, nargs="+", help=f"attention batches (default {ATTENTION_BATCHES})")
    parser.add_argument(
        "--rows", type=_shape, nargs="+", help="AdaLN shapes as ROWSxC, e.g. 65536x1024 (default: the full sweep)"
    )
    parser.add_argument("--peak-gbps", type=float, default=None, help="HBM peak of this GPU (default: by name)")
    parser.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="GPU: time CUDA-graph replays (device time, no host launch overhead) instead of eager calls",
    )
    parser.add_argument("--skip-attention", action="store_true")
    parser.add_argument("--skip-adaln", action="store_true")
    args = parser.parse_args(argv)

    machine = _machine(args.peak_gbps, args.cuda_graphs)
    dtype = DTYPES[args.dtype] if args.dtype else (torch.bfloat16 if machine.gpu else torch.float32)
    torch.manual_seed(0)
    versions = f"torch {torch.__version__}"
    if TRITON_AVAILABLE:
        import triton

        versions += f", triton {triton.__version__}"
    print(f"motionkit kernel benchmark on {machine.name} ({versions}), dtype {dtype}, timing: {_timing_name(machine)}")
    if machine.gpu:
        if not TRITON_AVAILABLE:
            print("Triton is not installed: the Triton kernels cannot run.", file=sys.stderr)
            return 2
        peak = "unknown (pass --peak-gbps)" if math.isnan(machine.peak_gbps) else f"{machine.peak_gbps:.0f} GB/s"
        print(f"HBM peak: {peak}")
    else:
        print(
            "CPU mode: no CUDA device, so only the PyTorch references (the CPU path) are timed; the Triton kernels "
            "and the GPU baselines (flex_attention, torch.compile) need a GPU."
        )
    print()

    rows: list[Row] = []
    batches = args.batches or (ATTENTION_BATCHES[:1] if args.quick else ATTENTION_BATCHES)
    windows = args.windows or ATTENTION_WINDOWS
    lengths = args.frames or (ATTENTION_T[:3] if args.quick else ATTENTION_T)
    shapes = args.rows or (ADALN_SHAPES[:2] if args.quick else ADALN_SHAPES)
    if not args.skip_attention:
        rows += _attention_rows(machine, dtype, batches, windows, lengths)
    if not args.skip_adaln:
        rows += _adaln_rows(machine, dtype, shapes)
    _add_ratios(rows, machine)
    _print_summary(rows, machine)

    args.out.mkdir(parents=True, exist_ok=True)
    stem = ("kernels_gpu_graphs" if machine.graphs else "kernels_gpu") if machine.gpu else "kernels_cpu"
    csv_path, png_path = args.out / f"{stem}.csv", args.out / f"{stem}.png"
    write_csv(csv_path, _csv_rows(rows))
    _plot(rows, machine, png_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
