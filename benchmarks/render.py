"""Decoding speed of the Renderer against a frame-by-frame loop in the official form.

Measures decoded frames per second of the motion auto-encoder's decoder (512 px by default) for batches of 1, 4
and 16 frames of one source: float32 on CPU; float32, bfloat16 and float16 (autocast) with channels-last on GPU.
The baseline is what FLOAT's inference loop does: one frame at a time, float32, NCHW, per-sample weights with a
grouped convolution and zero-insertion FIR resampling (:mod:`motionkit.renderer.reference`). Weights follow the
FLOAT parity recipe, so warps and masks are as non-trivial as in the parity fixture.

Run from the project root::

    PYTHONPATH=.:kernels python benchmarks/render.py                 # CPU (+ GPU when available)
    PYTHONPATH=.:kernels python benchmarks/render.py --device cuda --csv render.csv

``render() defaults`` decodes frames side by side on a CPU (one worker per torch thread,
:func:`motionkit.runtime.decode_workers`); ``render() workers=1`` is the same on the calling thread, each frame
on all of torch's threads.

Wall-clock times are the minimum over ``--repeats`` runs; baseline and motionkit runs are interleaved so that
both see the same machine load. Process CPU time per frame is reported too: on a shared machine it is less
sensitive to other jobs than wall time (on a GPU it only measures the launching host thread).

The CPU allocator matters for the 32 MB activations of the 512 px level: glibc gives them back to the OS and
takes fresh page faults at every frame unless ``MALLOC_MMAP_THRESHOLD_`` is raised (e.g. to 2000000000); the
script reports which case it measured. Both implementations run in the same process, so they share it.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from harness import measure, write_csv

from motionkit.config import RendererConfig
from motionkit.families.float.layout import RENDERER_PREFIX as FLOAT_PREFIX
from motionkit.families.float.layout import renderer_from_official
from motionkit.renderer import Renderer
from motionkit.renderer.reference import synthesis_reference
from motionkit.runtime import decode_workers
from motionkit.testing import synthetic_tensor
from motionkit.types import MotionTrack, SourceFace

LATENT_SCALE = 0.1
"""Spread of the benchmark motion latents around the source identity."""


@dataclass
class Row:
    device: str
    mode: str
    precision: str
    batch: int
    frames_per_second: float
    ms_per_frame: float
    speedup: float
    cpu_ms_per_frame: float
    cpu_speedup: float
    allocator: str


def synthetic_renderer(config: RendererConfig, device: torch.device) -> Renderer:
    shapes = Renderer(config).state_dict()
    weights = {FLOAT_PREFIX + k: synthetic_tensor(FLOAT_PREFIX + k, v.shape) for k, v in shapes.items()}
    return renderer_from_official(weights, config).to(device).eval()


def official_loop(renderer: Renderer, source: SourceFace, latents: torch.Tensor) -> torch.Tensor:
    """FLOAT's loop: ``dec(s_r + r_d[t], feats)`` frame by frame in the official form, then stacked."""
    features = [f.contiguous() for f in source.features]
    frames = [
        synthesis_reference(renderer.dec, source.identity + latents[t : t + 1], features)[0]
        for t in range(len(latents))
    ]
    return torch.cat(frames)


def allocator_name() -> str:
    threshold = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    return f"glibc, MALLOC_MMAP_THRESHOLD_={threshold}" if threshold else "glibc default"


