"""Head motion of a photo motion model under sampling settings, against the synthetic world's, on tuning clips.

For each setting, every tuning clip (held-out voices 9500, 9501, ...: never a training clip and never the
evaluation's 9100-9107, so that a setting chosen here is not chosen on the figures it is judged by) is sampled with
noise seeds 100, 101, ... (each sample its own) and compared with the clip's true parameters through the
evaluation's own figures (:func:`motionkit.train.photo.evaluation.head_statistics`: per angle the standard deviation
and the mean speed, averaged over clips and samples; the relative error of each against the world's). Mouth r
(against the true ``mouth_open``) is reported beside them, to show what a setting costs the lips.

Settings (``--settings``, comma-separated; each ``name`` or ``name=value``):

* ``default``: the model's own sampling (its nfe, solver and guidance);
* ``guidance=S``: audio guidance scale ``S`` (emotion 1);
* ``nfe=N``, ``solver=NAME``: the ODE grid and solver;
* ``temperature=T``: the initial noise of the head angles multiplied by ``T`` (the other parameters' left as is);
* ``smooth=S``: the default sampling, then the head angles smoothed by a Gaussian of ``S`` frames (an analysis of
  where the speed lies, not a setting of the model).

``--clip-sets 100,500,700`` prints instead, for each clip set (held-out seeds ``9000 + offset + i``), the
evaluation's own head figures (:func:`motionkit.train.photo.evaluation.head_motion`: ``--clips`` clips, clip ``i``
sampled once with noise seed ``i``), under the model's head smoothing or ``--smoothing A``: the evaluation's clips
(offset 100), the tuning clips (500), and a check set nothing is chosen on (e.g. 700).

``--world-spread N`` prints, instead, how far the world's own head statistics averaged over ``--world-subset`` clips
(default 8, the evaluation's count of clips for the other figures; its head statistics use
:data:`~motionkit.train.photo.evaluation.HEAD_CLIPS`) stray from their mean over ``N`` tuning clips: the 5th and 95th
percentiles of 4000 random subsets.

Run from the project root: ``PYTHONPATH=. python benchmarks/photo_head_motion.py [--csv out.csv]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from harness import machine, write_csv
from scipy.ndimage import gaussian_filter1d

from motionkit.assets import bundled_model_path
from motionkit.config.flow import GuidanceConfig
from motionkit.data.synthetic import PARAM_NAMES, SyntheticWorld, SyntheticWorldConfig
from motionkit.eval.metrics import pearson
from motionkit.families.photo import ParameterMotion
from motionkit.flow.noise import NoiseSource, SeededNoise
from motionkit.model_folder import load_model
from motionkit.train.demo.data import held_out_seeds
from motionkit.train.photo.evaluation import HEAD_AXES, HEAD_CLIPS, head_motion, head_statistics

TUNING_OFFSET = 500
"""Tuning clips use seeds 9500, 9501, ... (the evaluation's are 9100-9107)."""
FIRST_NOISE_SEED = 100
"""Noise seeds 100, 101, ... (the evaluation's are 0-7)."""
CLIPS = 12
"""Tuning clips of a settings comparison."""
MOUTH = PARAM_NAMES.index("mouth_open")
HEAD = [PARAM_NAMES.index(name) for name in HEAD_AXES]


class TemperedNoise(NoiseSource):
    """The seeded noise with the head angles' dimensions multiplied by ``temperature``."""

    def __init__(self, seed: int, temperature: float) -> None:
        self.noise = SeededNoise(seed)
        self.gain = torch.ones(len(PARAM_NAMES))
        self.gain[HEAD] = temperature

    def window(self, index: int, first_frame: int, shape: tuple[int, int, int], like: torch.Tensor) -> torch.Tensor:
        return self.noise.window(index, first_frame, shape, like) * self.gain.to(like)


def sample(motion: ParameterMotion, conditions: Any, seed: int, setting: str) -> np.ndarray:
    """``(T, P)`` the track of one clip and noise seed under ``setting`` (see the module docstring)."""
    name, _, value = setting.partition("=")
    options: dict[str, Any] = {"seed": seed}
    if name == "guidance":
        options["guidance"] = GuidanceConfig(audio_scale=float(value), emotion_scale=1.0)
    elif name == "nfe":
        options["nfe"] = int(value)
    elif name == "solver":
        options["solver"] = value
    elif name == "temperature":
        options = {"noise": TemperedNoise(seed, float(value))}
    elif name not in ("default", "smooth"):
        raise SystemExit(f"unknown setting {setting!r}")
    track = motion.sample(conditions, motion.neutral(), **options).latents[0].cpu().numpy()
    if name == "smooth":
        track[:, HEAD] = gaussian_filter1d(track[:, HEAD], float(value), axis=0, mode="nearest")
    return track


def measure(parts: Any, settings: Sequence[str], clips: int, seeds: int, seconds: float) -> list[dict[str, Any]]:
    motion, conditioner = parts.sampler, parts.conditioner
    world = SyntheticWorld(SyntheticWorldConfig())
    tuning = [world.clip(seed, seconds, render=False) for seed in held_out_seeds(clips, TUNING_OFFSET)]
    with torch.no_grad():
        conditions = [conditioner(clip.audio, emotion="neutral") for clip in tuning]
    truth = _mean([head_statistics(clip.params.as_array(), world.fps) for clip in tuning])
    rows = [{"setting": "world", **truth}]
    print("world " + "  ".join(f"{k}={v:.2f}" for k, v in truth.items()), flush=True)
    for setting in settings:
        started = time.process_time()
        heads, mouth_r = [], []
        for index, (clip, condition) in enumerate(zip(tuning, conditions, strict=True)):
            # Each sample its own noise: the head motion is mostly the noise's (evaluation.head_motion).
            first = FIRST_NOISE_SEED + index * seeds
            for seed in range(first, first + seeds):
                track = sample(motion, condition, seed, setting)
                heads.append(head_statistics(track, world.fps))
                mouth_r.append(pearson(track[:, MOUTH], clip.params.as_array()[:, MOUTH]))
        model = _mean(heads)
        errors = {f"{k}_error": model[k] / truth[k] - 1.0 for k in truth}
        row = {
            "setting": setting,
            **model,
            **errors,
            "worst_error": max(abs(e) for e in errors.values()),
            "mouth_r": float(np.mean(mouth_r)),
            "cpu_s": time.process_time() - started,
        }
        rows.append(row)
        print(f"{setting:<16} " + "  ".join(f"{k}={v:.3f}" for k, v in row.items() if k != "setting"), flush=True)
    return rows


def clip_sets(parts: Any, offsets: Sequence[int], clips: int, seconds: float, smoothing: float | None) -> None:
    """Print the evaluation's head figures on each clip set (see the module docstring)."""
    motion, world = parts.sampler, SyntheticWorld(SyntheticWorldConfig())
    if smoothing is not None:
        axes = tuple(
            axis.model_copy(update={"smoothing": smoothing}) if axis.name in HEAD_AXES else axis
            for axis in motion.config.axes
        )
        motion.config = motion.config.model_copy(update={"axes": axes})
    for offset in offsets:
        started = time.process_time()
        model, truth = head_motion(parts.conditioner, motion, world=world, offset=offset, clips=clips, seconds=seconds)
        errors = {name: model[name] / truth[name] - 1.0 for name in truth}
        worst = max(errors, key=lambda name: abs(errors[name]))
        print(
            f"clips {9000 + offset}-{9000 + offset + clips - 1}: worst {abs(errors[worst]):.2f} ({worst}); "
            + ", ".join(f"{name} {model[name]:.2f} vs {truth[name]:.2f} ({errors[name]:+.0%})" for name in truth)
            + f"; {time.process_time() - started:.0f} CPU-s",
            flush=True,
        )


SUBSETS = 4000


def world_spread(clips: int, subset: int, seconds: float) -> None:
    """Print the 90 % range of the world's head statistics averaged over ``subset`` of ``clips`` tuning clips,
    relative to their mean over all of them."""
    world = SyntheticWorld(SyntheticWorldConfig())
    rows = [
        head_statistics(world.clip(seed, seconds, render=False).params.as_array(), world.fps)
        for seed in held_out_seeds(clips, TUNING_OFFSET)
    ]
    names = list(rows[0])
    table = np.array([[row[name] for name in names] for row in rows])
    rng = np.random.default_rng(0)
    subsets = np.stack([table[rng.choice(clips, subset, replace=False)].mean(0) for _ in range(SUBSETS)])
    relative = subsets / table.mean(0) - 1.0
    low, high = np.percentile(relative, 5, axis=0), np.percentile(relative, 95, axis=0)
    for name, mean, lo, hi in zip(names, table.mean(0), low, high, strict=True):
        print(
            f"{name:<12} mean over {clips} clips {mean:.2f}; over {subset} clips {lo:+.0%} .. {hi:+.0%} (90 %)",
            flush=True,
        )


def _mean(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {name: float(np.mean([row[name] for row in rows])) for name in rows[0]}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the shipped photo-motion)")
    parser.add_argument(
        "--settings",
        default="default,guidance=1,guidance=3,nfe=25,solver=midpoint,temperature=0.8,temperature=1.2,smooth=1,smooth=2",
    )
    parser.add_argument("--clips", type=int, default=CLIPS, help=f"(--clip-sets: default {HEAD_CLIPS})")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--clip-seconds", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--csv", type=Path, default=None)
    parser.add_argument("--clip-sets", default=None, metavar="OFFSETS", help="see the module docstring")
    parser.add_argument("--smoothing", type=float, default=None, help="head smoothing of --clip-sets")
    parser.add_argument("--world-spread", type=int, default=None, metavar="N", help="see the module docstring")
    parser.add_argument("--world-subset", type=int, default=8, metavar="K", help="clips per subset of --world-spread")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(machine(), flush=True)
    if args.world_spread is not None:
        world_spread(args.world_spread, args.world_subset, args.clip_seconds)
        return
    parts = load_model(args.model or bundled_model_path("photo-motion"))
    if args.clip_sets is not None:
        offsets = [int(offset) for offset in args.clip_sets.split(",")]
        clip_sets(parts, offsets, args.clips if args.clips != CLIPS else HEAD_CLIPS, args.clip_seconds, args.smoothing)
        return
    rows = measure(parts, args.settings.split(","), args.clips, args.seeds, args.clip_seconds)
    if args.csv is not None:
        write_csv(args.csv, rows)


if __name__ == "__main__":
    main()
