"""End-to-end generation: seconds and peak memory of motionkit's Pipeline against FLOAT's inference loop.

For speech clips of several lengths, a portrait and the float-512 model (random weights: speed and memory do not
depend on the values), every case runs in a fresh process and reports its wall time (model construction excluded),
frames per second and peak resident memory (``ru_maxrss``; on CUDA also the peak of allocated GPU memory):

* ``motionkit``: ``Pipeline.generate(...).save(path)`` — whole-clip conditioning, motion sampled window by window,
  frames rendered in chunks and encoded as they come (never all in memory);
* ``official loop``: what FLOAT's ``generate.py`` does, in the official code's structure and numerics (FLOAT spec
  §7-10): the audio features computed as the official audio encoder does (the Hugging Face wav2vec2 modules called
  in its order, every layer's output kept and stacked, then projected; the same weights as motionkit's); whole-clip
  sampling with the vector field written as the official FMT is (:class:`sampler.EagerVectorField`: timm-style
  blocks, a dense boolean band mask passed to ``scaled_dot_product_attention``, ``nn.Linear`` on plain weights) in
  FLOAT's window loop (§10.4); every frame decoded one at a time at batch 1 with the decoder in the official form
  (:mod:`motionkit.renderer.reference`: NCHW, per-sample grouped convolutions, zero-insertion resampling), all
  frames kept, stacked, clamped and converted to uint8 in one go; then written as the official code writes
  (§10.5): ``torchvision.io.write_video``'s PyAV call (libx264, yuv420p, x264's defaults: crf 23, preset medium)
  into a temporary MP4, then the audio muxed beside the copied video stream (``ffmpeg -c:v copy -c:a aac``, done
  here with PyAV). Its process runs with libgomp's default wait policy (``GOMP_SPINCOUNT=300000``), which the
  official code gets, not the passive one ``import motionkit`` sets. The driver checks that this
  motion equals motionkit's for the same noise: each worker saves its motion and the driver prints the max-abs
  difference.

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
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from harness import write_csv

ROOT = Path(__file__).resolve().parents[1]
FRAME_RATE = 25
SAMPLE_RATE = 16000
REDUCED_SIZE = 64
FEATURE_EXTRACTOR_EPS = 1e-7
"""wav2vec2-base-960h's feature extractor normalises a clip to ``(x - mean) / sqrt(var + 1e-7)``."""
LIBGOMP_DEFAULT_SPINCOUNT = "300000"
"""libgomp's spin count when no wait policy is set (``OMP_DISPLAY_ENV=verbose`` prints it): the official loop's
process gets it through ``GOMP_SPINCOUNT``, which takes precedence over the ``OMP_WAIT_POLICY=PASSIVE`` that
``import motionkit`` sets."""
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
    cpu_seconds: float = 0.0
    """Process CPU time of the whole run (every thread; on a shared machine it does not depend on other jobs)."""
    motion_cpu_seconds: float = 0.0
    """Process CPU time of conditioning and sampling."""
    writing_seconds: float = 0.0
    """Official loop: wall time of writing the MP4 after decoding (motionkit encodes while it decodes: 0)."""
    note: str = ""


# --------------------------------------------------------------------------------------------------- worker


def build_components(size: int, device: str):  # type: ignore[no-untyped-def]
    """float-512 renderer (or a ``size`` px one), flow transformer (every weight random: FLOAT's init zeroes its
    output) and wav2vec2-base conditioner, random weights."""
    import torch
    from sampler import build as random_sampler
    from transformers import Wav2Vec2Model

    from motionkit import Conditioner, Renderer
    from motionkit.conditioner.wav2vec2 import freeze, wav2vec2_config
    from motionkit.config import RendererConfig
    from motionkit.families import preset
    from motionkit.testing.parity import ParityFixture, fixture_dir

    torch.manual_seed(0)
    config = preset("float-512")
    renderer = Renderer(RendererConfig(size=size, **(REDUCED_CHANNELS if size == REDUCED_SIZE else {})))
    sampler = random_sampler(config.flow, torch.device("cpu"))
    # FLOAT's wav2vec2-base layout, from the parity folder (../shared/float-parity or $MOTIONKIT_PARITY_DIR)
    wav2vec2 = freeze(Wav2Vec2Model(wav2vec2_config(ParityFixture(fixture_dir()).audio_config())))
    conditioner = Conditioner(config.conditioner, wav2vec2=wav2vec2)
    for module in (renderer, sampler, conditioner):
        module.to(device).eval()
    return renderer, conditioner, sampler