def run(args: argparse.Namespace, device: torch.device) -> list[Row]:
    config = RendererConfig(size=args.size)
    renderer = synthetic_renderer(config, device)
    generator = torch.Generator().manual_seed(0)
    image = (torch.rand(1, 3, args.size, args.size, generator=generator) * 2 - 1).to(device)
    largest = max(*args.batches, args.render_frames)  # latents for the largest batch and for render()
    latents = (LATENT_SCALE * torch.randn(largest, config.latent_dim, generator=generator)).to(device)
    allocator = allocator_name() if device.type == "cpu" else "cuda caching"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"

    encode_time = min(measure(lambda: renderer.encode(image), device)[0] for _ in range(2))
    source = renderer.encode(image)
    print(f"\n== {name} ({allocator}); encode: {1000 * encode_time:.0f} ms per portrait")

    precisions = ["float32"] if device.type == "cpu" else ["float32", "bfloat16", "float16"]
    cases: list[tuple[str, str, int, Callable[[], object]]] = [
        (
            "official-form loop",
            "float32",
            args.baseline_frames,
            lambda: official_loop(renderer, source, latents[: args.baseline_frames]),
        )
    ]
    for precision in precisions:
        for batch in args.batches:
            cases.append(
                (
                    "decode (channels-last)",
                    precision,
                    batch,
                    lambda b=batch, p=precision: renderer.decode(source, latents[:b], precision=p),
                )
            )
    track = MotionTrack(latents[None, : args.render_frames])
    cases.append(("render() defaults", "float32", args.render_frames, lambda: list(renderer.render(source, track))))
    if decode_workers(device) > 1:  # the default decodes frames side by side: against one frame at a time
        cases.append(
            (
                "render() workers=1",
                "float32",
                args.render_frames,
                lambda: list(renderer.render(source, track, workers=1)),
            )
        )

    walls: list[list[float]] = [[] for _ in cases]
    cpus: list[list[float]] = [[] for _ in cases]
    with torch.no_grad():
        for _, _, _, fn in cases:  # warm-up: oneDNN / cuDNN primitive creation, autotuning
            fn()
        for _ in range(args.repeats):
            for i, (_, _, _, fn) in enumerate(cases):
                wall, cpu = measure(fn, device)
                walls[i].append(wall)
                cpus[i].append(cpu)

    baseline = min(walls[0]) / cases[0][2]
    baseline_cpu = min(cpus[0]) / cases[0][2]
    rows = []
    print(
        f"{'mode':24s} {'precision':9s} {'batch':>5s} {'frames/s':>9s} {'ms/frame':>9s} {'median':>9s} "
        f"{'speedup':>8s} {'cpu ms/frame':>13s} {'cpu speedup':>12s}"
    )
    for i, (mode, precision, batch, _) in enumerate(cases):
        per_frame = min(walls[i]) / batch
        cpu_per_frame = min(cpus[i]) / batch
        row = Row(
            device=name,
            mode=mode,
            precision=precision,
            batch=batch,
            frames_per_second=1 / per_frame,
            ms_per_frame=1000 * per_frame,
            speedup=baseline / per_frame,
            cpu_ms_per_frame=1000 * cpu_per_frame,
            cpu_speedup=baseline_cpu / cpu_per_frame,
            allocator=allocator,
        )
        rows.append(row)
        median = 1000 * statistics.median(walls[i]) / batch
        print(
            f"{mode:24s} {precision:9s} {batch:5d} {row.frames_per_second:9.2f} {row.ms_per_frame:9.1f} "
            f"{median:9.1f} {row.speedup:7.2f}x {row.cpu_ms_per_frame:13.1f} {row.cpu_speedup:11.2f}x"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: CPU, then CUDA if present"
    )
    parser.add_argument("--size", type=int, default=512, help="image side (64..1024)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16], help="frames per decoder pass")
    parser.add_argument("--baseline-frames", type=int, default=2, help="frames per timed baseline run")
    parser.add_argument("--render-frames", type=int, default=8, help="frames per timed render() run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (minimum is reported)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--csv", type=Path, default=None, help="append the rows to this CSV file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = []
    if args.device in ("auto", "cpu"):
        devices.append(torch.device("cpu"))
    if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    rows = [row for device in devices for row in run(args, device)]
    if args.csv:
        write_csv(args.csv, [asdict(row) for row in rows], append=True)


if __name__ == "__main__":
    main()
