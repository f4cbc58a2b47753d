"""Paste-back, video-driven reenactment and dubbing on bundled and synthetic inputs, with before/after pictures.

Runs on a CPU in about a minute with nothing but motionkit installed (the shipped models, no downloads):

1. **paste-back**: a 256-px synthetic "photo" animated by the learned 64-px synthetic-demo model; the rendered crop
   is put back into the photo (``Pipeline.generate(..., paste_back=True)``).
2. **drive (learned)**: one synthetic face moved by another face's video (``Pipeline.drive``).
3. **drive (photo family)**: the astronaut photo moved by a video of Grace Hopper that the geometric renderer drew
   turning, nodding and talking; the motion is measured by the face stack, no learned model.
4. **dub**: a synthetic talking video re-voiced with new speech (``Pipeline.dub``): the head keeps its motion, the
   mouth follows the new speech.

Each mode writes its video and a picture (rows of frames, before above after) under ``--out``.

Usage: python examples/video_modes.py [--out out/video_modes]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

from motionkit.assets import bundled_model_path, demo_model_path, demo_photo_path
from motionkit.data.synthetic import FaceParams, SyntheticWorld, SyntheticWorldConfig, close_up
from motionkit.face import FaceStack
from motionkit.geometric import AXIS_NAMES, GeometricRenderer, PortraitGeometry
from motionkit.io import VideoReader, VideoWriter, load_image, resize_image, tensor_to_image
from motionkit.pipeline import Pipeline
from motionkit.types import MotionTrack

FPS = 25.0
SHOWN = (0, 12, 24, 36, 48)
"""Frames shown in each picture."""
ROW_HEIGHT = 160


def motion(frames: int, mouth: float = 0.3) -> FaceParams:
    """A turn, a nod and a talking mouth."""
    t = np.arange(frames) / FPS
    return FaceParams(
        yaw=12 * np.sin(2 * np.pi * 0.5 * t),
        pitch=10 * np.sin(2 * np.pi * 0.8 * t + 1),
        roll=np.zeros(frames),
        mouth_open=mouth * (1 - np.cos(2 * np.pi * 1.3 * t)),
        mouth_width=np.full(frames, 0.5),
        blink=np.zeros(frames),
        brows=np.zeros(frames),
    )


def row(frames: list[np.ndarray]) -> np.ndarray:
    """Frames side by side at :data:`ROW_HEIGHT`."""
    scaled = [resize_image(f, round(f.shape[1] * ROW_HEIGHT / f.shape[0]), ROW_HEIGHT) for f in frames]
    return np.concatenate(scaled, axis=1)


def picture(rows: list[np.ndarray], path: Path) -> None:
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(padded)).save(path)
    print(f"wrote {path}")


def write(path: Path, frames: np.ndarray, audio: np.ndarray | None = None) -> Path:
    with VideoWriter(path, fps=FPS, crf=12, audio=audio, overwrite=True) as writer:
        writer.write(frames)
    return path


def paste_back(demo: Pipeline, out: Path) -> None:
    world = SyntheticWorld(SyntheticWorldConfig(), size=256)
    photo = world.portrait(world.identity(21))
    speech = SyntheticWorld(close_up(), size=64).clip(seed=9, seconds=2.0).audio
    video = demo.generate(photo, speech, "neutral", paste_back=True)
    video.save(out / "paste_back.mp4", overwrite=True)
    crops = [tensor_to_image(chunk) for chunk in video.chunks()]
    rendered = np.concatenate(crops)
    pasted = list(video.frames())
    picture([row([photo] + [rendered[k] for k in SHOWN[1:]]), row([photo] + [pasted[k] for k in SHOWN[1:]])],
            out / "paste_back.png")  # fmt: skip


def drive_learned(demo: Pipeline, out: Path) -> None:
    world = SyntheticWorld(close_up(), size=64)
    driving = world.render(world.identity(11), motion(50, mouth=0.5))
    path = write(out / "drive_learned_driving.mp4", driving)
    portrait = world.portrait(world.identity(12))
    video = demo.drive(portrait, path, crop=False, driving_crop=False)
    video.save(out / "drive_learned.mp4", overwrite=True)
    driven = list(video.frames())
    picture([row([driving[k] for k in SHOWN]), row([driven[k] for k in SHOWN])], out / "drive_learned.png")


def drive_photo(out: Path) -> None:
    stack = FaceStack()
    hopper = load_image(demo_photo_path())
    renderer = GeometricRenderer()
    geometry = PortraitGeometry(stack.face(hopper).points, mask=stack.segment(hopper))
    drawing = renderer.encode_portrait(hopper, geometry=geometry)
    params = motion(50, mouth=0.1)
    values = np.zeros((50, len(AXIS_NAMES)), np.float32)
    for name in ("yaw", "pitch"):
        values[:, AXIS_NAMES.index(name)] = getattr(params, name)
    values[:, AXIS_NAMES.index("mouth")] = params.mouth_open
    track = MotionTrack(torch.from_numpy(values)[None], fps=FPS)
    driving = np.concatenate([tensor_to_image(chunk[0]) for chunk in renderer.render(drawing, track, 10)])
    path = write(out / "drive_photo_driving.mp4", driving)
    pipeline = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    astronaut = np.ascontiguousarray(data.astronaut())
    video = pipeline.drive(astronaut, path)
    video.save(out / "drive_photo.mp4", overwrite=True)
    driven = list(video.frames())
    picture([row([driving[k] for k in SHOWN]), row([driven[k] for k in SHOWN])], out / "drive_photo.png")


def dub(demo: Pipeline, out: Path) -> None:
    world = SyntheticWorld(SyntheticWorldConfig(), size=128)
    original = world.render(world.identity(5), motion(75))
    path = write(out / "dub_original.mp4", original)
    speech = SyntheticWorld(close_up(), size=64).clip(seed=9, seconds=4.0).audio
    dubbed = demo.dub(path, speech, "neutral")
    dubbed.save(out / "dub.mp4", overwrite=True)
    frames = list(dubbed.frames())
    before = list(VideoReader(path, fps=FPS).frames())
    picture([row([before[k] for k in SHOWN]), row([frames[k] for k in SHOWN])], out / "dub.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/video_modes"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    demo = Pipeline.from_pretrained(demo_model_path())
    paste_back(demo, args.out)
    drive_learned(demo, args.out)
    drive_photo(args.out)
    dub(demo, args.out)


if __name__ == "__main__":
    main()
