"""Live sessions (Pipeline.live): per-frame latency and real-time factor with audio fed in real time, and the
quality of live motion against offline sampling on held-out synthetic clips.

Sections (``--sections``, comma-separated):

* ``latency``: one :class:`motionkit.LiveSession` per model fed speech in 20 ms chunks *at real time* (each chunk
  pushed at its wall-clock arrival time). Per frame: ``latency = ready_at - audio_ready_at`` (the session's own
  stamps) and ``scheduled latency = ready_at - arrival of the frame's audio`` (the same, plus any time the frame's
  audio waited because the session was still busy: what a viewer sees). Steady real-time factor = seconds spent
  inside ``push_audio`` per second of audio, after the first two seconds.
* ``quality``: live motion (the conditioner's live path and the generator's live sampling, audio pushed in 20 ms
  chunks, no rendering) against offline sampling of the same held-out clips (seeds 9100.., noise seeds 0..):
  mouth r vs the clip's true ``mouth_open`` (photo: the ``mouth_open`` parameter; synthetic-demo: the latents'
  ``mouth`` axis reading), audio-video offset (:func:`motionkit.eval.metrics.av_offset` against the audio
  envelope), chunk-seam statistic (:func:`motionkit.eval.seam_discontinuity` with the chunk as the window, on the
  flow model's output; chunks of one frame have no inside and no figure) and the median frame-to-frame change
  relative to offline (smoothness), for every ``--configs`` entry ``chunk/lookahead[/window]``.
* ``drift``: one live session of ``--drift-minutes`` of held-out clips back to back (motion only): the
  audio-video offset of every minute, and the frame count against the audio's.

Run from the project root: ``PYTHONPATH=.:kernels python benchmarks/live.py [--csv benchmarks/results/live.csv]``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from harness import machine, write_csv
from PIL import Image

from motionkit import LiveConfig, Pipeline
from motionkit.assets import bundled_model_path, demo_photo_path, demo_portrait_path, demo_speech_path
from motionkit.conditioner import WaveformStats
from motionkit.data.synthetic import PARAM_NAMES, SyntheticWorld, SyntheticWorldConfig
from motionkit.eval.metrics import audio_envelope, av_offset, frame_changes, pearson, seam_discontinuity
from motionkit.families.photo import ParameterMotion
from motionkit.io import load_audio
from motionkit.pipeline.live import live_window
from motionkit.train.demo.data import held_out_seeds

PUSH_SECONDS = 0.02
"""Audio per push: 20 ms, as a microphone or a TTS stream delivers it."""
WARM_UP_SECONDS = 2.0
"""Audio after which the real-time factor counts as steady."""
EVALUATION_OFFSET = 100
"""Held-out clips 9100, 9101, ... (the models' own evaluations use them)."""
MOUTH_PARAMETER = PARAM_NAMES.index("mouth_open")
WHOLE_WINDOW = "w"
"""The margin of ``--configs`` entries that sample the model's whole window."""
MODEL_NFE = "model"
"""``--nfe`` for the model's own time grid (FlowConfig.nfe) instead of LiveConfig's."""
PORTRAITS = {"photo-motion": demo_photo_path, "synthetic-demo": demo_portrait_path}
"""Each model's portrait: the real demo photo (512 x 600) for the photo family, the 128 px demo face otherwise."""


@dataclass(frozen=True)
class Setting:
    """A ``chunk/lookahead[/margin]`` entry of ``--configs`` (margin ``w``: the model's whole window)."""

    chunk: int
    lookahead: int
    margin: int | None

    @classmethod
    def parse(cls, text: str) -> Setting:
        parts = text.split("/")
        default = LiveConfig().window_margin_frames
        margin = default if len(parts) < 3 else None if parts[2] == WHOLE_WINDOW else int(parts[2])
        return cls(int(parts[0]), int(parts[1]), margin)

    def config(self, nfe: str | None) -> LiveConfig:
        """The settings with ``nfe`` (``--nfe``: None for LiveConfig's default, ``model`` for the model's own)."""
        steps = {} if nfe is None else {"nfe": None if nfe == MODEL_NFE else int(nfe)}
        return LiveConfig(
            chunk_frames=self.chunk, lookahead_frames=self.lookahead, window_margin_frames=self.margin, **steps
        )

    def __str__(self) -> str:
        return f"{self.chunk}/{self.lookahead}/" + (WHOLE_WINDOW if self.margin is None else str(self.margin))


# ---------------------------------------------------------------------------------------------------- latency


def portrait_image(path: Path, max_side: int | None) -> np.ndarray:
    """The portrait as ``(H, W, 3)`` uint8, shrunk (Lanczos) so that its longer side is at most ``max_side``."""
    image = Image.open(path).convert("RGB")
    if max_side is not None and max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    return np.asarray(image)


def latency(pipeline: Pipeline, portrait: Any, config: LiveConfig, seconds: float) -> dict[str, Any]:
    """Feed speech (the bundled clip, repeated) in real time; per-frame latency and the steady real-time factor."""
    rate = pipeline.sample_rate
    speech = load_audio(demo_speech_path(), target_rate=rate)
    audio = np.tile(speech, math.ceil(seconds * rate / speech.size))[: round(seconds * rate)]
    push = round(PUSH_SECONDS * rate)
    frames, busy, steady_busy, steady_cpu = [], 0.0, 0.0, 0.0
    with pipeline.live(portrait, config=config, emotion="neutral") as session:
        session.push_audio(np.zeros(push, dtype=np.float32))  # first call's one-off costs (allocations) out
        session.close()
    with pipeline.live(portrait, config=config, emotion="neutral") as session:
        fps = session.fps
        start = time.perf_counter()
        for offset in range(0, audio.size, push):
            arrival = start + (offset + push) / rate
            wait = arrival - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            began, began_cpu = time.perf_counter(), time.process_time()
            frames += session.push_audio(audio[offset : offset + push])
            spent = time.perf_counter() - began
            busy += spent
            if offset / rate >= WARM_UP_SECONDS:
                steady_busy += spent
                steady_cpu += time.process_time() - began_cpu
        frames += session.finish()
    own = np.array([f.latency for f in frames])
    scheduled = np.array([f.ready_at - (start + min((f.index + 1) / fps, audio.size / rate)) for f in frames])
    return {
        "frames": len(frames),
        "frame_size": f"{frames[0].image.shape[0]}x{frames[0].image.shape[1]}",
        "latency_p50_ms": 1000 * float(np.percentile(own, 50)),
        "latency_p95_ms": 1000 * float(np.percentile(own, 95)),
        "latency_max_ms": 1000 * float(own.max()),
        "scheduled_p50_ms": 1000 * float(np.percentile(scheduled, 50)),
        "scheduled_p95_ms": 1000 * float(np.percentile(scheduled, 95)),
        "first_frame_ms": 1000 * float(scheduled[0]),
        "rtf": busy / (audio.size / rate),
        "steady_rtf": steady_busy / (audio.size / rate - WARM_UP_SECONDS),
        "steady_cpu_rtf": steady_cpu / (audio.size / rate - WARM_UP_SECONDS),
        "load_average_1min": os.getloadavg()[0],
    }


# ---------------------------------------------------------------------------------------------------- quality


class MotionModel:
    """A model's conditioner and generator, with its mouth reading and the space its seams are measured in."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.generator = pipeline.sampler
        self.conditioner = pipeline.conditioner
        self.photo = isinstance(self.generator, ParameterMotion)
        if self.photo:
            self.source = self.generator.neutral()
        else:
            renderer: Any = pipeline.renderer
            self.source = renderer.encode_portrait(demo_portrait_path(), crop=False).motion

    def mouth(self, track: torch.Tensor) -> np.ndarray:
        """``(T,)`` mouth opening of a ``(T, D)`` track."""
        if self.photo:
            return track[:, MOUTH_PARAMETER].numpy()
        space = self.pipeline.motion_space
        return (space.project(track) @ space.reader("mouth").to(track.dtype)).numpy()

    def flow_space(self, track: torch.Tensor) -> np.ndarray:
        """The track as the flow model samples it (photo: normalised parameters)."""
        return (self.generator.normalise(track) if self.photo else track).numpy()

    def offline(self, waveform: np.ndarray, seed: int) -> torch.Tensor:
        with torch.no_grad():
            conditions = self.conditioner(waveform, emotion="neutral")
            return self.generator.sample(conditions, self.source, seed=seed).latents[0].float()

    def live(self, waveform: np.ndarray, config: LiveConfig, seed: int) -> torch.Tensor:
        """The motion a live session emits for ``waveform`` pushed in 20 ms chunks (before rendering)."""
        stream = self.conditioner.live(
            "neutral",
            context_frames=config.audio_context_frames,
            lookahead_frames=config.encoder_lookahead_frames,
            prior=None if config.prior_rms is None else WaveformStats(0.0, config.prior_rms**2),
            prior_seconds=config.prior_seconds,
        )
        motion = self.generator.live(
            self.source,
            chunk_frames=config.chunk_frames,
            lookahead_frames=config.lookahead_frames,
            nfe=config.nfe,
            seed=seed,
            window_frames=live_window(config, self.generator.window),
        )
        push = round(PUSH_SECONDS * self.conditioner.sample_rate)
        parts = []
        with torch.no_grad():
            for offset in range(0, waveform.size, push):
                conditions = stream.push(waveform[offset : offset + push])
                if conditions is not None:
                    parts += motion.push(conditions)
            last = stream.finish()
            if last is not None:
                parts += motion.push(last)
            parts += motion.finish()
        return torch.cat(parts, dim=1)[0].float()


def clips(count: int, seconds: float) -> list[Any]:
    world = SyntheticWorld(SyntheticWorldConfig())
    return [world.clip(seed, seconds, render=False) for seed in held_out_seeds(count, EVALUATION_OFFSET)]


def _figures(model: MotionModel, track: torch.Tensor, clip: Any, rate: int, fps: float) -> dict[str, float]:
    truth = clip.params.as_array()[:, MOUTH_PARAMETER]
    mouth = model.mouth(track)
    envelope = audio_envelope(clip.audio, rate, fps, frames=clip.num_frames)
    return {
        "mouth_r": pearson(mouth, truth),
        "offset": float(av_offset(mouth, envelope).frames),
        "change": float(np.nanmedian(frame_changes(model.flow_space(track)))),
    }


def quality(
    model: MotionModel, settings: Sequence[Setting], nfe: str | None, clip_list: list[Any], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    rate, fps = model.conditioner.sample_rate, float(model.conditioner.fps)
    offline = [[_figures(model, model.offline(c.audio, s), c, rate, fps) for s in seeds] for c in clip_list]
    rows = []
    for setting in settings:
        config = setting.config(nfe)
        per_clip, seams = [], []
        for clip, reference in zip(clip_list, offline, strict=True):
            figures = []
            for seed in seeds:
                track = model.live(clip.audio, config, seed)
                figures.append(_figures(model, track, clip, rate, fps))
                if setting.chunk >= 2:
                    seams.append(seam_discontinuity(model.flow_space(track), window=setting.chunk).ratio)
            per_clip.append(
                {
                    "mouth_r": float(np.mean([f["mouth_r"] for f in figures])),
                    "offline_mouth_r": float(np.mean([f["mouth_r"] for f in reference])),
                    "offset": max((f["offset"] for f in figures), key=abs),
                    "smoothness": float(np.mean([f["change"] for f in figures]))
                    / float(np.mean([f["change"] for f in reference])),
                }
            )
        worst = min(per_clip, key=lambda c: c["mouth_r"])
        rows.append(
            {
                "setting": str(setting),
                "nfe": config.nfe,
                "latency_frames": setting.chunk - 1 + setting.lookahead,
                "mouth_r_worst": worst["mouth_r"],
                "mouth_r_mean": float(np.mean([c["mouth_r"] for c in per_clip])),
                "offline_mouth_r_worst": min(c["offline_mouth_r"] for c in per_clip),
                "mouth_r_gap_worst": max(c["offline_mouth_r"] - c["mouth_r"] for c in per_clip),
                "offset_worst": max((c["offset"] for c in per_clip), key=abs),
                "seam_ratio": float(np.mean(seams)) if seams else float("nan"),
                "seam_ratio_worst": float(np.max(seams)) if seams else float("nan"),
                "change_vs_offline": float(np.mean([c["smoothness"] for c in per_clip])),
            }
        )
        print(_row(model.pipeline, rows[-1]), flush=True)
    return rows


def drift(model: MotionModel, config: LiveConfig, minutes: float, clip_seconds: float) -> dict[str, Any]:
    """One session over ``minutes`` of held-out clips back to back: the offset of every minute."""
    rate, fps = model.conditioner.sample_rate, float(model.conditioner.fps)
    count = math.ceil(minutes * 60 / clip_seconds)
    clip_list = clips(count, clip_seconds)
    audio = np.concatenate([c.audio for c in clip_list])
    track = model.live(audio, config, seed=0)
    envelope = audio_envelope(audio, rate, fps, frames=track.shape[0])
    mouth = model.mouth(track)
    per_minute = round(60 * fps)
    offsets = [
        av_offset(mouth[i : i + per_minute], envelope[i : i + per_minute]).frames
        for i in range(0, track.shape[0] - per_minute + 1, per_minute)
    ]
    truth = np.concatenate([c.params.as_array()[:, MOUTH_PARAMETER] for c in clip_list])
    return {
        "minutes": audio.size / rate / 60,
        "frames": track.shape[0],
        "audio_frames": math.ceil(audio.size / (rate / fps)),
        "offsets_per_minute": offsets,
        "mouth_r": pearson(mouth, truth[: track.shape[0]]),
    }


def _row(pipeline: Pipeline, row: dict[str, Any]) -> str:
    name = pipeline.config.name if pipeline.config is not None else "?"
    return f"{name:<15} " + "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="latency,quality,drift")
    parser.add_argument("--models", default="photo-motion,synthetic-demo")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30.0, help="audio of the latency session")
    parser.add_argument(
        "--configs", default="1/0,1/2,2/2,2/2/w,4/2,2/4,5/5,10/0,50/0/w", help="chunk/lookahead[/margin|w]"
    )
    parser.add_argument("--latency-config", default=None, help="chunk/lookahead[/margin|w] (default: LiveConfig's)")
    parser.add_argument(
        "--nfe", default=None, help=f"time-grid points (default LiveConfig's; {MODEL_NFE!r}: the model's)"
    )
    parser.add_argument("--max-side", type=int, default=None, help="shrink the latency portrait to this many px")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--clip-seconds", type=float, default=8.0)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--drift-minutes", type=float, default=10.0)
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sections = set(args.sections.split(","))
    print(machine(), flush=True)
    rows: list[dict[str, Any]] = []
    clip_list = clips(args.clips, args.clip_seconds) if "quality" in sections else []
    for name in args.models.split(","):
        pipeline = Pipeline.from_pretrained(bundled_model_path(name))
        default = Setting.parse(args.latency_config or _setting(LiveConfig())).config(args.nfe)
        if "latency" in sections:
            figures = latency(pipeline, portrait_image(PORTRAITS[name](), args.max_side), default, args.seconds)
            rows.append(
                {"model": name, "section": "latency", "setting": _setting(default), "nfe": default.nfe, **figures}
            )
            print(_row(pipeline, figures), flush=True)
        model = MotionModel(pipeline)
        if "quality" in sections:
            settings = [Setting.parse(text) for text in args.configs.split(",")]
            for row in quality(model, settings, args.nfe, clip_list, list(range(args.seeds))):
                rows.append({"model": name, "section": "quality", **row})
        if "drift" in sections:
            figures = drift(model, default, args.drift_minutes, args.clip_seconds)
            rows.append({"model": name, "section": "drift", "setting": _setting(default), **figures})
            print(_row(pipeline, figures), flush=True)
    if args.csv is not None:
        write_csv(args.csv, rows)


def _setting(config: LiveConfig) -> str:
    margin = WHOLE_WINDOW if config.window_margin_frames is None else str(config.window_margin_frames)
    return f"{config.chunk_frames}/{config.lookahead_frames}/{margin}"


if __name__ == "__main__":
    main()
