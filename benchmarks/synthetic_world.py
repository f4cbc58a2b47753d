"""Speed of the synthetic world and accuracy of the synthetic face analyzer.

Prints, on this machine and one process:
- rendering speed (frames/s) at 64 and 128 px, and whole-clip generation speed (frames, audio, parameters);
- speech synthesis speed (seconds of audio per second);
- dataset writing speed (frames/s including compression);
- analyzer speed and accuracy against ground truth on held-out clips, clean and degraded (blur, noise, JPEG), with
  the generic calibration and with the face's own;
- the speech spectrum of the synthetic voices next to the bundled real recording (band energy shares).

Usage: ``PYTHONPATH=.:kernels python benchmarks/synthetic_world.py [--clips 6] [--csv out.csv] [--sheet out.png]``
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
from harness import measure, write_csv
from PIL import Image
from scipy import ndimage
from scipy.signal import welch

from motionkit.assets import demo_speech_path
from motionkit.data.synthetic import SyntheticWorld, generate_dataset
from motionkit.eval.face import SyntheticFaceAnalyzer
from motionkit.eval.metrics import pearson

BANDS = ((0, 300), (300, 1000), (1000, 3000), (3000, 5000), (5000, 8000))


def timed(fn: Callable[[], object], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` calls (seconds)."""
    return min(measure(fn)[0] for _ in range(repeats))


def degrade(frames: np.ndarray, seed: int = 0) -> np.ndarray:
    """Blur (sigma 0.8 px at 128 px), Gaussian noise (2% of full scale), JPEG quality 70."""
    rng = np.random.default_rng(seed)
    sigma = 0.8 * frames.shape[1] / 128
    out = []
    for frame in frames:
        x = ndimage.gaussian_filter(frame.astype(np.float32), (sigma, sigma, 0))
        x = np.clip(x + rng.normal(0, 0.02 * 255, x.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(x).save(buffer, "JPEG", quality=70)
        out.append(np.asarray(Image.open(buffer)))
    return np.stack(out)


def band_shares(audio: np.ndarray, rate: int) -> list[float]:
    freqs, power = welch(audio, rate, nperseg=512)
    total = power.sum()
    return [float(10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum() / total)) for lo, hi in BANDS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6, help="held-out clips for the analyzer accuracy")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each clip")
    parser.add_argument("--csv", type=Path, help="write the accuracy rows here")
    parser.add_argument("--sheet", type=Path, help="write a contact sheet of rendered frames here")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []

    print("== speed (one process) ==")
    for size in (64, 128):
        sized = SyntheticWorld(size=size)
        face, params = sized.identity(1), sized.random_params(seed=0, frames=256)
        render = timed(lambda w=sized, f=face, p=params: w.render(f, p))  # type: ignore[misc]
        clip_time = timed(lambda w=sized: w.clip(seed=5, seconds=10.0), repeats=2)  # type: ignore[misc]
        print(
            f"{size:>4} px  render {256 / render:7.0f} frames/s   whole clip (audio + motion + render) "
            f"{250 / clip_time:7.0f} frames/s"
        )
        rows.append({"kind": "speed", "size": size, "render_fps": 256 / render, "clip_fps": 250 / clip_time})
    world = SyntheticWorld(size=128)
    audio_time = timed(lambda: world.clip(seed=5, seconds=20.0, render=False))
    print(f"speech + motion only: {20.0 / audio_time:.0f} s of audio per second")
    with tempfile.TemporaryDirectory() as folder:
        write_time = timed(lambda: generate_dataset(folder, 4, 5.0, size=128, overwrite=True), repeats=1)
    print(f"dataset at 128 px (npz + wav): {4 * 125 / write_time:.0f} frames/s")

    print("\n== analyzer accuracy at 128 px (held-out seeds 9000+) ==")
    generic = SyntheticFaceAnalyzer()
    generic.calibration(128)
    header = f"{'seed':>5} {'style':>6} {'frames':>8} {'calib':>8} | {'mouth r':>7} {'yaw MAE':>7} {'pitch MAE':>9}"
    print(header)
    for index in range(args.clips):
        clip = world.clip(seed=9000 + index, seconds=args.seconds)
        own = SyntheticFaceAnalyzer(identity=clip.identity)
        assert clip.frames is not None
        for frames_name, frames in (("clean", clip.frames), ("degraded", degrade(clip.frames, seed=index))):
            for calib_name, analyzer in (("generic", generic), ("face", own)):
                start = time.perf_counter()
                measured = analyzer.measure(frames)
                speed = frames.shape[0] / (time.perf_counter() - start)
                row = {
                    "kind": "accuracy",
                    "seed": clip.seed,
                    "style": clip.identity.hair_style,
                    "frames": frames_name,
                    "calibration": calib_name,
                    "mouth_r": pearson(measured.mouth_open, clip.params.mouth_open),
                    "yaw_mae": float(np.nanmean(np.abs(measured.yaw - clip.params.yaw))),
                    "pitch_mae": float(np.nanmean(np.abs(measured.pitch - clip.params.pitch))),
                    "analyzer_fps": speed,
                }
                rows.append(row)
                print(
                    f"{clip.seed:>5} {clip.identity.hair_style:>6} {frames_name:>8} {calib_name:>8} | "
                    f"{row['mouth_r']:7.3f} {row['yaw_mae']:7.2f} {row['pitch_mae']:9.2f}"
                )
    accuracy = [r for r in rows if r["kind"] == "accuracy"]
    for frames_name in ("clean", "degraded"):
        for calib_name in ("generic", "face"):
            subset = [r for r in accuracy if r["frames"] == frames_name and r["calibration"] == calib_name]
            mouth = [float(r["mouth_r"]) for r in subset]  # type: ignore[arg-type]
            print(
                f"{frames_name:>8} {calib_name:>8}: mouth r min {min(mouth):.3f} mean {np.mean(mouth):.3f}, "
                f"yaw MAE {np.mean([r['yaw_mae'] for r in subset]):.2f} deg, "
                f"pitch MAE {np.mean([r['pitch_mae'] for r in subset]):.2f} deg"
            )
    print(f"analyzer speed: {np.mean([r['analyzer_fps'] for r in accuracy]):.0f} frames/s at 128 px")

    print("\n== speech spectrum: dB share of each band ==")
    real, rate = sf.read(demo_speech_path())
    print(f"{'':>16}" + "".join(f"{f'{lo}-{hi} Hz':>13}" for lo, hi in BANDS))
    print(f"{'arctic_a0007':>16}" + "".join(f"{v:13.1f}" for v in band_shares(real, rate)))
    synthetic = np.array([band_shares(world.clip(s, 8.0, render=False).audio, 16000) for s in range(8)])
    print(f"{'synthetic (8)':>16}" + "".join(f"{v:13.1f}" for v in synthetic.mean(axis=0)))

    if args.csv:
        write_csv(args.csv, rows)
    if args.sheet:
        shown = world.clip(seed=9000, seconds=4.0).frames
        assert shown is not None
        picks = shown[::4][:24]
        sheet = np.concatenate([np.concatenate(list(picks[i : i + 8]), axis=1) for i in range(0, len(picks), 8)])
        Image.fromarray(sheet).save(args.sheet)
        print(f"wrote {args.sheet}")


if __name__ == "__main__":
    main()
