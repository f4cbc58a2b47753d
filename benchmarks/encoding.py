"""Saving a video: what rendering and encoding on overlapping threads gains, and each H.264 encoder's speed and
fidelity.

Run from the project root::

    PYTHONPATH=. python benchmarks/encoding.py                          # the shipped models, CPU
    PYTHONPATH=. python benchmarks/encoding.py --device cuda --models synthetic-demo

For each model (``--models``: shipped names or model folders) the bundled speech and portrait are generated once
(motion sampled, not timed), then:

* **overlap**: the frames are rendered chunk by chunk and written with :class:`motionkit.io.VideoWriter`, once
  with the encoder in the rendering thread (``queue_chunks=0``, what ``Video.save`` did before) and once with the
  encoder thread (the default): wall and process-CPU seconds, best of ``--repeats`` (interference only adds time);
* **encoders**: the raw frames (uint8, as saved) are encoded by every encoder available here (libx264 at the default
  preset and at ``veryfast``, NVENC where :func:`motionkit.io.video.nvenc_available`), decoded, and compared with the
  raw frames: encoding frames/s, file size and PSNR over all frames (``10 log10(255^2 / MSE)``, MSE over every
  pixel and channel of the clip);
* **segments**: the raw frames encoded by libx264 at the default preset in ``--segments`` worker processes, one
  contiguous run each, joined without re-encoding (``VideoWriter(segments=N)``; 1 is the single encoder thread):
  wall seconds and CPU seconds of this process and its encoder processes together (process start-up included),
  best of ``--repeats``, with the PSNR of the decoded frames.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from pathlib import Path

# isort: off
from harness import machine, write_csv  # first: it imports motionkit before torch (OpenMP's wait policy)

# isort: on
import numpy as np
import torch

from motionkit import Pipeline
from motionkit.assets import BUNDLED_MODELS, bundled_model_path, demo_photo_path, demo_portrait_path, demo_speech_path
from motionkit.families.photo.presets import FAMILY_NAME as PHOTO_FAMILY
from motionkit.io import VideoWriter, read_video
from motionkit.io.video import DEFAULT_CRF, DEFAULT_PRESET, NVENC_CODEC, VIDEO_CODEC, nvenc_available
from motionkit.model_folder import read_config
from motionkit.pipeline import Video

X264_PRESETS_MEASURED = ("medium", "veryfast")
"""libx264 presets compared: the default and the fast one docs/pipeline.md suggests for GPUs."""


def _psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    error = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return math.inf if error == 0 else 10 * math.log10(255.0**2 / error)


def _save(video: Video, path: Path, queue_chunks: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    with VideoWriter(
        path, fps=video.fps, audio=video.audio, sample_rate=video.sample_rate, overwrite=True, queue_chunks=queue_chunks
    ) as writer:
        for chunk in video.chunks():
            writer.write(chunk)
    return time.perf_counter() - wall, time.process_time() - cpu


def _encode_segments(raw: np.ndarray, fps: float, path: Path, segments: int) -> tuple[float, float]:
    """Wall and CPU seconds of encoding ``raw`` with libx264 in ``segments`` processes, one run each."""
    wall, cpu = time.perf_counter(), time.process_time()
    with VideoWriter(
        path, fps=fps, codec="libx264", overwrite=True, segments=segments, segment_frames=-(-len(raw) // segments)
    ) as writer:
        writer.write(raw)
    return time.perf_counter() - wall, time.process_time() - cpu + writer.encoder_cpu_seconds


def _encoders() -> list[tuple[str, str, str]]:
    """(label, codec, x264 preset) of every encoder measured here."""
    found = [(f"libx264 {preset}", VIDEO_CODEC, preset) for preset in X264_PRESETS_MEASURED]
    if nvenc_available():
        found.append((NVENC_CODEC, NVENC_CODEC, "medium"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--models", nargs="+", default=list(BUNDLED_MODELS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--segments", type=int, nargs="+", default=[1, 2, 4], help="libx264 processes to compare")
    parser.add_argument("--out", type=Path, help="CSV file for the figures")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(machine())
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for name in args.models:
            model = bundled_model_path(name) if name in BUNDLED_MODELS else Path(name)
            pipeline = Pipeline.from_pretrained(model, device=args.device, dtype=args.dtype)
            portrait = demo_photo_path() if read_config(model).family == PHOTO_FAMILY else demo_portrait_path()
            video = pipeline.generate(portrait, demo_speech_path(), "neutral", seed=0)
            size = video.frame_shape
            print(f"{name}: {len(video)} frames of {size[1]}x{size[0]} px, chunks of {video.chunk_size}")
            for queue_chunks, label in ((0, "encode in the render thread"), (2, "encoder thread")):
                times = [_save(video, out / "overlap.mp4", queue_chunks) for _ in range(args.repeats)]
                wall, cpu = min(times)
                rows.append({"model": name, "case": label, "frames": len(video), "wall_s": wall, "cpu_s": cpu})
                print(f"  {label:28s} wall {wall:6.2f} s ({len(video) / wall:6.1f} frames/s), cpu {cpu:6.2f} s")
            raw = np.stack(list(video.frames()))
            for label, codec, preset in _encoders():
                path = out / f"{codec}-{preset}.mp4"
                start = time.perf_counter()
                with VideoWriter(
                    path,
                    fps=video.fps,
                    crf=DEFAULT_CRF,
                    preset=preset,  # type: ignore[arg-type]
                    codec=codec,  # type: ignore[arg-type]
                    overwrite=True,  # the same files for every model
                ) as writer:
                    writer.write(raw)
                seconds = time.perf_counter() - start
                decoded = read_video(path)[0]
                psnr = _psnr(raw, decoded)
                rows.append(
                    {
                        "model": name,
                        "case": f"encoder {label}",
                        "frames": len(raw),
                        "wall_s": seconds,
                        "psnr_db": psnr,
                        "bytes": path.stat().st_size,
                    }
                )
                print(
                    f"  {label:28s} {len(raw) / seconds:7.1f} frames/s, crf {DEFAULT_CRF}, "
                    f"{path.stat().st_size / 1024:7.1f} KiB, PSNR {psnr:5.2f} dB"
                )
            for segments in args.segments:
                path = out / f"segments-{segments}.mp4"
                wall, cpu = min(_encode_segments(raw, video.fps, path, segments) for _ in range(args.repeats))
                psnr = _psnr(raw, read_video(path)[0])
                rows.append(
                    {
                        "model": name,
                        "case": f"libx264 {DEFAULT_PRESET} in {segments} segments",
                        "frames": len(raw),
                        "wall_s": wall,
                        "cpu_s": cpu,
                        "psnr_db": psnr,
                        "bytes": path.stat().st_size,
                    }
                )
                print(
                    f"  {segments} segment(s) {DEFAULT_PRESET:15s} wall {wall:6.2f} s ({len(raw) / wall:6.1f} "
                    f"frames/s), cpu {cpu:6.2f} s, PSNR {psnr:5.2f} dB"
                )
            del pipeline
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    if args.out:
        write_csv(args.out, rows)


if __name__ == "__main__":
    main()
