"""How many concurrent real-time motion streams one device holds: sessions' windows sampled together in one batch.

A real-time stream needs one window of motion (FLOAT: ``L = 50`` frames, 2 s at 25 fps) every 2 s. ``B`` sessions
whose windows are due together are sampled as one batch (``FlowSampler.sample`` on ``(B, L, ...)`` conditions:
each transformer call then works on ``3 B`` guidance rows). For ``B = 1, 2, 4, ...`` the script times one batched
window with FLOAT's defaults (Euler, nfe 10, guidance 2 / 1; median of ``--repeats`` after a warm-up, which on
CUDA also captures the graphs) and reports the seconds of motion made per second, ``B * L / fps / t``; ``B``
streams keep real time while that is at least ``B``, i.e. ``t <= L / fps``, with ``--headroom`` of the window left
for everything else (rendering, encoding, the network). The answer is the largest such ``B`` measured (the sweep
doubles ``B`` until a batch misses the deadline, reaches ``--max-batch`` or runs out of ``--budget`` seconds).
Motion sampling only: rendering each stream's frames is not counted.

Run from the project root::

    PYTHONPATH=.:kernels python benchmarks/streams.py --device cuda --dtype bfloat16 --cuda-graphs
    PYTHONPATH=.:kernels python benchmarks/streams.py --model tiny --max-batch 4    # a quick CPU check
"""

from __future__ import annotations

import argparse
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

# isort: off
from harness import machine, median_timing, write_csv  # first: it imports motionkit before torch

# isort: on
import torch
from sampler import build, conditions_for

from motionkit.families import preset
from motionkit.types import Conditions

FPS = 25.0


def batched(conditions: Conditions, batch: int) -> Conditions:
    """The same window's conditions for ``batch`` sessions (speed does not depend on the values)."""
    return Conditions(conditions.audio.expand(batch, -1, -1).contiguous(), conditions.emotion.expand(batch, -1, -1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--model", default="float-512", choices=["float-512", "tiny"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--cuda-graphs", action="store_true", help="sample with CUDA graphs (CUDA only)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=4096)
    parser.add_argument("--headroom", type=float, default=0.5, help="share of the window left for other work")
    parser.add_argument("--budget", type=float, default=120.0, help="stop starting new batch sizes after this")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = preset(args.model).flow
    sampler = build(config, device).use_cuda_graphs(args.cuda_graphs)
    window = conditions_for(config, config.window, device)
    deadline = config.window / FPS * (1 - args.headroom)
    autocast: AbstractContextManager[object] = (
        torch.autocast(device.type, dtype=torch.bfloat16) if args.dtype == "bfloat16" else nullcontext()
    )
    print(machine())
    print(
        f"{args.model}, {args.dtype}{', CUDA graphs' if args.cuda_graphs else ''}: one window = {config.window} "
        f"frames = {config.window / FPS:g} s of motion; a batch keeps real time with {args.headroom:.0%} headroom "
        f"if sampled within {deadline * 1e3:.0f} ms"
    )
    rows: list[dict[str, object]] = []
    started, batch, held = time.perf_counter(), 1, 0
    while batch <= args.max_batch and time.perf_counter() - started < args.budget:
        conditions = batched(window, batch)
        source = torch.zeros(batch, config.motion_dim, device=device)

        def sample(conditions: Conditions = conditions, source: torch.Tensor = source) -> None:
            with autocast:
                sampler.sample(conditions, source, seed=0)

        timing = median_timing(sample, args.repeats, device, warmup=2)
        realtime = batch * config.window / FPS / timing.wall
        keeps = timing.wall <= deadline
        held = batch if keeps else held
        rows.append(
            {"model": args.model, "device": device.type, "dtype": args.dtype, "graphs": args.cuda_graphs,
             "batch": batch, "window_s": timing.wall, "motion_s_per_s": realtime, "keeps_real_time": keeps}
        )  # fmt: skip
        print(
            f"  {batch:5d} sessions: {timing.wall * 1e3:9.1f} ms per window, {realtime:9.1f} s of motion per second "
            f"({'real time' if keeps else 'too slow'})",
            flush=True,
        )
        if not keeps:
            break
        batch *= 2
    print(f"concurrent real-time streams (motion sampling, {args.headroom:.0%} headroom): at least {held}")
    if args.csv:
        write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
