"""Host time of one forward+backward call of motionkit's kernels, layer by layer, at tiny shapes.

At small problems a GPU finishes the kernels long before Python has issued them, so a call costs its host work:
the argument checks, the operator dispatch and autograd node, the launchers' Python and Triton's own launcher.
This script times each layer of that path for ``banded_attention`` and the three AdaLN ops, so the cost can be
split and cut. Every layer is the public function called as a user calls it (forward, then the backward of a fixed
output gradient, the leaves' ``.grad`` reset each time), with less and less of it replaced by stand-ins:

``checks``
    forward only, with the Triton op entry replaced by returning preallocated outputs: the argument checks and the
    backend choice alone.
``op round trip (launchers stubbed)``
    the launchers (``attention_forward``/``attention_backward``, ``modulate_forward``/``modulate_backward``) replaced
    by their fake implementations, i.e. ``new_empty`` of each output's shape, the cheapest real op giving the right
    outputs. Measures the dispatch, the operator (custom op, or the eager ``autograd.Function``) and its autograd node,
    and the backward; no kernel work. A measurement device, not a path users run.
``launchers (kernels stubbed)``
    only the ``@triton.jit`` kernels replaced by a launch that does nothing: adds the launchers' own Python (output
    allocation, tile choice, strides, arguments). What remains on a GPU is Triton's launcher and the kernels.
``triton``
    the real launches (CUDA only; on a CPU the kernels would run in Triton's interpreter, which says nothing about
    host overhead).
``reference``
    ``backend="torch"``: the PyTorch reference, the CPU path (and the eager alternative on a GPU).

A first row times a do-nothing ``torch.autograd.Function`` the same way: the floor under any op with a Python
backward on this host.

Host time is the process CPU time per call (steady on a shared machine) beside the wall time; on CUDA the calls
are queued without synchronising (one synchronisation per block of calls), so a host-bound call's wall time is its
host time. On a CPU this measures the Python and dispatcher work of the same code a GPU run executes; it cannot
measure Triton's launcher or the CUDA driver, and a GPU machine's CPU runs it at its own speed.

Usage::

    PYTHONPATH=.:kernels python benchmarks/kernel_host.py [--dtype fp32] [--out benchmarks/results]

On a CPU-only PyTorch it sets ``TRITON_INTERPRET=1`` (before the kernels are imported) so that the Triton ops load.
"""

from __future__ import annotations

import os

# Imported before harness (and so before motionkit) to choose Triton's interpreter before the kernels are decorated.
# OpenMP's wait policy, which harness sets through motionkit, does not matter here: tiny shapes, no parallel work.
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

import argparse
import math
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import save_plot, synchronize, write_csv
from motionkit_kernels import (
    TRITON_AVAILABLE,
    TRITON_INTERPRETED,
    adaln_modulate,
    banded_attention,
    gated_residual,
    gated_residual_adaln,
)
from motionkit_kernels import dispatch as kernel_dispatch

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}

ATTENTION_SHAPE = (1, 8, 16, 128)
"""(B, H, T, Dh): FLOAT's heads at 16 frames, so that the kernels' own work is negligible beside the host's. On a GPU
the kernels are then the same specialisations ``kernel_ops.py`` compiles (Triton specialises integers on
divisibility by 16), so a session that ran it first launches from Triton's cache."""
ATTENTION_WINDOW = 2
ADALN_SHAPE = (1, 16, 1024)
"""(B, T, C) with per-frame modulation: FLOAT's width at 16 frames."""

LAYERS = ("checks", "op round trip (launchers stubbed)", "launchers (kernels stubbed)", "triton", "reference")
"""Every layer, in the order they nest (``reference`` stands apart)."""

MEASURING_ORDER = ("triton", "launchers (kernels stubbed)", "op round trip (launchers stubbed)", "checks", "reference")
"""The layers by how much their figure tells (the real launch first), the order a time-limited run measures them."""

CALLS_PER_BLOCK = 200
BLOCKS = 15
WARMUP_CALLS = 50


