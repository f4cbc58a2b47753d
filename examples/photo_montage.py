"""A montage of `motionkit demo` frames on real photos: what the shipped photo family draws.

For each photo (the bundled portrait of Grace Hopper, scikit-image's NASA astronaut when scikit-image is installed,
and any photos given with ``--photo``), runs what ``motionkit demo --photo PHOTO`` runs: the bundled ARCTIC speech
through the shipped ``photo-motion`` model, the demo's scripted nod and turn (``demo_program``), drawn at the photo's
own size by the geometric renderer. It keeps a few frames of each video, crops them around the face (the same box
in every frame of a row, so the motion shows) and writes one PNG with a row per photo and the time of each frame.

Runs on a CPU in about half a minute per photo; nothing is downloaded.

Usage: python examples/photo_montage.py [--out docs/images/photo-demo-montage.png] [--photo me.jpg ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from motionkit.assets import bundled_model_path, demo_photo_path, demo_speech_path
from motionkit.cli.commands.demo import demo_program
from motionkit.io import load_image
from motionkit.pipeline import Pipeline

TIMES = (0.0, 0.6, 1.0, 1.4, 2.2, 2.7, 3.4)
"""Seconds of the 4 s clip shown: the photo as taken, the nod (0.4-1.8 s), the turn (2-3 s), the end."""
TILE = 200
"""Height of one frame in the montage (pixels)."""
FACE_MARGIN = 0.6
"""The crop around the face: the landmarks' box grown by this share of its size on every side."""
LABEL_HEIGHT = 16


def named_photos(extra: list[Path]) -> list[tuple[str, np.ndarray]]:
    """The bundled photo, the astronaut if scikit-image is installed, and ``extra``."""
    photos = [("Grace Hopper (bundled)", load_image(demo_photo_path()))]
    try:
        from skimage import data
    except ImportError:
        pass
    else:
        photos.append(("NASA astronaut (scikit-image)", np.ascontiguousarray(data.astronaut())))
    photos += [(path.name, load_image(path)) for path in extra]
    return photos


def face_crop(box: tuple[float, float, float, float], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A square crop ``(x0, y0, x1, y1)`` around a face box, grown by :data:`FACE_MARGIN`, inside the frame."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * FACE_MARGIN)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    height, width = shape
    side = min(side, width, height)
    left = int(np.clip(cx - side / 2, 0, width - side))
    top = int(np.clip(cy - side / 2, 0, height - side))
    return left, top, left + int(side), top + int(side)


def row(pipeline: Pipeline, name: str, photo: np.ndarray, seed: int) -> Image.Image:
    """One photo's frames at :data:`TIMES`, cropped around the face, with their times."""
    portrait = pipeline.encode_portrait(photo)
    video = pipeline.generate(portrait, demo_speech_path(), "neutral", seed=seed)
    video = video.with_track(pipeline.apply_edits(video.track, demo_program(video.duration)))
    wanted = {round(t * video.fps): t for t in TIMES if round(t * video.fps) < len(video)}
    frames = {index: frame for index, frame in enumerate(video.frames()) if index in wanted}
    crop = face_crop(portrait.face.box, video.frame_shape)  # type: ignore[attr-defined]
    tiles = [Image.fromarray(frames[i]).crop(crop).resize((TILE, TILE), Image.Resampling.LANCZOS) for i in wanted]
    out = Image.new("RGB", (TILE * len(tiles), TILE + 2 * LABEL_HEIGHT), "white")
    draw = ImageDraw.Draw(out)
    draw.text((4, 2), name, fill="black")
    for k, (tile, t) in enumerate(zip(tiles, wanted.values(), strict=True)):
        out.paste(tile, (k * TILE, 2 * LABEL_HEIGHT))
        draw.text((k * TILE + 4, LABEL_HEIGHT + 2), f"{t:.1f} s", fill="black")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/photo-demo-montage.png"))
    parser.add_argument("--photo", type=Path, action="append", default=[], help="another photo (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pipeline = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    rows = [row(pipeline, name, photo, args.seed) for name, photo in named_photos(args.photo)]
    montage = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    top = 0
    for image in rows:
        montage.paste(image, (0, top))
        top += image.height
    args.out.parent.mkdir(parents=True, exist_ok=True)
    montage.save(args.out)
    print(f"wrote {args.out} ({montage.width}x{montage.height}, {len(rows)} photos)")


if __name__ == "__main__":
    main()
