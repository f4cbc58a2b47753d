"""Face-stack speed: frames per second of tracking (landmarks from the previous frame's region, pose, smoothing),
of detection + landmarks on every frame (one at a time, and ``FaceStack.faces_batch`` on ``--batch`` frames at once),
and of each network alone, at several frame sizes; wall-clock rates and process-CPU milliseconds per frame.

Run from the project root::

    PYTHONPATH=. python benchmarks/face_tracking.py               # CPU, torch's default threads
    PYTHONPATH=. python benchmarks/face_tracking.py --threads 1   # one thread (best on a busy machine)
    PYTHONPATH=. python benchmarks/face_tracking.py --device cuda    # a GPU; adds batched landmark throughput

Frames: the astronaut photo (scikit-image, public domain) resized to each size and shifted by 2 px per frame
(there and back), so the tracker follows a moving face. Each figure is the median over ``--repeats`` runs of
``--frames`` frames after a warm-up; the machine's load is printed with them (on a shared machine, lower bounds).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import skimage.data
import torch
from PIL import Image

from motionkit.face.stack import FaceStack
from motionkit.face.tracking import FaceTracker

SIZES = (256, 512, 1024)
"""Square frame sizes measured, pixels."""


def _frames(size: int, count: int) -> list[np.ndarray]:
    base = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((size, size), Image.Resampling.LANCZOS))
    return [np.roll(base, 2 * min(i, count - i), axis=1) for i in range(count)]  # there and back: no jump on repeat


def _rate(step: Callable[[int], object], frames: int, repeats: int, sync: Callable[[], None]) -> tuple[float, float]:
    """Median frames per second of wall time and median process-CPU milliseconds per frame (on a loaded machine
    the CPU time is the figure that does not depend on the other jobs: the frame rate of this process alone on
    one free core per thread is about ``1000 / cpu_ms`` for one thread)."""
    step(0)
    rates, cpu = [], []
    for _ in range(repeats):
        sync()
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(frames):
            step(i)
        sync()
        rates.append(frames / (time.perf_counter() - start))
        cpu.append((time.process_time() - start_cpu) / frames * 1e3)
    return statistics.median(rates), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="frames per faces_batch call")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    stack = FaceStack(device=device)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor()}")
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with torch.inference_mode():
        for name, size, net in (
            ("detector (short range)", 128, stack.detector.net),
            ("landmarks", 192, stack.landmarker.net),
        ):
            x = torch.rand(1, 3, size, size, device=device)
            rate, cpu = _rate(lambda _, net=net, x=x: net(x), args.frames, args.repeats, sync)
            print(f"{name:24s} network alone        {rate:8.1f} /s   ({cpu:.1f} ms CPU each)")
        if device.type == "cuda":
            crops = torch.rand(64, 3, 192, 192, device=device)
            rate = 64 * _rate(lambda _: stack.landmarker.net(crops), 10, args.repeats, sync)[0]
            print(f"{'landmarks':24s} batch of 64 crops    {rate:8.1f} faces/s")
        for size in SIZES:
            frames = _frames(size, args.frames)
            tracker = FaceTracker(stack, fps=30)
            track, track_cpu = _rate(lambda i, t=tracker, f=frames: t.update(f[i]), args.frames, args.repeats, sync)
            both, both_cpu = _rate(lambda i, f=frames: stack.faces(f[i]), args.frames, args.repeats, sync)
            batches = [np.stack(frames[i : i + args.batch]) for i in range(0, args.frames, args.batch)]
            batch_rate, batch_cpu = _rate(
                lambda i, b=batches: stack.faces_batch(b[i]), len(batches), args.repeats, sync
            )
            print(
                f"{size:4d} px frames: tracking {track:7.1f} frames/s ({track_cpu:.1f} ms CPU/frame), "
                f"detect + landmarks {both:7.1f} frames/s ({both_cpu:.1f} ms CPU/frame), batches of {args.batch} "
                f"{batch_rate * args.batch:7.1f} frames/s ({batch_cpu / args.batch:.1f} ms CPU/frame) "
                f"(detections while tracking: {tracker.detections})"
            )
            if hasattr(os, "getloadavg"):
                print(f"      load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
