"""FlowSampler speed: transformer forward, window, clip, solver/nfe sweep, guidance, streaming latency, noise.

Run from the project root::

    PYTHONPATH=.:kernels python benchmarks/flow.py                  # float-512 and tiny on CPU
    PYTHONPATH=.:kernels python benchmarks/flow.py --device cuda    # adds bf16 autocast rows
    PYTHONPATH=.:kernels python benchmarks/flow.py --quick --csv out/flow.csv

Figures are wall-clock medians. A "window" is FLOAT's unit of work (L' + L = 60 frames in, L = 50 out); a "clip"
is 4 s of speech (100 frames = 2 windows). Real-time factor = clip duration / time to generate it (> 1 is faster
than real time). Weights are random (speed does not depend on their values).
"""

from __future__ import annotations

import argparse
import csv
import functools
import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from motionkit.config import FlowConfig, GuidanceConfig, preset
from motionkit.flow import FlowSampler, frame_noise
from motionkit.flow.solvers import SOLVERS
from motionkit.types import Conditions

CLIP_FRAMES = 100
FPS = 25.0


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass(frozen=True)
class Timing:
    """Median wall-clock seconds and median process CPU seconds (less sensitive to a busy shared machine)."""

    wall: float
    cpu: float | None = None


def median_seconds(fn: Callable[[], object], repeats: int, device: torch.device, warmup: int = 1) -> Timing:
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        synchronize(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Timing(statistics.median(times), statistics.median(cpu) if device.type == "cpu" else None)


def build(config: FlowConfig, device: torch.device) -> FlowSampler:
    sampler = FlowSampler(config)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in sampler.named_parameters():
            if name != "pos_embed":
                param.copy_(torch.randn(param.shape, generator=generator) / math.sqrt(param.shape[-1]))
    return sampler.to(device).eval()


def conditions_for(config: FlowConfig, frames: int, device: torch.device) -> Conditions:
    generator = torch.Generator().manual_seed(1)
    audio = torch.randn(1, frames, config.audio_dim, generator=generator)
    emotion = torch.softmax(torch.randn(1, 1, config.emotion_dim, generator=generator), -1).expand(1, frames, -1)
    return Conditions(audio, emotion.contiguous()).to(device)


def realtime_chunks(conditions: Conditions, chunk: int, pace: bool) -> Iterator[Conditions]:
    """Conditions in ``chunk``-frame pieces, released at the speech's pace when ``pace`` (as a live stream)."""
    start = time.perf_counter()
    for first in range(0, conditions.frames, chunk):
        if pace:
            due = start + first / conditions.fps
            time.sleep(max(0.0, due - time.perf_counter()))
        yield conditions.slice(first, first + chunk)


def bench_model(
    name: str, config: FlowConfig, device: torch.device, repeats: int, quick: bool, precision: str
) -> list[dict[str, object]]:
    sampler = build(config, device)
    source = torch.randn(1, config.motion_dim, device=device)
    autocast: Callable[[], AbstractContextManager[object]] = (
        (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if precision == "bf16" else nullcontext
    )
    clip_frames = max(CLIP_FRAMES, 2 * config.window)
    clip = conditions_for(config, clip_frames, device)
    one_window = clip.slice(0, config.window)
    rows: list[dict[str, object]] = []

    def record(what: str, timing: Timing, **extra: object) -> None:
        row: dict[str, object] = {"model": name, "device": device.type, "precision": precision, "what": what}
        row.update(wall_s=timing.wall, cpu_s=timing.cpu, **extra)
        rows.append(row)
        cpu = "" if timing.cpu is None else f"(cpu {timing.cpu * 1e3:9.1f} ms)"
        details = " ".join(f"{k}={v}" for k, v in extra.items())
        print(f"  {name:9s} {precision:4s} {what:44s} {timing.wall * 1e3:10.1f} ms {cpu:20s} {details}")

    def sample(conditions: Conditions, **kwargs: object) -> None:
        with autocast():
            sampler.sample(conditions, source, seed=0, **kwargs)  # type: ignore[arg-type]

    B3 = 3
    x = torch.randn(B3, config.window, config.motion_dim, device=device)
    inputs = {
        "wa": torch.randn(B3, config.window, config.audio_dim, device=device),
        "wr": torch.randn(B3, config.motion_dim, device=device),
        "we": torch.rand(B3, 1, config.emotion_dim, device=device),
        "prev_x": torch.randn(B3, config.context, config.motion_dim, device=device),
        "prev_wa": torch.randn(B3, config.context, config.audio_dim, device=device),
    }

    def forward() -> None:
        with torch.no_grad(), autocast():
            sampler(x, torch.tensor(0.5, device=device), **inputs)

    record(f"forward (3 branches x {config.sequence_length} frames)", median_seconds(forward, repeats, device))

    window = median_seconds(lambda: sample(one_window), repeats, device)
    record("window, FLOAT defaults", window, model_calls=_calls(sampler))
    clip_time = median_seconds(lambda: sample(clip), max(1, repeats // 2), device)
    realtime = clip_frames / FPS / clip_time.wall
    record(f"clip {clip_frames} frames, FLOAT defaults", clip_time, realtime_factor=f"{realtime:.2f}")
    plain = median_seconds(
        lambda: sample(one_window, guidance=GuidanceConfig(audio_scale=1.0, emotion_scale=1.0)), repeats, device
    )
    record("window, no guidance (1 branch)", plain, speedup_vs_guided=f"{window.wall / plain.wall:.2f}")

    sweep = [("euler", 2), ("euler", 5), ("euler", 10), ("euler", 20)]
    sweep += [(solver, 5 if quick else 10) for solver in SOLVERS if solver != "euler"]
    for solver, nfe in sweep:
        timing = median_seconds(functools.partial(sample, one_window, solver=solver, nfe=nfe), 1, device, warmup=0)
        record(f"window, {solver} nfe={nfe}", timing, model_calls=_calls(sampler))

    for pace in (False, True):
        started = time.perf_counter()
        first: float | None = None
        with autocast():
            for _ in sampler.stream(realtime_chunks(clip, 1, pace), source, seed=0):
                if first is None:
                    first = time.perf_counter() - started
        label = "live 25 fps input" if pace else "all input ready"
        assert first is not None
        record(f"stream latency to 1st window ({label})", Timing(first), total_s=f"{time.perf_counter() - started:.2f}")
    return rows


def _calls(sampler: FlowSampler) -> int:
    assert sampler.last_stats is not None
    return sampler.last_stats.model_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="+", default=["float-512", "tiny"], choices=["float-512", "tiny"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true", help="shorter solver sweep")
    parser.add_argument("--csv", type=Path, help="also write the rows to this CSV file")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    rows = []
    precisions = ["fp32", "bf16"] if device.type == "cuda" else ["fp32"]
    for name in args.models:
        for precision in precisions:
            rows += bench_model(name, preset(name).flow, device, args.repeats, args.quick, precision)
    frames = 1000
    noise = median_seconds(lambda: frame_noise(0, range(frames), 1, 512), 3, torch.device("cpu"))
    print(f"  seeded noise: {noise.wall / frames * 1e6:.1f} us per 512-d frame")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        fields = sorted({key for row in rows for key in row})
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