def x264_preset() -> str | None:
    """motionkit's encoder preset (``--x264-preset``, passed to the workers in the environment; ``None``: the
    writer's default). The official loop always writes with x264's defaults, as the official code does."""
    return os.environ.get("MOTIONKIT_BENCH_X264_PRESET")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(mode: str, wav: Path, portrait: Path, size: int, device: str, dtype: str, out: Path) -> Result:
    import torch

    renderer, conditioner, sampler = build_components(size, device)
    field = official_field(sampler) if mode == "official loop" else None
    before = rss_mib()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    marks: dict[str, float] = {}
    cpu_marks: dict[str, float] = {}
    started, started_cpu = time.perf_counter(), time.process_time()
    writing = 0.0
    if mode == "motionkit":
        from motionkit.pipeline import Pipeline

        if os.environ.get("MOTIONKIT_BENCH_CUDA_GRAPHS") == "1":
            sampler.use_cuda_graphs()
        pipeline = Pipeline(renderer, conditioner, sampler, dtype=getattr(torch, dtype))

        def progress(stage: str, done: int, total: int) -> None:
            if done == total:
                marks[stage], cpu_marks[stage] = time.perf_counter(), time.process_time()

        video = pipeline.generate(portrait, wav, "neutral", seed=0, crop=False, progress=progress)
        preset = x264_preset()
        video.save(out, progress=progress, **({"preset": preset} if preset else {}))
        latents = video.sampled_track.latents
        conditioned, sampled = marks["conditioning"], marks["sampling motion"]
        sampled_cpu = cpu_marks["sampling motion"]
    else:
        latents, conditioned, sampled, sampled_cpu, writing = official_loop(
            renderer, conditioner, field, wav, portrait, out, device
        )
    frames = latents.shape[1]
    np.save(out.with_suffix(".motion.npy"), latents.float().cpu().numpy())
    if device == "cuda":
        torch.cuda.synchronize()
    finished, finished_cpu = time.perf_counter(), time.process_time()
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
        cpu_seconds=finished_cpu - started_cpu,
        motion_cpu_seconds=sampled_cpu - started_cpu,
        writing_seconds=writing,
    )


def official_field(sampler):  # type: ignore[no-untyped-def]
    """The vector field in the official code's form, with the sampler's weights (built before the clock starts)."""
    from sampler import EagerVectorField

    field = EagerVectorField(sampler.config).to(sampler.pos_embed.device).eval()
    field.load_state_dict(sampler.state_dict())
    return field


