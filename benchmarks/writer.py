"""Where the video writer converts frames to yuv420p, and how the host copy overlaps: seconds per case.

Cases (``VideoWriter(conversion=...)``, motionkit/io/yuv.py and motionkit/io/transfer.py):

* ``swscale``: float frames mapped to uint8 RGB on their device, copied to the host in the caller's thread, then
  converted to yuv420p by libswscale inside the encoder thread (the CPU default);
* ``torch``: converted to yuv420p planes with torch on the frames' device, in the caller's thread; on CUDA the
  planes (half the bytes of RGB) are copied on a side stream into pinned buffers while the caller goes on (the
  CUDA default);
* ``torch, blocking copy`` (CUDA only): the same planes copied with a plain ``.cpu()`` in the caller's thread, to
  show what the pinned side-stream copies add.

Two inputs (on a CPU, ``writer`` also times the conversion alone, CPU milliseconds a frame): ``writer`` feeds ready
frames (a moving smooth pattern, already on the device) so the figure is the writer's own throughput; ``render``
decodes the frames with a float-512-layout renderer (random weights, the demo portrait, a random motion) as
``Video.save`` does, so the figure is end to end. Each case reports wall seconds, the process' CPU seconds (on a
shared machine the CPU time does not depend on the other jobs; wall time does), seconds the caller spent in
``write`` and frames per second (best of ``--repeats``). Run from the project root::

    PYTHONPATH=.:kernels OMP_NUM_THREADS=1 python benchmarks/writer.py --device cpu --inputs writer render
    PYTHONPATH=.:kernels python benchmarks/writer.py --device cuda --inputs writer --frames 400
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import torch
from harness import machine, write_csv

from motionkit.io import video as video_module
from motionkit.io.image import frames_to_uint8
from motionkit.io.transfer import PassThrough
from motionkit.io.yuv import rgb_to_yuv420

SIZE = 512
CHUNK = 8
"""Frames per write, the renderer's default chunk."""
MOTION_SCALE = 0.05
"""Standard deviation of the random motion added to the portrait's own latent (small: a plausible face)."""


def pattern_chunks(frames: int, device: torch.device) -> list[torch.Tensor]:
    """``(CHUNK, 3, SIZE, SIZE)`` float chunks in [-1, 1] on ``device``: smooth gradients that move frame by frame
    (what a talking head costs the encoder more or less), made before timing."""
    axis = torch.linspace(-1.0, 1.0, SIZE, device=device)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    t = torch.arange(frames, device=device, dtype=torch.float32).view(-1, 1, 1) / 25.0
    chunk = torch.stack([torch.sin(3 * x + t), torch.cos(2 * y - t), torch.sin(2 * (x + y) + 2 * t)], dim=1)
    return list(chunk.split(CHUNK))


def render_chunks(frames: int, device: torch.device) -> Callable[[], Iterator[torch.Tensor]]:
    """A float-512-layout renderer (random weights) decoding ``frames`` frames of the demo portrait."""
    from motionkit import Renderer
    from motionkit.assets import demo_portrait_path
    from motionkit.config import RendererConfig
    from motionkit.types import MotionTrack

    torch.manual_seed(0)
    renderer = Renderer(RendererConfig(size=SIZE)).to(device).eval()
    source = renderer.encode_portrait(demo_portrait_path(), crop=False)
    latents = source.motion[:, None] + MOTION_SCALE * torch.randn(1, frames, source.motion.shape[-1], device=device)
    track = MotionTrack(latents)
    return lambda: (chunk[0] for chunk in renderer.render(source, track, CHUNK))


def conversion_seconds(chunks: list[torch.Tensor]) -> dict[str, float]:
    """Process-CPU seconds of the conversion alone, uint8 RGB -> yuv420p: libswscale frame by frame as PyAV's
    encoder calls it (a frame object wrapping each array included), and :func:`rgb_to_yuv420` a chunk at a time
    (CPU tensors)."""
    rgb = [frames_to_uint8(chunk) for chunk in chunks]
    rgb_to_yuv420(rgb[0])  # first-call costs (allocator, dispatch) left out
    start = time.process_time()
    for chunk in rgb:
        for frame in chunk.permute(0, 2, 3, 1).numpy():
            av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
    swscale = time.process_time() - start
    start = time.process_time()
    for chunk in rgb:
        rgb_to_yuv420(chunk)
    return {"swscale": swscale, "torch": time.process_time() - start}


