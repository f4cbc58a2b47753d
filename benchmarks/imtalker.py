"""IMTalker end to end: seconds per clip of motionkit's Pipeline against IMTalker's own inference structure.

For a speech clip, a portrait and the imtalker-512 model (random weights: speed does not depend on the values), each
mode runs in a fresh process and reports its wall time (model construction excluded), split into conditioning,
sampling and rendering, and the process CPU time:

* ``motionkit``: ``Pipeline.generate(...).save(path)`` — whole-clip conditioning, motion sampled window by window
  (packed CPU linears, batched audio guidance), the portrait's source side (attention keys/values, pooled fine
  features) computed once, frames rendered in chunks and encoded as they come;
* ``official loop``: what IMTalker's ``generator/generate.py`` does (spec section 3.7) — the same conditioning and
  sampling with plain ``F.linear``, then for every frame ``m_c = D_m(adapt(t_j, g_r))`` and ``decode(m_c, m_r, f_r)``
  in the official form, the renderer benchmark's ``OfficialLoop`` (``benchmarks/imtalker_renderer.py``): the source
  encoded with convolution then BatchNorm, each coarse level projects the source keys and values again and
  materialises its whole ``(8, N, N)`` softmax map, the guide level's head mean gives the top-1 keys, the fine levels
  gather the source blocks again, the frame decoder runs convolution then BatchNorm and explicit attention maps on
  NCHW tensors; all frames are kept, stacked, clamped, truncated to uint8, then written. Both write with motionkit's
  encoder, so encoding is not part of the difference.

Run from the project root (the 512-px renderer takes seconds per frame on a CPU, so clips are short)::

    PYTHONPATH=.:kernels python benchmarks/imtalker.py --seconds 0.4 --threads 2 --repeats 2

With ``--repeats`` the modes alternate (so that both see the same machine load) and the summary gives each mode's
minimum wall and process-CPU seconds; every run is a row of the CSV.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import machine, write_csv

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16000
MODES = ("official loop", "motionkit")


@dataclass
class Result:
    mode: str
    seconds_of_audio: float
    frames: int
    threads: int
    wall_seconds: float
    cpu_seconds: float
    frames_per_second: float
    conditioning_seconds: float
    sampling_seconds: float
    rendering_seconds: float
    machine: str


def build_components():  # type: ignore[no-untyped-def]
    """imtalker-512's renderer, generator and wav2vec2-base conditioner with seeded random weights."""
    import torch
    from transformers import Wav2Vec2Model

    from motionkit.conditioner import Conditioner
    from motionkit.conditioner.wav2vec2 import freeze, wav2vec2_config
    from motionkit.families.imtalker.generator import IMTalkerMotion
    from motionkit.families.imtalker.presets import imtalker_512
    from motionkit.families.imtalker.renderer import IMTalkerRenderer

    torch.manual_seed(0)
    config = imtalker_512()
    renderer = IMTalkerRenderer().eval()
    motion = IMTalkerMotion(config.motion).eval()
    with torch.no_grad():  # the official init zeroes the adaLN layers; non-zero weights make every layer count
        for parameter in motion.parameters():
            parameter.normal_(0.0, 0.02)
    conditioner = Conditioner(config.conditioner, wav2vec2=freeze(Wav2Vec2Model(wav2vec2_config({})))).eval()
    return renderer, conditioner, motion