@dataclass
class Row:
    """One measurement (a CSV row): microseconds of one call."""

    op: str
    layer: str
    device: str
    dtype: str
    shape: str
    cpu_us: float
    cpu_us_median: float
    wall_us: float
    wall_us_median: float
    note: str = ""


def _host_time(call: Callable[[], object], device: torch.device, blocks: int) -> tuple[float, float, float, float]:
    """``(cpu, cpu median, wall, wall median)`` microseconds per call over ``blocks`` blocks of calls: the fastest
    block (interference on a shared machine only adds time) and the median block."""
    for _ in range(WARMUP_CALLS):
        call()
    synchronize(device)
    cpu, wall = [], []
    for _ in range(blocks):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(CALLS_PER_BLOCK):
            call()
        synchronize(device)
        wall.append((time.perf_counter() - start) / CALLS_PER_BLOCK * 1e6)
        cpu.append((time.process_time() - start_cpu) / CALLS_PER_BLOCK * 1e6)
    return min(cpu), statistics.median(cpu), min(wall), statistics.median(wall)


@contextmanager
def _patched(module: Any, replacements: dict[str, Any]) -> Iterator[None]:
    """Module attributes replaced for the duration of the block (the ops modules look them up at call time)."""
    saved = {name: getattr(module, name) for name in replacements}
    for name, value in replacements.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


class _NoLaunch:
    """Stands in for a ``@triton.jit`` kernel: ``kernel[grid](*args, **kwargs)`` does nothing."""

    def __getitem__(self, grid: tuple[int, ...]) -> Callable[..., None]:
        return _no_op


def _no_op(*args: Any, **kwargs: Any) -> None:
    return None


@dataclass(frozen=True)
class Problem:
    """One op at its tiny shape: the public call, its differentiable leaves and fixed output gradients."""

    name: str
    shape: str
    forward: Callable[[str], torch.Tensor | tuple[torch.Tensor, ...]]
    leaves: tuple[torch.Tensor, ...]


def _problems(device: torch.device, dtype: torch.dtype) -> list[Problem]:
    def leaf(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, device=device, dtype=dtype, requires_grad=True)

    q, k, v = (leaf(*ATTENTION_SHAPE) for _ in range(3))
    x, y, gate, shift, scale = (leaf(*ADALN_SHAPE) for _ in range(5))
    attention_shape = "B={} H={} T={} Dh={} w={}".format(*ATTENTION_SHAPE, ATTENTION_WINDOW)
    adaln_shape = "B={} T={} C={}, per-frame".format(*ADALN_SHAPE)
    return [
        Problem(
            "banded_attention",
            attention_shape,
            lambda b: banded_attention(q, k, v, ATTENTION_WINDOW, backend=b),  # type: ignore[arg-type]
            (q, k, v),
        ),
        Problem("adaln_modulate", adaln_shape, lambda b: adaln_modulate(x, shift, scale, backend=b), (x, shift, scale)),  # type: ignore[arg-type]
        Problem("gated_residual", adaln_shape, lambda b: gated_residual(x, gate, y, backend=b), (x, gate, y)),  # type: ignore[arg-type]
        Problem(
            "gated_residual_adaln",
            adaln_shape,
            lambda b: gated_residual_adaln(x, gate, y, shift, scale, backend=b),  # type: ignore[arg-type]
            (x, gate, y, shift, scale),
        ),
    ]


def _forward_backward(problem: Problem, backend: str) -> Callable[[], None]:
    """One training-style call: forward, then the backward of fixed output gradients into fresh ``.grad``s."""
    with torch.no_grad():
        outputs = problem.forward(backend)
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    weights = tuple(torch.randn_like(o) for o in outs)
    leaves = problem.leaves

    def call() -> None:
        for t in leaves:
            t.grad = None
        result = problem.forward(backend)
        torch.autograd.backward(result if isinstance(result, tuple) else (result,), weights)

    return call


