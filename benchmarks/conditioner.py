"""Conditioner speed, memory and approximation error.

Run from the project root::

    PYTHONPATH=.:kernels python benchmarks/conditioner.py                 # everything (~15 min on 2 cores)
    PYTHONPATH=.:kernels python benchmarks/conditioner.py --only speed    # speed | memory | stream | windows
    PYTHONPATH=.:kernels python benchmarks/conditioner.py --wav2vec2-dir checkpoints/wav2vec2-base-960h

Sections:

* ``speed`` — seconds of audio encoded per second (real-time factor, > 1 is faster than real time) by the FLOAT
  audio encoder (wav2vec2-base, 94 M parameters, + projection) and by the mel encoder, for several clip lengths.
* ``memory`` — peak resident memory for a 10-minute clip, each mode in a fresh process: the whole clip in one
  transformer pass (FLOAT-exact; conv encoder in exact 10 s chunks), the same without conv chunking (measured on
  shorter clips and extrapolated: a 10-minute run would need more memory than a shared machine should give), and
  windowed blocks; plus the relative error of windowed features against the whole-clip ones.
* ``stream`` — relative error of streamed features against whole-clip features as a function of the left
  context and the lookahead (``docs/conditioner.md`` reproduces the table).
* ``windows`` — the same for windowed (non-streaming) encoding against its context.

Weights: random (``Wav2Vec2Config()`` = wav2vec2-base, seeded) unless ``--wav2vec2-dir`` is given; speed and memory do
not depend on the values, the approximation errors do (with real weights, rerun with ``--wav2vec2-dir``). Audio: the
CMU ARCTIC clip of the parity fixture, tiled with varying gain, or a synthetic speech-like signal if it is absent.
Relative error = ||streamed - whole||_F / ||whole||_F over the projected features w_a (B, T, 512).
CSV rows go to ``--csv-dir`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from harness import machine, median_timing, write_csv

from motionkit.conditioner import Conditioner, WaveformStats, load_wav2vec2
from motionkit.conditioner.wav2vec2 import freeze, wav2vec2_config
from motionkit.config import ConditionerConfig
from motionkit.families import preset
from motionkit.io.audio import normalize_waveform

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RATE = 16000
SPF = 640
LONG_SECONDS = 600.0


def speech(seconds: float) -> np.ndarray:
    """Real speech tiled with gains 1, 0.5, 1.5, 0.8, 1.2, ... (or a synthetic stand-in), float32 at 16 kHz."""
    from motionkit.testing.parity import fixture_dir, load_fixture_wav

    path = fixture_dir() / "inputs" / "arctic_a0007.wav"
    if path.is_file():
        base = load_fixture_wav(path)
    else:
        t = np.arange(4 * RATE) / RATE
        base = (np.sin(2 * np.pi * 140 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2) * 0.2).astype(np.float32)
    gains = (1.0, 0.5, 1.5, 0.8, 1.2)
    total = round(seconds * RATE)
    pieces, size, index = [], 0, 0
    while size < total:
        pieces.append(base * gains[index % len(gains)])
        size += base.size
        index += 1
    return np.concatenate(pieces)[:total].astype(np.float32)


def wav2vec2_conditioner(args: argparse.Namespace, config: ConditionerConfig | None = None) -> Conditioner:
    config = ConditionerConfig() if config is None else config
    if args.wav2vec2_dir:
        backbone = load_wav2vec2(args.wav2vec2_dir)
    else:
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        torch.manual_seed(0)
        backbone = freeze(Wav2Vec2Model(wav2vec2_config(Wav2Vec2Config())))
    torch.manual_seed(1)
    return Conditioner(config, wav2vec2=backbone).eval()


# ---------------------------------------------------------------------------------------------------------------


def bench_speed(args: argparse.Namespace) -> list[dict[str, object]]:
    print(f"\n== speed: seconds of audio encoded per second ({torch.get_num_threads()} threads) ==")
    rows = []
    encoders: list[tuple[str, Conditioner]] = [
        ("wav2vec2-base (FLOAT, whole clip)", wav2vec2_conditioner(args)),
        (
            "wav2vec2-base (blocks 10 s + 4 s context)",
            wav2vec2_conditioner(args, ConditionerConfig(window_frames=250, window_context_frames=100)),
        ),
        ("mel (default config)", Conditioner(ConditionerConfig(encoder="mel")).eval()),
        ("mel (tiny preset)", Conditioner(preset("tiny").conditioner).eval()),
    ]
    lengths = (10.0, 60.0) if args.quick else (10.0, 30.0, 60.0)
    print(f"  {'encoder':44s} {'clip s':>7s} {'wall s':>8s} {'x realtime':>11s} {'cpu s':>8s}")
    for name, conditioner in encoders:
        for seconds in lengths:
            waveform = torch.from_numpy(normalize_waveform(speech(seconds)))[None]
            with torch.inference_mode():
                timing = median_timing(lambda c=conditioner, w=waveform: c.encode_audio(w), 1 if seconds > 20 else 2)
                wall, cpu = timing.wall, timing.cpu
            rows.append(
                {
                    "machine": machine(),
                    "encoder": name,
                    "clip_seconds": seconds,
                    "wall_seconds": round(wall, 3),
                    "realtime_factor": round(seconds / wall, 2),
                    "cpu_seconds": round(cpu, 3),
                }
            )
            print(f"  {name:44s} {seconds:7.0f} {wall:8.2f} {seconds / wall:11.1f} {cpu:8.2f}")
    return rows


def memory_child(mode: str, seconds: float, output: str, wav2vec2_dir: str | None) -> None:
    """Runs in a fresh process: encode ``seconds`` of audio in ``mode``, print peak memory as JSON."""
    configs = {
        "whole": ConditionerConfig(),
        "whole-unchunked": ConditionerConfig(cnn_chunk_seconds=None),
        "blocks": ConditionerConfig(window_frames=250, window_context_frames=100),
    }
    args = argparse.Namespace(wav2vec2_dir=wav2vec2_dir)
    conditioner = wav2vec2_conditioner(args, configs[mode])
    waveform = torch.from_numpy(normalize_waveform(speech(seconds)))[None]
    baseline = current_rss_mib()
    start = time.perf_counter()
    with torch.inference_mode():
        features = conditioner.encode_audio(waveform)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if output:
        torch.save(features, output)
    print(json.dumps({"baseline_mib": baseline, "peak_mib": peak, "wall_seconds": wall}))


def current_rss_mib() -> float:
    """Resident memory of this process now (Linux ``/proc``), in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_child(mode: str, seconds: float, output: str, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", mode, "--child-seconds", str(seconds), "--child-output", output]
    if args.wav2vec2_dir:
        command += ["--wav2vec2-dir", args.wav2vec2_dir]
    if args.threads:
        command += ["--threads", str(args.threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def relative_error(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return float((approx.double() - exact.double()).norm() / exact.double().norm())


def bench_memory(args: argparse.Namespace) -> list[dict[str, object]]:
    print(f"\n== memory: peak resident memory for a {LONG_SECONDS / 60:.0f}-minute clip (fresh process per mode) ==")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {mode: str(Path(tmp) / f"{mode}.pt") for mode in ("whole", "blocks")}
        results = {mode: run_child(mode, LONG_SECONDS, outputs[mode], args) for mode in ("whole", "blocks")}
        error = relative_error(torch.load(outputs["blocks"]), torch.load(outputs["whole"]))
    print(f"  {'mode':58s} {'peak MiB':>9s} {'model MiB':>10s} {'work MiB':>9s} {'wall s':>8s}")
    for mode, label in (
        ("whole", "whole clip, one transformer pass (FLOAT-exact), conv in 10 s chunks"),
        ("blocks", "blocks of 10 s with 4 s context each side"),
    ):
        result = results[mode]
        work = result["peak_mib"] - result["baseline_mib"]
        print(
            f"  {label:58s} {result['peak_mib']:9.0f} {result['baseline_mib']:10.0f} {work:9.0f} "
            f"{result['wall_seconds']:8.1f}"
        )
        rows.append(
            {
                "machine": machine(),
                "mode": label,
                "clip_seconds": LONG_SECONDS,
                "peak_mib": round(result["peak_mib"]),
                "baseline_mib": round(result["baseline_mib"]),
                "wall_seconds": round(result["wall_seconds"], 1),
            }
        )
    print(f"  windowed vs whole-clip features: relative error {error:.3g}")
    rows.append(
        {
            "machine": machine(),
            "mode": "blocks vs whole relative error",
            "clip_seconds": LONG_SECONDS,
            "peak_mib": "",
            "baseline_mib": "",
            "wall_seconds": "",
            "relative_error": f"{error:.4g}",
        }
    )
    # Without conv chunking the first conv layer alone holds 512 x N/5 floats; measure two lengths and extrapolate.
    probe = {s: run_child("whole-unchunked", s, "", args) for s in (20.0, 40.0)}
    work = {s: r["peak_mib"] - r["baseline_mib"] for s, r in probe.items()}
    slope = (work[40.0] - work[20.0]) / 20.0
    extrapolated = work[40.0] + slope * (LONG_SECONDS - 40.0) + probe[40.0]["baseline_mib"]
    for seconds, result in probe.items():
        print(f"  whole clip without conv chunking, {seconds:.0f} s clip: working memory {work[seconds]:.0f} MiB")
        rows.append(
            {
                "machine": machine(),
                "mode": "whole clip, conv unchunked",
                "clip_seconds": seconds,
                "peak_mib": round(result["peak_mib"]),
                "baseline_mib": round(result["baseline_mib"]),
                "wall_seconds": round(result["wall_seconds"], 1),
                "relative_error": "",
            }
        )
    print(
        f"  -> extrapolated peak for {LONG_SECONDS:.0f} s without conv chunking: {extrapolated:.0f} MiB "
        f"({slope:.0f} MiB per second of audio)"
    )
    rows.append(
        {
            "machine": machine(),
            "mode": "whole clip, conv unchunked (extrapolated)",
            "clip_seconds": LONG_SECONDS,
            "peak_mib": round(extrapolated),
            "baseline_mib": "",
            "wall_seconds": "",
            "relative_error": "",
        }
    )
    for row in rows:
        row.setdefault("relative_error", "")
    return rows


def chunks_of(signal: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, signal.size, size):
        yield signal[start : start + size]


def bench_stream(args: argparse.Namespace) -> list[dict[str, object]]:
    seconds = 12.0 if args.quick else 20.0
    print(f"\n== stream: relative error of streamed vs whole-clip w_a ({seconds:.0f} s clip, 1 s chunks) ==")
    conditioner = wav2vec2_conditioner(args)
    clip = speech(seconds)
    stats = WaveformStats.of(clip)
    with torch.inference_mode():
        whole = conditioner(clip, emotion="neutral").audio
    settings = [(c, 0, "clip") for c in (0, 25, 50, 100, 200)]
    settings += [(50, a, "clip") for a in (5, 25)]
    settings += [(50, 0, "running"), (100, 25, "running")]
    rows = []
    print(
        f"  {'context':>8s} {'lookahead':>10s} {'stats':>8s} {'rel. error':>11s} {'median frame':>13s} {'wall s':>7s}"
    )
    for context, lookahead, norm in settings:
        start = time.perf_counter()
        with torch.inference_mode():
            parts = conditioner.stream(
                chunks_of(clip, 25 * SPF),
                "neutral",
                stats=stats if norm == "clip" else None,
                context_frames=context,
                lookahead_frames=lookahead,
            )
            streamed = torch.cat([p.audio for p in parts], dim=1)
        wall = time.perf_counter() - start
        per_frame = (streamed - whole).norm(dim=-1) / whole.norm(dim=-1)
        error, median = relative_error(streamed, whole), float(per_frame.median())
        print(f"  {context:8d} {lookahead:10d} {norm:>8s} {error:11.3g} {median:13.3g} {wall:7.1f}")
        rows.append(
            {
                "machine": machine(),
                "weights": "given" if args.wav2vec2_dir else "random",
                "context_frames": context,
                "lookahead_frames": lookahead,
                "stats": norm,
                "relative_error": f"{error:.4g}",
                "median_frame_error": f"{median:.4g}",
                "wall_seconds": round(wall, 1),
            }
        )
    return rows


def bench_windows(args: argparse.Namespace) -> list[dict[str, object]]:
    seconds = 30.0
    print(f"\n== windows: relative error of block-wise vs whole-clip w_a ({seconds:.0f} s clip, 5 s blocks) ==")
    waveform = torch.from_numpy(normalize_waveform(speech(seconds)))[None]
    exact = wav2vec2_conditioner(args)
    with torch.inference_mode():
        whole = exact.encode_audio(waveform)
    rows = []
    for context in (0, 25, 50, 100, 250):
        config = ConditionerConfig(window_frames=125, window_context_frames=context)
        windowed = Conditioner(config, wav2vec2=exact.audio_encoder.wav2vec2)
        windowed.load_trainable_state_dict(exact.trainable_state_dict())
        with torch.inference_mode():
            error = relative_error(windowed.encode_audio(waveform), whole)
        print(f"  context {context:4d} frames: relative error {error:.3g}")
        rows.append(
            {"machine": machine(), "block_frames": 125, "context_frames": context, "relative_error": f"{error:.4g}"}
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["speed", "memory", "stream", "windows"], action="append")
    parser.add_argument("--quick", action="store_true", help="fewer clip lengths and a shorter stream clip")
    parser.add_argument("--wav2vec2-dir", help="real wav2vec2 weights (Hugging Face folder) instead of random ones")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--csv-dir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--child-output", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        memory_child(args.child, args.child_seconds, args.child_output, args.wav2vec2_dir)
        return
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    sections = {"speed": bench_speed, "memory": bench_memory, "stream": bench_stream, "windows": bench_windows}
    for name in args.only or list(sections):
        rows = sections[name](args)
        suffix = f"_{args.threads}t" if args.threads else ""
        write_csv(args.csv_dir / f"conditioner_{name}{suffix}.csv", rows)


if __name__ == "__main__":
    main()