@contextlib.contextmanager
def blocking_copies() -> Iterator[None]:
    """The writer's host copies replaced by a plain ``.cpu()`` in the caller's thread."""
    original = video_module.host_copies
    video_module.host_copies = lambda device, slots: PassThrough()
    try:
        yield
    finally:
        video_module.host_copies = original


def run_case(
    chunks: Callable[[], Iterator[torch.Tensor]], conversion: str, path: Path, codec: str, preset: str
) -> tuple[float, float, float, int]:
    """Wall, process-CPU and in-``write`` seconds and the frame count of writing every chunk."""
    frames = 0
    in_write = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    with video_module.VideoWriter(
        path,
        overwrite=True,
        conversion=conversion,
        codec=codec,
        preset=preset,  # type: ignore[arg-type]
    ) as writer:
        for chunk in chunks():
            start = time.perf_counter()
            writer.write(chunk)
            in_write += time.perf_counter() - start
            frames += len(chunk)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu, in_write, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--inputs", nargs="+", default=["writer"], choices=("writer", "render"))
    parser.add_argument("--frames", type=int, default=200, help="frames written per case (writer input)")
    parser.add_argument("--render-frames", type=int, default=24, help="frames rendered per case (render input)")
    parser.add_argument("--codec", default="auto", choices=video_module.VIDEO_CODECS)
    parser.add_argument("--preset", default=video_module.DEFAULT_PRESET, choices=video_module.X264_PRESETS)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--csv", type=Path, help="write the rows to this CSV file")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(machine(), f"| codec {video_module.select_codec(args.codec)}, preset {args.preset}, {SIZE} px")
    cases: list[tuple[str, str, Callable[[], contextlib.AbstractContextManager[None]]]] = [
        ("swscale", "swscale", contextlib.nullcontext),
        ("torch", "torch", contextlib.nullcontext),
    ]
    if device.type == "cuda":
        cases.append(("torch, blocking copy", "torch", blocking_copies))
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as folder, torch.no_grad():
        for source in args.inputs:
            if source == "writer":
                ready = pattern_chunks(args.frames, device)
                chunks: Callable[[], Iterator[torch.Tensor]] = lambda ready=ready: iter(ready)  # noqa: E731
                if device.type == "cpu":
                    alone = conversion_seconds(ready)
                    for label, seconds in alone.items():
                        rows.append(
                            {
                                "input": "conversion alone",
                                "case": label,
                                "device": args.device,
                                "frames": args.frames,
                                "cpu_s": round(seconds, 3),
                            }
                        )
                    print(
                        ", ".join(f"{label} {1000 * s / args.frames:.2f} ms" for label, s in alone.items()),
                        "of CPU a frame for the conversion alone",
                    )
            else:
                chunks = render_chunks(args.render_frames, device)
            run_case(chunks, "torch", Path(folder) / "warm.mp4", args.codec, args.preset)  # first-call costs
            for label, conversion, context in cases:
                with context():
                    times = [
                        run_case(chunks, conversion, Path(folder) / "v.mp4", args.codec, args.preset)
                        for _ in range(args.repeats)
                    ]
                wall, cpu, in_write, frames = min(times)
                rows.append(
                    {
                        "input": source,
                        "case": label,
                        "device": args.device,
                        "frames": frames,
                        "wall_s": round(wall, 3),
                        "cpu_s": round(cpu, 3),
                        "in_write_s": round(in_write, 3),
                        "frames_per_s": round(frames / wall, 1),
                    }
                )
                print(
                    f"{source:7s} {label:22s} {frames:4d} frames: wall {wall:7.2f} s ({frames / wall:7.1f} frames/s), "
                    f"cpu {cpu:7.2f} s, in write() {in_write:6.2f} s"
                )
    if args.csv:
        write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