class _Empty(torch.autograd.Function):
    """A do-nothing differentiable op: what any Python ``autograd.Function`` costs on this host."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.empty_like(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


def _floor(device: torch.device, dtype: torch.dtype, blocks: int) -> Row:
    """The floor under every op here: forward+backward of :class:`_Empty`, the same loop as the ops."""
    leaf = torch.randn(ADALN_SHAPE, device=device, dtype=dtype, requires_grad=True)
    problem = Problem("autograd.Function floor", "no work", lambda _backend: _Empty.apply(leaf), (leaf,))
    cpu, cpu_median, wall, wall_median = _host_time(_forward_backward(problem, "torch"), device, blocks)
    note = "a do-nothing torch.autograd.Function: forward empty_like, backward returns its gradient"
    return Row(
        problem.name, "floor", str(device), str(dtype).removeprefix("torch."), problem.shape,
        cpu, cpu_median, wall, wall_median, note,
    )  # fmt: skip


def _forward_only(problem: Problem, backend: str) -> Callable[[], object]:
    return lambda: problem.forward(backend)


def _preallocated(outputs: object) -> Callable[..., object]:
    """An op entry that returns fixed outputs: what the ``checks`` layer puts behind the public function."""
    return lambda *args, **kwargs: outputs


def _absent_as_none(fake: Callable[..., tuple[torch.Tensor, ...]]) -> Callable[..., tuple[torch.Tensor | None, ...]]:
    """An AdaLN launcher stand-in from the op's fake implementation: the fakes give zero-element tensors where the
    launchers give ``None`` (an output the flags exclude); no benchmark shape has an empty dimension."""

    def launcher(*args: Any) -> tuple[torch.Tensor | None, ...]:
        return tuple(None if t.numel() == 0 else t for t in fake(*args))

    return launcher


@contextmanager
def _layer(layer: str) -> Iterator[None]:
    """Install the stand-ins of ``layer`` in the Triton ops modules (nothing for ``triton`` and ``reference``)."""
    attention, adaln = kernel_dispatch._ATTENTION_OPS, kernel_dispatch._ADALN_OPS
    if layer in ("triton", "reference"):
        yield
        return
    assert attention is not None
    assert adaln is not None
    if layer == "checks":
        q = torch.empty(ATTENTION_SHAPE)
        x = torch.empty(ADALN_SHAPE)
        with (
            _patched(attention, {"banded_attention_triton": _preallocated(q)}),
            _patched(adaln, {"modulate": _preallocated((x, x))}),
        ):
            yield
        return
    if layer == "op round trip (launchers stubbed)":
        stubs_attention = {
            "attention_forward": attention._banded_attention_fwd_fake,
            "attention_backward": attention._banded_attention_bwd_fake,
        }
        stubs_adaln = {
            "modulate_forward": _absent_as_none(adaln._modulate_fwd_fake),
            "modulate_backward": _absent_as_none(adaln._modulate_bwd_fake),
        }
        with _patched(attention, stubs_attention), _patched(adaln, stubs_adaln):
            yield
        return
    kernels = {
        m: {n: _NoLaunch() for n in dir(m) if n.startswith("_") and n.endswith("_kernel")} for m in (attention, adaln)
    }
    with _patched(attention, kernels[attention]), _patched(adaln, kernels[adaln]):
        yield


def _measure(problem: Problem, layer: str, device: torch.device, dtype: torch.dtype, blocks: int) -> Row:
    backend = "torch" if layer == "reference" else "triton"
    with _layer(layer):
        call = _forward_only(problem, backend) if layer == "checks" else _forward_backward(problem, backend)
        cpu, cpu_median, wall, wall_median = _host_time(call, device, blocks)
    note = "forward only (no autograd graph): checks and backend choice" if layer == "checks" else "forward+backward"
    return Row(
        problem.name, layer, str(device), str(dtype).removeprefix("torch."), problem.shape,
        cpu, cpu_median, wall, wall_median, note,
    )  # fmt: skip


def _machine_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            model = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model} CPU ({torch.backends.cpu.get_cpu_capability()}), {torch.get_num_threads()} threads, no GPU"


def _write(rows: Sequence[Row], path: Path) -> None:
    write_csv(path, [{k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in asdict(r).items()} for r in rows])


def _format_line(r: Row) -> str:
    return f"{r.op:>23} {r.layer:>34}: {r.cpu_us:8.1f} us CPU [median {r.cpu_us_median:.1f}], wall {r.wall_us:.1f}"


def _format_table(rows: Sequence[Row]) -> str:
    lines = [
        "| op | layer | host CPU us/call | (median block) | wall us/call | added by this layer |",
        "|---|---|---|---|---|---|",
    ]
    previous: dict[str, float] = {}
    for r in rows:
        added = ""
        if r.layer not in ("reference", "floor") and r.op in previous:
            added = f"{r.cpu_us - previous[r.op]:+.1f}"
        if r.layer != "reference":
            previous[r.op] = r.cpu_us
        lines.append(f"| {r.op} | {r.layer} | {r.cpu_us:.1f} | {r.cpu_us_median:.1f} | {r.wall_us:.1f} | {added} |")
    return "\n".join(lines)


def _plot(rows: Sequence[Row], machine: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = list(dict.fromkeys(r.op for r in rows if r.layer in LAYERS))
    layers = [layer for layer in LAYERS if any(r.layer == layer for r in rows)]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    width = 0.8 / len(layers)
    for i, layer in enumerate(layers):
        values = [next((r.cpu_us for r in rows if r.op == op and r.layer == layer), math.nan) for op in ops]
        ax.bar([j + (i - (len(layers) - 1) / 2) * width for j in range(len(ops))], values, width, label=layer)
    floor = next((r.cpu_us for r in rows if r.layer == "floor"), None)
    if floor is not None:
        ax.axhline(floor, color="grey", linestyle="--", label="do-nothing autograd.Function")
    ax.set_xticks(range(len(ops)), ops)
    ax.set_ylabel("host CPU time per call (us)")
    ax.set_title(f"host time of one call (forward+backward; checks: forward only) on {machine}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_plot(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="default: bf16 on GPU, fp32 on CPU")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="folder for CSV and PNG")
    parser.add_argument("--blocks", type=int, default=BLOCKS, help=f"blocks of {CALLS_PER_BLOCK} calls per figure")
    parser.add_argument("--ops", nargs="+", help="a subset of the ops (default: all four)")
    args = parser.parse_args(argv)
    if not TRITON_AVAILABLE:
        print("Triton is not installed: the Triton ops cannot be loaded, so there is nothing to measure.")
        return 2
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = DTYPES[args.dtype] if args.dtype else (torch.bfloat16 if device.type == "cuda" else torch.float32)
    machine = _machine_name(device)
    import triton

    print(
        f"motionkit kernel host time on {machine} (torch {torch.__version__}, triton {triton.__version__}, "
        f"Python {platform.python_version()}), dtype {dtype}, {args.blocks} blocks of {CALLS_PER_BLOCK} calls"
    )
    layers = [layer for layer in LAYERS if layer != "triton" or (device.type == "cuda" and not TRITON_INTERPRETED)]
    if "triton" not in layers:
        print("no CUDA device: the real Triton launches are not timed (the interpreter's time is not host overhead)")
    torch.manual_seed(0)
    problems = [p for p in _problems(device, dtype) if not args.ops or p.name in args.ops]
    ops = [p.name for p in problems]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "kernels_host_gpu" if device.type == "cuda" else "kernels_host_cpu"
    rows: list[Row] = []
    # The most telling layers first, every op at each; a run stopped by a session's time limit (SIGTERM from
    # `timeout`) still writes the CSV of what it measured.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        for layer in sorted(layers, key=MEASURING_ORDER.index):
            for problem in problems:
                rows.append(_measure(problem, layer, device, dtype, args.blocks))
                print(_format_line(rows[-1]), flush=True)
    finally:
        if rows:
            _write(rows, args.out / f"{stem}.csv")
    rows.append(_floor(device, dtype, args.blocks))
    print(_format_line(rows[-1]))
    rows.sort(key=lambda r: (-1, 0) if r.layer == "floor" else (ops.index(r.op), LAYERS.index(r.layer)))
    _write(rows, args.out / f"{stem}.csv")
    print()
    print(_format_table(rows))
    _plot(rows, machine, args.out / f"{stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
