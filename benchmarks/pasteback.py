"""Cost of paste-back against rendering: 512 px frames of the float-512 renderer put back into a photo.

The issue's target: paste-back adds at most 10 % to render time at 512 px on CPU. Rendering uses the float-512
architecture with random weights (speed does not depend on the values); the photo is the bundled Grace Hopper
photo (600 x 512) and the same photo upscaled to 1920 x 1080 (a full-HD frame, where the face region is larger).
Times are the best of ``--repeats`` runs of ``--frames`` frames (wall clock), rendered in one chunk.

Run from the project root::

    PYTHONPATH=. python benchmarks/pasteback.py --frames 4 --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from motionkit.assets import demo_photo_path
from motionkit.config import RendererConfig
from motionkit.io.image import load_image, resize_image
from motionkit.pipeline.pasteback import PasteBack
from motionkit.renderer import Renderer
from motionkit.types import MotionTrack

LATENT_SCALE = 0.1
"""Spread of the benchmark motion latents around the portrait's own motion."""


def best(seconds: list[float]) -> float:
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    renderer = Renderer(RendererConfig()).eval()
    photo = load_image(demo_photo_path())
    # full HD: the photo scaled to 1080 rows (aspect kept), the sides filled by repeating the edge columns
    tall = resize_image(photo, round(photo.shape[1] * 1080 / photo.shape[0]), 1080)
    side = (1920 - tall.shape[1]) // 2
    wide = np.pad(tall, ((0, 0), (side, 1920 - tall.shape[1] - side), (0, 0)), mode="edge")
    photos = {"600x512": photo, "1920x1080": wide}
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    for name, image in photos.items():
        pasting, box = PasteBack.for_photo(image)
        source = renderer.encode_portrait(image, box=box)
        latents = source.motion[:, None] + LATENT_SCALE * torch.randn(1, args.frames, renderer.latent_dim)
        track = MotionTrack(latents, fps=25.0)
        render_times, paste_times = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            chunk = next(iter(renderer.render(source, track, chunk_size=args.frames)))[0]
            render_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            pasting(chunk)
            paste_times.append(time.perf_counter() - started)
        render_ms = 1000 * best(render_times) / args.frames
        paste_ms = 1000 * best(paste_times) / args.frames
        print(
            f"{name}: render {render_ms:.0f} ms/frame at 512 px, paste-back {paste_ms:.1f} ms/frame "
            f"({100 * paste_ms / render_ms:.1f} % of render time; mask covers {pasting.mask.astype(bool).mean():.0%})"
        )


if __name__ == "__main__":
    main()
