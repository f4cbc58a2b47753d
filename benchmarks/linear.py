"""The flow transformer's linear layers on a CPU: oneDNN on a weight packed once against ``F.linear`` (MKL).

:class:`motionkit.flow.linear.Linear` takes the packed path for CPU float32 inference. This script times both
paths for every linear layer of one float-512 transformer forward (the three guidance branches x 60 frames = 180
rows), weighted by how often a forward calls each (8 blocks x 5, embeddings, time MLP, output head), at each thread
count asked for. Each thread count runs in a fresh process (the OpenMP pool is sized once), the two paths alternate
between repeats (a drifting load hits both alike) and each figure is the median of the repeats: wall and process
CPU seconds (CPU time counts every thread's work; on a busy shared machine it is the steadier figure, wall time
is what an idle machine's user sees).

Run from the project root; the AVX2 rows of docs/benchmarks.md come from the same command with
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`` (oneDNN and ATen then use AVX2 code on an AVX-512 CPU)::

    PYTHONPATH=.:kernels python benchmarks/linear.py --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

# isort: off
from harness import machine, write_csv  # first: it imports motionkit before torch (OpenMP's wait policy)

# isort: on
import torch

from motionkit.config import FlowConfig
from motionkit.families import preset
from motionkit.flow.linear import Linear

GUIDANCE_BRANCHES = 3
"""FLOAT's classifier-free guidance evaluates three branches in one batch."""
PATHS = ("packed", "F.linear")


def forward_layers(config: FlowConfig) -> list[tuple[str, int, int, int]]:
    """``(name, in, out, calls per forward)`` of the linear layers of one transformer forward (FLOAT spec §9.2) on
    its 180 rows; the time MLP's two layers work on one row (microseconds) and are left out."""
    h, d = config.hidden_dim, config.motion_dim
    inner = int(h * config.mlp_ratio)
    return [
        ("qkv", h, 3 * h, config.depth),
        ("attention out", h, h, config.depth),
        ("mlp fc1", h, inner, config.depth),
        ("mlp fc2", inner, h, config.depth),
        ("block adaLN", h, 6 * h, config.depth),
        ("condition embedding", d + config.audio_dim + config.emotion_dim, h, 1),
        ("motion embedding", d, h, 1),
        ("head adaLN", h, 2 * h, 1),
        ("head", h, d, 1),
    ]


def time_layers(config: FlowConfig, repeats: int) -> list[dict[str, object]]:
    """Median wall / CPU seconds per call of each layer on each path (in this process' thread setting)."""
    rows = GUIDANCE_BRANCHES * config.sequence_length
    results: list[dict[str, object]] = []
    generator = torch.Generator().manual_seed(0)
    for name, fan_in, fan_out, calls in forward_layers(config):
        layer = Linear(fan_in, fan_out).eval()
        x = torch.randn(GUIDANCE_BRANCHES, config.sequence_length, fan_in, generator=generator)
        walls: dict[str, list[float]] = {path: [] for path in PATHS}
        cpus: dict[str, list[float]] = {path: [] for path in PATHS}
        with torch.no_grad():
            for path in PATHS:  # warm-up: packs the weight, creates oneDNN's primitive
                layer.packed_enabled = path == "packed"
                layer(x)
            for _ in range(repeats):
                for path in PATHS:
                    layer.packed_enabled = path == "packed"
                    wall, cpu = time.perf_counter(), time.process_time()
                    layer(x)
                    walls[path].append(time.perf_counter() - wall)
                    cpus[path].append(time.process_time() - cpu)
        for path in PATHS:
            wall, cpu = statistics.median(walls[path]), statistics.median(cpus[path])
            results.append(
                {
                    "threads": torch.get_num_threads(),
                    "isa": torch.backends.cpu.get_cpu_capability(),
                    "layer": name,
                    "rows": rows,
                    "in": fan_in,
                    "out": fan_out,
                    "calls_per_forward": calls,
                    "path": path,
                    "wall_ms": wall * 1e3,
                    "cpu_ms": cpu * 1e3,
                    "gflops_wall": 2 * rows * fan_in * fan_out / wall / 1e9,
                }
            )
    return results


def report(results: list[dict[str, object]]) -> None:
    for threads in sorted({int(str(r["threads"])) for r in results}):
        mine = [r for r in results if r["threads"] == threads]
        print(f"\n== {threads} thread(s), ATen ISA {mine[0]['isa']}, {mine[0]['rows']} rows")
        header = "wall ms (GFLOP/s), CPU ms"
        print(f"{'layer':<20} {'in x out':>11}   packed: {header:<28} F.linear: {header}")
        totals = {path: [0.0, 0.0] for path in PATHS}
        for packed, plain in zip(mine[::2], mine[1::2]):
            calls = float(str(packed["calls_per_forward"]))
            cells = []
            for row in (packed, plain):
                wall, cpu = float(str(row["wall_ms"])), float(str(row["cpu_ms"]))
                totals[str(row["path"])][0] += calls * wall
                totals[str(row["path"])][1] += calls * cpu
                cells.append(f"{wall:8.2f} ({float(str(row['gflops_wall'])):5.0f}), {cpu:8.2f}")
            print(f"{packed['layer']!s:<20} {packed['in']!s:>5} x {packed['out']!s:<5}   {cells[0]:<36} {cells[1]}")
        (pw, pc), (fw, fc) = totals["packed"], totals["F.linear"]
        print(
            f"one forward's linears: packed {pw:.1f} ms wall / {pc:.1f} ms CPU, F.linear {fw:.1f} / {fc:.1f}: "
            f"packed is {fw / pw:.2f}x faster in wall time, {fc / pc:.2f}x in CPU time"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--model", default="float-512")
    parser.add_argument("--csv", type=Path, help="write the rows to this CSV file")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = preset(args.model).flow
    if args.worker:
        torch.set_num_threads(args.worker)
        print(json.dumps(time_layers(config, args.repeats)))
        return
    print(machine())
    results: list[dict[str, object]] = []
    for threads in args.threads:
        command = [sys.executable, __file__, "--worker", str(threads), "--repeats", str(args.repeats)]
        done = subprocess.run(
            [*command, "--model", args.model], capture_output=True, text=True, check=True, env=dict(os.environ)
        )
        results.extend(json.loads(done.stdout.strip().splitlines()[-1]))
    report(results)
    if args.csv:
        write_csv(args.csv, results)


if __name__ == "__main__":
    main()
