"""Frames per second of the geometric portrait renderer at 512 and 1024 px.

Run from the project root (needs mediapipe 0.10.21 for the landmarks, see motionkit.eval.face.landmarks)::

    PYTHONPATH=. python benchmarks/geometric_renderer.py                  # CPU, torch's default threads
    PYTHONPATH=. python benchmarks/geometric_renderer.py --threads 1 --device cuda

Portraits: scikit-image's astronaut (512 x 512) and the same photo resized to 1024 x 1024 (bilinear), each with its
own FaceMesh landmarks. The motion is a talking head: a nod (pitch 8 deg at 0.7 Hz), a turn (yaw 15 deg at 0.3 Hz),
a roll (5 deg), the mouth opening 0 .. 0.4 at 4 Hz, a blink every second and the brows. Encoding (mesh, depth
refit, pixel map: once per portrait) is timed separately from drawing. Figures are the best of ``--repeats`` runs of
``--frames`` frames (wall clock; a shared machine slows some runs), plus process CPU time per frame.
"""

from __future__ import annotations

import argparse
import math
import platform
import time

import numpy as np
import torch
from skimage import data, transform

from motionkit.eval.face import LandmarkFaceAnalyzer
from motionkit.geometric import AXIS_NAMES, GeometricRenderer, PortraitGeometry

FPS = 25.0


def talking_motion(frames: int) -> np.ndarray:
    """``(frames, 7)`` parameters of the module docstring's talking head."""
    t = np.arange(frames) / FPS
    values = np.zeros((frames, len(AXIS_NAMES)))
    column = {name: i for i, name in enumerate(AXIS_NAMES)}
    values[:, column["pitch"]] = 8.0 * np.sin(2 * math.pi * 0.7 * t)
    values[:, column["yaw"]] = 15.0 * np.sin(2 * math.pi * 0.3 * t)
    values[:, column["roll"]] = 5.0 * np.sin(2 * math.pi * 0.2 * t)
    values[:, column["mouth"]] = 0.2 * (1 - np.cos(2 * math.pi * 4.0 * t))
    blink = np.clip(1.0 - np.abs((t % 1.0) - 0.5) / 0.08, 0.0, 1.0)
    values[:, column["blink_left"]] = blink
    values[:, column["blink_right"]] = blink
    values[:, column["brows"]] = 0.03 * np.sin(2 * math.pi * 0.5 * t)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, {device}")
    analyzer = LandmarkFaceAnalyzer()
    photo = data.astronaut()
    portraits = {
        512: photo,
        1024: (transform.resize(photo, (1024, 1024), order=1) * 255).round().astype(np.uint8),
    }
    motion = talking_motion(args.frames)
    renderer = GeometricRenderer().to(device)
    print(f"{'size':>6} {'encode ms':>10} {'frames/s':>9} {'ms/frame':>9} {'cpu ms/frame':>13}")
    for size, image in portraits.items():
        geometry = PortraitGeometry(analyzer.landmarks(image[None])[0])
        start = time.perf_counter()
        portrait = renderer.encode_portrait(image, geometry=geometry)
        encode = time.perf_counter() - start
        best_wall, best_cpu = math.inf, math.inf
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            for values in motion:
                frame = renderer.draw(portrait, values)
            if device.type == "cuda":
                torch.cuda.synchronize()
            best_wall = min(best_wall, time.perf_counter() - wall)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            del frame
        per_frame = best_wall / args.frames
        print(
            f"{size:>6} {encode * 1000:>10.0f} {1.0 / per_frame:>9.1f} {per_frame * 1000:>9.1f} "
            f"{best_cpu / args.frames * 1000:>13.1f}"
        )


if __name__ == "__main__":
    main()
