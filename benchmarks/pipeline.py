"""End-to-end generation: seconds and peak memory of motionkit's Pipeline against FLOAT's inference loop.

For speech clips of several lengths, a portrait and the float-512 model (random weights: speed and memory do not
depend on the values), every case runs in a fresh process and reports its wall time (model construction excluded),
frames per second and peak resident memory (``ru_maxrss``; on CUDA also the peak of allocated GPU memory):

* ``motionkit``: ``Pipeline.generate(...).save(path)`` — whole-clip conditioning, motion sampled window by window,
  frames rendered in chunks and encoded as they come (never all in memory);
* ``official loop``: what FLOAT's ``generate.py`` does — the same conditioning and whole-clip sampling, then every
  frame decoded one at a time with the decoder in the official form (:mod:`motionkit.renderer.reference`: NCHW,
  per-sample grouped convolutions, zero-insertion resampling), all frames kept, stacked, clamped and converted to
  uint8 in one go, then written. (The official code also builds the video with an ffmpeg mux; both write with
  motionkit's encoder here, so encoding is not part of the difference.)

Both use FLOAT's sampling settings (Euler, nfe 10, guidance 2 / 1: 9 batched 3-branch transformer passes per 2 s
window) and an explicit neutral emotion (no emotion classifier). The official loop keeps every frame: 3 MB per
frame at 512 px, 47 GB for 10 minutes, so it is only run up to ``--baseline-max-seconds``; its memory for longer
clips is reported as the frames' size alone (a lower bound).

``--reduced-from S`` renders clips of S seconds and longer with a reduced renderer (64 px, 2.5 M parameters; the
wav2vec2-base audio encoder and the float-512 flow transformer are unchanged): at 512 px the 15,000 frames of a 600 s
clip take more than an hour on a 2-core CPU. The
table says which rows used it. To compare memory across lengths, the same renderer must be used for both: the
script also runs the shortest reduced-length comparison point (``--reduced-reference``, 60 s) with the reduced
renderer.

Run from the project root::

    PYTHONPATH=.:kernels python benchmarks/pipeline.py                              # CPU: 10 s, 60 s, 600 s
    PYTHONPATH=.:kernels python benchmarks/pipeline.py --device cuda --dtype bfloat16 --seconds 10 60 600
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAME_RATE = 25
SAMPLE_RATE = 16000
REDUCED_SIZE = 64
"""Side of the reduced renderer (pixels)."""
REDUCED_CHANNELS = {"channel_base": 2048, "max_channels": 64}
"""Widths of the reduced renderer: 64 channels up to 32 px, 32 at 64 px (2.5 M parameters; float-512's: 45 M)."""


@dataclass
class Result:
    mode: str
    seconds_of_audio: float
    renderer_px: int
    device: str
    dtype: str
    frames: int
    wall_seconds: float
    frames_per_second: float
    peak_rss_mib: float
    rss_before_mib: float
    gpu_peak_mib: float
    conditioning_seconds: float
    sampling_seconds: float
    rendering_seconds: float
    note: str = ""


# --------------------------------------------------------------------------------------------------- worker


def build_components(size: int, device: str):  # type: ignore[no-untyped-def]
    """float-512 renderer (or a ``size`` px one), flow transformer and wav2vec2-base conditioner, random weights."""
    import torch
    from transformers import Wav2Vec2Model

    from motionkit import Conditioner, FlowSampler, Renderer
    from motionkit.conditioner.wav2vec2 import freeze, wav2vec2_config
    from motionkit.config import RendererConfig
    from motionkit.families import preset
    from motionkit.testing.parity import ParityFixture, fixture_dir

    torch.manual_seed(0)
    config = preset("float-512")
    renderer = Renderer(RendererConfig(size=size, **(REDUCED_CHANNELS if size == REDUCED_SIZE else {})))
    sampler = FlowSampler(config.flow)
    # FLOAT's wav2vec2-base layout, from the parity folder (../shared/float-parity or $MOTIONKIT_PARITY_DIR)
    wav2vec2 = freeze(Wav2Vec2Model(wav2vec2_config(ParityFixture(fixture_dir()).audio_config())))
    conditioner = Conditioner(config.conditioner, wav2vec2=wav2vec2)
    for module in (renderer, sampler, conditioner):
        module.to(device).eval()
    return renderer, conditioner, sampler


def x264_preset() -> str:
    """The encoder preset both modes use (``--x264-preset``, passed to the workers in the environment)."""
    from motionkit.io.video import DEFAULT_PRESET

    return os.environ.get("MOTIONKIT_BENCH_X264_PRESET", DEFAULT_PRESET)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(mode: str, wav: Path, portrait: Path, size: int, device: str, dtype: str, out: Path) -> Result:
    import torch

    renderer, conditioner, sampler = build_components(size, device)
    before = rss_mib()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    marks: dict[str, float] = {}
    started = time.perf_counter()
    if mode == "motionkit":
        from motionkit.pipeline import Pipeline

        if os.environ.get("MOTIONKIT_BENCH_CUDA_GRAPHS") == "1":
            sampler.use_cuda_graphs()
        pipeline = Pipeline(renderer, conditioner, sampler, dtype=getattr(torch, dtype))

        def progress(stage: str, done: int, total: int) -> None:
            if done == total:
                marks[stage] = time.perf_counter()

        video = pipeline.generate(portrait, wav, "neutral", seed=0, crop=False, progress=progress)
        video.save(out, preset=x264_preset(), progress=progress)
        frames = len(video)
        conditioned, sampled = marks["conditioning"], marks["sampling motion"]
    else:
        frames, conditioned, sampled = official_loop(renderer, conditioner, sampler, wav, portrait, out, device)
    if device == "cuda":
        torch.cuda.synchronize()
    finished = time.perf_counter()
    wall = finished - started
    gpu_peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0.0
    return Result(
        mode=mode,
        seconds_of_audio=0.0,
        renderer_px=size,
        device=device,
        dtype=dtype,
        frames=frames,
        wall_seconds=wall,
        frames_per_second=frames / wall,
        peak_rss_mib=rss_mib(),
        rss_before_mib=before,
        gpu_peak_mib=gpu_peak,
        conditioning_seconds=conditioned - started,
        sampling_seconds=sampled - conditioned,
        rendering_seconds=finished - sampled,
    )


def official_loop(renderer, conditioner, sampler, wav, portrait, out, device):  # type: ignore[no-untyped-def]
    """FLOAT's generate.py: whole-clip sampling, frames decoded one by one in the official form, all kept."""
    import torch

    from motionkit.face import crop_portrait
    from motionkit.io import VideoWriter, image_to_tensor, load_audio
    from motionkit.renderer.reference import synthesis_reference

    with torch.no_grad():
        image = image_to_tensor(crop_portrait(portrait, renderer.config.size, crop=False)).to(device)
        source = renderer.encode(image, channels_last=False)
        waveform = load_audio(wav)
        conditions = conditioner(waveform, emotion="neutral")
        conditioned = time.perf_counter()
        track = sampler.sample(conditions, source.motion, seed=0)
        sampled = time.perf_counter()
        features = [f.contiguous() for f in source.features]
        decoded = [
            synthesis_reference(renderer.dec, source.identity + track.latents[:, t], features)[0]
            for t in range(track.frames)
        ]
        video = torch.stack(decoded, dim=1).squeeze(0)  # (T, 3, S, S), as FLOAT stacks d_hat
        pixels = ((video.permute(0, 2, 3, 1).clamp(-1, 1) + 1) / 2 * 255).to(torch.uint8).cpu().numpy()
    with VideoWriter(out, fps=FRAME_RATE, audio=waveform, preset=x264_preset()) as writer:
        writer.write(pixels)
    return track.frames, conditioned, sampled


# --------------------------------------------------------------------------------------------------- driver


def write_speech(path: Path, seconds: float) -> None:
    import soundfile as sf

    from motionkit.testing.signals import speech_like

    sf.write(path, speech_like(seconds), SAMPLE_RATE, subtype="PCM_16")


def run_case(args: argparse.Namespace, mode: str, seconds: float, size: int, folder: Path) -> Result:
    wav = folder / f"speech_{seconds:g}s.wav"
    if not wav.exists():
        write_speech(wav, seconds)
    out = folder / f"{mode}_{seconds:g}s_{size}px.mp4"
    out.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--worker", mode, str(wav), str(args.portrait), str(size), args.device]
    paths = [str(ROOT), str(ROOT / "kernels"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    print(f"-- {mode}, {seconds:g} s of audio, {size} px renderer ...", flush=True)
    completed = subprocess.run([*command, args.dtype, str(out)], env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{mode} {seconds:g} s failed:\n{completed.stderr[-3000:]}")
    result = Result(**json.loads(completed.stdout.strip().splitlines()[-1]))
    result.seconds_of_audio = seconds
    out.unlink(missing_ok=True)
    print(
        f"   {result.wall_seconds:.1f} s, {result.frames_per_second:.2f} frames/s, peak RSS "
        f"{result.peak_rss_mib:.0f} MiB (before generation {result.rss_before_mib:.0f} MiB)",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", nargs=7, metavar="ARG", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0, 600.0], help="clip lengths")
    parser.add_argument("--baseline-max-seconds", type=float, default=10.0, help="longest clip for the official loop")
    parser.add_argument(
        "--reduced-from", type=float, default=120.0, help="clips this long or longer use the reduced renderer"
    )
    parser.add_argument(
        "--reduced-reference", type=float, default=60.0, help="also run this length with the reduced renderer"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--cuda-graphs", action="store_true", help="motionkit samples with CUDA graphs (CUDA only)")
    parser.add_argument("--x264-preset", help="x264 speed preset of both modes (default: the writer's, medium)")
    parser.add_argument("--portrait", type=Path, default=ROOT / "motionkit" / "assets" / "demo_portrait.png")
    parser.add_argument("--csv", type=Path, help="write the rows to this CSV file")
    args = parser.parse_args()

    if args.worker:
        mode, wav, portrait, size, device, dtype, out = args.worker
        threads = int(os.environ.get("MOTIONKIT_BENCH_THREADS", "0"))
        if threads:
            import torch

            torch.set_num_threads(threads)
        result = worker(mode, Path(wav), Path(portrait), int(size), device, dtype, Path(out))
        print(json.dumps(asdict(result)))
        return

    if args.threads:
        os.environ["MOTIONKIT_BENCH_THREADS"] = str(args.threads)
    if args.cuda_graphs:
        os.environ["MOTIONKIT_BENCH_CUDA_GRAPHS"] = "1"
    if args.x264_preset:
        os.environ["MOTIONKIT_BENCH_X264_PRESET"] = args.x264_preset
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="motionkit-bench-") as tmp:
        folder = Path(tmp)
        for seconds in args.seconds:
            size = REDUCED_SIZE if seconds >= args.reduced_from else 512
            if seconds <= args.baseline_max_seconds:
                results.append(run_case(args, "official loop", seconds, size, folder))
            results.append(run_case(args, "motionkit", seconds, size, folder))
        if any(s >= args.reduced_from for s in args.seconds) and args.reduced_reference < args.reduced_from:
            results.append(run_case(args, "motionkit", args.reduced_reference, REDUCED_SIZE, folder))
    report(results, args)


def report(results: list[Result], args: argparse.Namespace) -> None:
    graphs = (", motionkit with CUDA graphs" if args.cuda_graphs else "") + f", x264 preset {x264_preset()}"
    print(
        f"\n== end to end, {args.device}, {args.dtype}{graphs}; random float-512 weights, neutral emotion, nfe 10 Euler"
    )
    header = f"{'mode':<14} {'audio':>7} {'px':>4} {'frames':>6} {'wall s':>8} {'frames/s':>8} {'peak RSS':>10}"
    print(header + "   (condition / sample / render s)")
    for r in results:
        print(
            f"{r.mode:<14} {r.seconds_of_audio:>6g}s {r.renderer_px:>4} {r.frames:>6} {r.wall_seconds:>8.1f} "
            f"{r.frames_per_second:>8.2f} {r.peak_rss_mib:>7.0f} MiB   ({r.conditioning_seconds:.1f} / "
            f"{r.sampling_seconds:.1f} / {r.rendering_seconds:.1f})"
            + (f"  GPU peak {r.gpu_peak_mib:.0f} MiB" if r.gpu_peak_mib else "")
        )
    ours = {(r.seconds_of_audio, r.renderer_px): r for r in results if r.mode == "motionkit"}
    for r in results:
        if r.mode == "official loop" and (r.seconds_of_audio, r.renderer_px) in ours:
            mine = ours[(r.seconds_of_audio, r.renderer_px)]
            print(
                f"speed-up at {r.seconds_of_audio:g} s ({r.renderer_px} px): {r.wall_seconds / mine.wall_seconds:.2f}x "
                f"end to end; peak RSS {mine.peak_rss_mib:.0f} vs {r.peak_rss_mib:.0f} MiB"
            )
    frame_bytes = 3 * 512 * 512 * 4
    for seconds in args.seconds:
        if seconds > args.baseline_max_seconds:
            frames = round(seconds * FRAME_RATE)
            print(
                f"official loop at {seconds:g} s (not run): its {frames} float32 frames alone need "
                f"{frames * frame_bytes / 2**30:.1f} GiB at 512 px"
            )
    reduced = sorted((s, r) for (s, px), r in ours.items() if px == REDUCED_SIZE)
    if len(reduced) >= 2:
        (short, a), (long, b) = reduced[0], reduced[-1]
        print(
            f"peak memory, {REDUCED_SIZE} px renderer: {long:g} s / {short:g} s = {b.peak_rss_mib:.0f} / "
            f"{a.peak_rss_mib:.0f} MiB = {b.peak_rss_mib / a.peak_rss_mib:.2f}x (target <= 1.2x)"
        )
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(asdict(results[0])))
            writer.writeheader()
            writer.writerows(asdict(r) for r in results)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