def worker(mode: str, wav: Path, portrait_path: Path, out: Path) -> Result:
    import torch

    from motionkit.flow.linear import Linear

    renderer, conditioner, motion = build_components()
    marks: dict[str, float] = {}
    started, started_cpu = time.perf_counter(), time.process_time()
    if mode == "motionkit":
        from motionkit.pipeline import Pipeline

        pipeline = Pipeline(renderer, conditioner, motion)

        def progress(stage: str, done: int, total: int) -> None:
            if done == total:
                marks[stage] = time.perf_counter()

        video = pipeline.generate(portrait_path, wav, "neutral", seed=0, crop=False, progress=progress)
        video.save(out, progress=progress)
        frames = len(video)
        conditioned, sampled = marks["conditioning"], marks["sampling motion"]
    else:
        from imtalker_renderer import OfficialLoop

        from motionkit.face import crop_portrait
        from motionkit.io import VideoWriter, load_audio
        from motionkit.io.image import load_image

        for module in motion.modules():
            if isinstance(module, Linear):
                module.packed_enabled = False  # the official code's plain F.linear
        loop = OfficialLoop(renderer)
        with torch.no_grad():
            pixels = crop_portrait(load_image(portrait_path), 512, crop=False)
            image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
            source = loop.encode(image)
            waveform = load_audio(wav)
            conditions = conditioner(waveform, emotion="neutral")
            conditioned = time.perf_counter()
            track = motion.sample(conditions, source[2], seed=0)
            sampled = time.perf_counter()
            decoded = [loop.frame(track.latents[:, j], source)[0] for j in range(track.frames)]
            video = torch.cat(decoded)  # (T, 3, 512, 512) in (0, 1), every frame kept
            frames_u8 = (video.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()  # truncation
        with VideoWriter(out, fps=25, audio=waveform) as writer:
            writer.write(frames_u8)
        frames = track.frames
    wall = time.perf_counter() - started
    return Result(
        mode=mode,
        seconds_of_audio=0.0,
        frames=frames,
        threads=torch.get_num_threads(),
        wall_seconds=wall,
        cpu_seconds=time.process_time() - started_cpu,
        frames_per_second=frames / wall,
        conditioning_seconds=conditioned - started,
        sampling_seconds=sampled - conditioned,
        rendering_seconds=time.perf_counter() - sampled,
        machine=machine(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=0.4, help="length of the speech clip")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "imtalker_cpu.csv")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="what to run, in order")
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads of the workers (default: inherited)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each mode, alternating")
    parser.add_argument("--worker", nargs=4, metavar=("MODE", "WAV", "PORTRAIT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mode, wav, portrait, out = args.worker
        print(json.dumps(asdict(worker(mode, Path(wav), Path(portrait), Path(out)))))
        return
    import soundfile as sf

    from motionkit.assets import demo_portrait_path
    from motionkit.testing.signals import speech_like

    rows = []
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'kernels'}"}
    if args.threads is not None:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        sf.write(wav, speech_like(args.seconds), SAMPLE_RATE, subtype="PCM_16")
        for repeat in range(args.repeats):
            for mode in args.modes:
                out = f"{tmp}/{mode.replace(' ', '_')}_{repeat}.mp4"  # a writer refuses an existing file
                command = [sys.executable, __file__, "--worker", mode, str(wav), str(demo_portrait_path()), out]
                run = subprocess.run(command, capture_output=True, text=True, env=env)
                if run.returncode != 0:
                    sys.exit(f"the {mode} worker failed:\n{run.stderr}")
                result = json.loads(run.stdout.strip().splitlines()[-1])
                result["seconds_of_audio"] = args.seconds
                rows.append(result)
                write_csv(args.out, [result], append=args.out.exists())
                print(
                    f"{mode:>14}: {result['frames']} frames in {result['wall_seconds']:.1f} s (conditioning "
                    f"{result['conditioning_seconds']:.1f}, sampling {result['sampling_seconds']:.1f}, rendering "
                    f"{result['rendering_seconds']:.1f}; CPU {result['cpu_seconds']:.1f} s)"
                )
    best = {
        mode: (min(r["wall_seconds"] for r in runs), min(r["cpu_seconds"] for r in runs))
        for mode in args.modes
        if (runs := [r for r in rows if r["mode"] == mode])
    }
    for mode, (wall, cpu) in best.items():
        print(f"{mode:>14}: best of {args.repeats}: wall {wall:.1f} s, CPU {cpu:.1f} s")
    if len(best) == len(MODES):
        (official_wall, official_cpu), (ours_wall, ours_cpu) = best["official loop"], best["motionkit"]
        print(
            f"motionkit / official loop: {official_wall / ours_wall:.2f}x end to end by wall time, "
            f"{official_cpu / ours_cpu:.2f}x by process CPU time"
        )


if __name__ == "__main__":
    main()