def official_conditions(conditioner, waveform):  # type: ignore[no-untyped-def]
    """FLOAT's audio path (spec §7, §10.2): the feature extractor's normalisation, replicate padding to ``T * 640``
    samples, the Hugging Face wav2vec2 CNN, linear resampling to ``T`` frames, ``feature_projection``, the encoder
    with ``output_hidden_states``, the 12 layer outputs stacked and projected; the conditioner's own wav2vec2 and
    projection weights, and the one-hot neutral emotion. Returns the :class:`motionkit.types.Conditions`."""
    import torch
    import torch.nn.functional as F

    from motionkit.types import EMOTION_LABELS, Conditions

    encoder = conditioner.audio_encoder
    model = encoder.wav2vec2
    spf = encoder.samples_per_frame
    a = torch.from_numpy(waveform)[None].to(encoder.audio_projection[0].weight.device)
    a = (a - a.mean()) / torch.sqrt(a.var(unbiased=False) + FEATURE_EXTRACTOR_EPS)
    frames = -(-a.shape[-1] // spf)
    a = F.pad(a[None], (0, frames * spf - a.shape[-1]), mode="replicate")[0]
    features = F.interpolate(model.feature_extractor(a), size=frames, mode="linear", align_corners=True)
    hidden = model.feature_projection(features.transpose(1, 2))[0]
    states: list = []  # hidden_states[1:]: each layer's output (hooks: transformers 5 collects them on the model)
    hooks = [
        layer.register_forward_hook(lambda _m, _i, out: states.append(out[0] if isinstance(out, tuple) else out))
        for layer in model.encoder.layers
    ]
    model.encoder(hidden)
    for hook in hooks:
        hook.remove()
    stacked = torch.stack(states, dim=1).permute(0, 2, 1, 3).reshape(1, frames, -1)
    audio = encoder.audio_projection(stacked)
    emotion = torch.zeros(1, frames, len(EMOTION_LABELS), device=audio.device)
    emotion[..., EMOTION_LABELS.index("neutral")] = 1.0
    return Conditions(audio=audio, emotion=emotion)


def official_sample(field, conditions, source_motion, seed):  # type: ignore[no-untyped-def]
    """FLOAT.sample (spec §10.4): Euler on ``linspace(0, 1, nfe)`` per window of ``L`` frames, the three guidance
    branches ``[uncond, all-cond, audio-only]`` in one batch per call, the previous window's last ``L'`` frames
    and audio as context, the last window's audio padded by repeating its last frame; noise ``(1, L, D)`` per
    window, here motionkit's seeded frame noise so that both modes sample the same motion. Returns ``(1, T, D)``."""
    import math

    import torch

    from motionkit.flow import VectorFieldInputs, frame_noise

    config = field.config
    window, context, nfe = config.window, config.context, config.nfe
    s_a, s_e = config.guidance.audio_scale, config.guidance.emotion_scale
    audio = conditions.audio
    frames, audio_dim = audio.shape[1], audio.shape[2]
    we = conditions.emotion[:, :1]  # one emotion vector per clip, (1, 1, E)
    grid = torch.linspace(0, 1, nfe, device=audio.device)
    prev_x = audio.new_zeros(1, context, config.motion_dim)
    prev_wa = audio.new_zeros(1, context, audio_dim)
    windows = []
    for k in range(math.ceil(frames / window)):
        wa = audio[:, k * window : (k + 1) * window]
        if wa.shape[1] < window:
            wa = torch.cat([wa, wa[:, -1:].expand(1, window - wa.shape[1], audio_dim)], dim=1)
        x = frame_noise(seed, range(k * window, (k + 1) * window), 1, config.motion_dim, device=audio.device)
        inputs = VectorFieldInputs(
            wa=torch.cat([torch.zeros_like(wa), wa, wa]),
            wr=torch.cat([source_motion] * 3),
            we=torch.cat([torch.zeros_like(we), we, torch.zeros_like(we)]),
            prev_x=torch.cat([prev_x] * 3),
            prev_wa=torch.cat([prev_wa] * 3),
        )
        for i in range(nfe - 1):
            out = field(torch.cat([x, x, x]), grid[i : i + 1], inputs)
            v_u, v_ae, v_a = out[:, context:].chunk(3)
            x = x + (grid[i + 1] - grid[i]) * (v_u + s_a * (v_a - v_u) + s_e * (v_ae - v_a))
        windows.append(x)
        prev_x, prev_wa = x[:, -context:], wa[:, -context:]
    return torch.cat(windows, dim=1)[:, :frames]


def official_write(pixels, waveform, out: Path) -> None:  # type: ignore[no-untyped-def]
    """FLOAT's saving (spec §10.5): ``torchvision.io.write_video(tmp, frames, fps=25)`` (PyAV, libx264, yuv420p, no
    options: x264's crf 23 / preset medium), then ``ffmpeg -i tmp -i audio -c:v copy -c:a aac out``."""
    import av
    import numpy as np

    from motionkit.io.video import AUDIO_CODEC, AUDIO_FRAME_SAMPLES, PIXEL_FORMAT, VIDEO_CODEC

    tmp = out.with_suffix(".video-only.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream(VIDEO_CODEC, rate=FRAME_RATE)
        stream.width, stream.height = pixels.shape[2], pixels.shape[1]
        stream.pix_fmt = PIXEL_FORMAT
        for frame in pixels:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    with av.open(str(tmp)) as source, av.open(str(out), mode="w") as container:
        video = container.add_stream_from_template(source.streams.video[0])
        audio = container.add_stream(AUDIO_CODEC, rate=SAMPLE_RATE)
        audio.layout = "mono"
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                container.mux(packet)
        samples = np.ascontiguousarray(waveform, dtype=np.float32)
        for start in range(0, len(samples), AUDIO_FRAME_SAMPLES):
            frame = av.AudioFrame.from_ndarray(
                samples[None, start : start + AUDIO_FRAME_SAMPLES], format="flt", layout="mono"
            )
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    tmp.unlink()


def official_loop(renderer, conditioner, field, wav, portrait, out, device):  # type: ignore[no-untyped-def]
    """FLOAT's generate.py: whole-clip sampling in the official form, frames decoded one by one at batch 1 in the
    official form and all kept, then written as the official code writes. Returns the motion ``(1, T, D)``, the
    clock after conditioning and after sampling, the process CPU time after sampling, and the writing seconds."""
    import torch

    from motionkit.face import crop_portrait
    from motionkit.io import image_to_tensor, load_audio
    from motionkit.renderer.reference import synthesis_reference

    with torch.no_grad():
        image = image_to_tensor(crop_portrait(portrait, renderer.config.size, crop=False)).to(device)
        source = renderer.encode(image, channels_last=False)
        waveform = load_audio(wav)
        conditions = official_conditions(conditioner, waveform)
        conditioned = time.perf_counter()
        latents = official_sample(field, conditions, source.motion, seed=0)
        sampled, sampled_cpu = time.perf_counter(), time.process_time()
        features = [f.contiguous() for f in source.features]
        decoded = [
            synthesis_reference(renderer.dec, source.identity + latents[:, t], features)[0]
            for t in range(latents.shape[1])
        ]
        video = torch.stack(decoded, dim=1).squeeze(0)  # (T, 3, S, S), as FLOAT stacks d_hat
        pixels = ((video.permute(0, 2, 3, 1).clamp(-1, 1) + 1) / 2 * 255).to(torch.uint8).cpu().numpy()
    writing = time.perf_counter()
    official_write(pixels, waveform, out)
    return latents, conditioned, sampled, sampled_cpu, time.perf_counter() - writing


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
    if mode == "official loop" and "OMP_WAIT_POLICY" not in os.environ:
        env["GOMP_SPINCOUNT"] = LIBGOMP_DEFAULT_SPINCOUNT  # the official code does not import motionkit
    print(f"-- {mode}, {seconds:g} s of audio, {size} px renderer ...", flush=True)
    completed = subprocess.run([*command, args.dtype, str(out)], env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{mode} {seconds:g} s failed:\n{completed.stderr[-3000:]}")
    result = Result(**json.loads(completed.stdout.strip().splitlines()[-1]))
    result.seconds_of_audio = seconds
    out.unlink(missing_ok=True)
    motion = out.with_suffix(".motion.npy")
    other = folder / f"{'motionkit' if mode == 'official loop' else 'official loop'}_{seconds:g}s_{size}px.motion.npy"
    if other.exists():
        difference = float(np.abs(np.load(motion) - np.load(other)).max())
        result.note = f"motion max-abs difference to the other mode {difference:.2e}"
        print(f"   sampled motion: max-abs difference between the two modes {difference:.2e}", flush=True)
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
    parser.add_argument(
        "--x264-preset", help="motionkit's x264 speed preset (default: the writer's); the official loop uses x264's"
    )
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
    graphs = (
        ", motionkit with CUDA graphs" if args.cuda_graphs else ""
    ) + f", x264 preset {x264_preset() or 'default'}"
    print(
        f"\n== end to end, {args.device}, {args.dtype}{graphs}; random float-512 weights, neutral emotion, nfe 10 Euler"
    )
    header = f"{'mode':<14} {'audio':>7} {'px':>4} {'frames':>6} {'wall s':>8} {'frames/s':>8} {'peak RSS':>10}"
    print(header + "   (condition / sample / render s; CPU s: all, motion)")
    for r in results:
        print(
            f"{r.mode:<14} {r.seconds_of_audio:>6g}s {r.renderer_px:>4} {r.frames:>6} {r.wall_seconds:>8.1f} "
            f"{r.frames_per_second:>8.2f} {r.peak_rss_mib:>7.0f} MiB   ({r.conditioning_seconds:.1f} / "
            f"{r.sampling_seconds:.1f} / {r.rendering_seconds:.1f}; {r.cpu_seconds:.1f}, {r.motion_cpu_seconds:.1f})"
            + (f"  of which writing {r.writing_seconds:.1f} s" if r.writing_seconds else "")
            + (f"  GPU peak {r.gpu_peak_mib:.0f} MiB" if r.gpu_peak_mib else "")
        )
    ours = {(r.seconds_of_audio, r.renderer_px): r for r in results if r.mode == "motionkit"}
    for r in results:
        if r.mode == "official loop" and (r.seconds_of_audio, r.renderer_px) in ours:
            mine = ours[(r.seconds_of_audio, r.renderer_px)]
            motion = (r.sampling_seconds + r.conditioning_seconds) / (mine.sampling_seconds + mine.conditioning_seconds)
            print(
                f"speed-up at {r.seconds_of_audio:g} s ({r.renderer_px} px): {r.wall_seconds / mine.wall_seconds:.2f}x "
                f"end to end ({r.cpu_seconds / mine.cpu_seconds:.2f}x in CPU time); motion (conditioning + "
                f"sampling) {motion:.2f}x "
                f"({r.motion_cpu_seconds / mine.motion_cpu_seconds:.2f}x CPU); peak RSS {mine.peak_rss_mib:.0f} vs "
                f"{r.peak_rss_mib:.0f} MiB"
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
        write_csv(args.csv, [asdict(r) for r in results])


if __name__ == "__main__":
    main()
