"""What every benchmark script shares: timing (median wall and process-CPU seconds), CSV rows, plots, the machine.

Scripts run from the project root as ``PYTHONPATH=.:kernels python benchmarks/<script>.py``; Python puts the
script's folder first on the path, so they import this module as ``harness``.
"""

from __future__ import annotations

import csv
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# isort: off
import motionkit  # noqa: F401  (before torch: sets OpenMP's passive wait policy, see motionkit.runtime)

# isort: on
import torch

from motionkit.io.files import atomic_path

PLOT_DPI = 110


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued CUDA work, so that a timer read afterwards includes it (a no-op on the CPU)."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize()


@dataclass(frozen=True)
class Timing:
    """Median wall-clock seconds and median process-CPU seconds (``None`` on a GPU, where CPU time means little;
    on a busy shared CPU the CPU time is the steadier figure)."""

    wall: float
    cpu: float | None = None


def measure(fn: Callable[[], object], device: torch.device | str | None = None) -> tuple[float, float]:
    """``(wall seconds, process-CPU seconds)`` of one call of ``fn``, queued CUDA work included."""
    synchronize(device)
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    synchronize(device)
    return time.perf_counter() - start, time.process_time() - start_cpu


def median_timing(
    fn: Callable[[], object], repeats: int, device: torch.device | str | None = None, warmup: int = 1
) -> Timing:
    """Median :class:`Timing` of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    walls, cpus = zip(*(measure(fn, device) for _ in range(repeats)))
    on_gpu = device is not None and torch.device(device).type == "cuda"
    return Timing(statistics.median(walls), None if on_gpu else statistics.median(cpus))


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]], *, append: bool = False) -> Path:
    """Write ``rows`` (columns: every key, in order of first appearance) to ``path``, atomically; with ``append``,
    add them to an existing file of the same columns (the header is written once)."""
    if not rows:
        raise ValueError(f"no rows to write to {path}.")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    path.parent.mkdir(parents=True, exist_ok=True)
    if append and path.exists():
        with path.open("a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=columns).writerows(rows)
    else:
        with atomic_path(path, overwrite=True) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    print(f"wrote {path}")
    return path


def save_plot(figure: Any, path: Path) -> Path:
    """Save a matplotlib figure as PNG, atomically, and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, overwrite=True) as tmp:
        figure.savefig(tmp, dpi=PLOT_DPI, format="png")
    plt.close(figure)
    print(f"wrote {path}")
    return path


def machine() -> str:
    """One line naming the machine: CPU cores and architecture, GPU, torch version and threads."""
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{os.cpu_count()}-core CPU ({platform.machine()}), {device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
