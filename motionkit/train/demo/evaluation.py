"""Measuring a model folder against motionkit's targets on held-out synthetic clips and the bundled real clip.

The model runs the inference path of the Pipeline: encode the portrait, condition on the audio (neutral emotion),
sample the motion with the model's default solver and guidance, render. :mod:`motionkit.eval` then measures:

* per held-out clip (a face and voice never seen in training, driven from its neutral portrait and its speech),
  each over the same 8 samples (noise seeds :data:`motionkit.eval.seams.DEFAULT_SEEDS`), since one sample's figures
  vary with its noise (mouth r by about 0.02 between seeds): mouth opening vs the clip's ground truth (Pearson r,
  the mean over the samples) and audio-video offset (the largest over the samples) of the rendered videos; the seam
  discontinuity of the latents (the mean over the samples), and the same frames' change with the windows moved by
  half a window (:func:`motionkit.eval.window_phase_seams`);
* nod and turn edits (``Oscillate.nod``, ``Keyframes.turn`` on the calibrated ``pitch`` and ``yaw`` axes) of the
  sample whose seed is the clip's index (modulo 8): the measured change of the rendered pose against the requested
  one;
* on ``arctic_a0007.wav`` driving the demo portrait: the share of silent frames with a closed mouth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from motionkit.assets import demo_identity, demo_speech_path
from motionkit.data.synthetic import FaceIdentity, SyntheticWorld, SyntheticWorldConfig
from motionkit.errors import ShapeError
from motionkit.eval import EDIT_TARGET, TARGETS, evaluate_edit, evaluate_video, window_phase_seams
from motionkit.eval.report import meets_target
from motionkit.eval.seams import DEFAULT_SEEDS
from motionkit.families.float.folder import float_architecture
from motionkit.io import images_to_tensor, load_audio, tensor_to_image
from motionkit.model_folder import ModelParts
from motionkit.space.edits import EditProgram, Keyframes, Oscillate
from motionkit.train.demo.data import held_out_clips
from motionkit.types import Conditions, MotionTrack

EVALUATION_OFFSET = 100
"""Evaluation clips use seeds 9100, 9101, ... (calibration uses 9000, 9001, ...)."""
NOD = Oscillate.nod(amplitude=8.0, frequency=1.0, start=1.0, end=5.0, fade_in=0.25, fade_out=0.25)
"""The evaluated nod: 8 degrees of pitch at 1 Hz between 1 s and 5 s."""
TURN = Keyframes.turn(15.0, start=2.0, duration=1.0)
"""The evaluated turn: 15 degrees of yaw, eased over 2-3 s, then held."""


@dataclass(frozen=True)
class ClipEvaluation:
    """Metrics of one held-out clip (see :class:`motionkit.eval.EvalReport` and the module docstring): ``seed`` is
    the clip's world seed; ``mouth_gt_correlations`` holds each sample's r, ``mouth_gt_correlation`` their mean."""

    seed: int
    mouth_gt_correlation: float
    av_offset_frames: float
    seam_ratio: float
    seam_shifted_ratio: float
    seam_excess: float
    closed_mouth_rate: float
    nod_error: float
    turn_error: float
    mouth_gt_correlations: tuple[float, ...]


@dataclass(frozen=True)
class DemoEvaluation:
    """Targets of the demo model: per-clip metrics and their worst values, checked against :data:`TARGETS`."""

    clips: list[ClipEvaluation]
    arctic_closed_mouth_rate: float
    arctic_silent_frames: int

    @property
    def worst(self) -> dict[str, float]:
        """The worst value of each target over the clips (NaN when any clip could not be measured)."""

        def worst(name: str, pick: Callable[..., float], key: Callable[[float], float] | None = None) -> float:
            values = [float(getattr(c, name)) for c in self.clips]
            return float("nan") if any(np.isnan(values)) else pick(values, key=key)

        return {
            "mouth_gt_correlation": worst("mouth_gt_correlation", min),
            "av_offset_frames": worst("av_offset_frames", max, abs),
            "seam_ratio": worst("seam_ratio", max),
            "seam_excess": worst("seam_excess", max),
            "nod_error": worst("nod_error", max),
            "turn_error": worst("turn_error", max),
            "closed_mouth_rate": self.arctic_closed_mouth_rate,
        }

    @property
    def checks(self) -> dict[str, bool]:
        """Target name -> whether the worst value meets it (an unmeasurable value fails)."""
        worst = self.worst
        checks = {name: meets_target(name, worst[name]) for name in TARGETS}
        checks.update({name: bool(worst[name] <= EDIT_TARGET) for name in ("nod_error", "turn_error")})
        return checks

    @property
    def mean(self) -> dict[str, float]:
        """The mean of each per-clip metric."""
        names = ("mouth_gt_correlation", "av_offset_frames", "seam_ratio", "seam_excess", "nod_error", "turn_error")
        return {name: float(np.mean([getattr(c, name) for c in self.clips])) for name in names}

    def to_dict(self) -> dict[str, Any]:
        return {
            "clips": [asdict(c) for c in self.clips],
            "worst": self.worst,
            "mean": self.mean,
            "arctic_closed_mouth_rate": self.arctic_closed_mouth_rate,
            "arctic_silent_frames": self.arctic_silent_frames,
            "checks": self.checks,
        }

    def __str__(self) -> str:
        worst, mean = self.worst, self.mean
        rows = [
            (
                f"mouth vs ground truth r, {len(DEFAULT_SEEDS)} seeds (min / mean)",
                f"{worst['mouth_gt_correlation']:.3f} / {mean['mouth_gt_correlation']:.3f}",
                "mouth_gt_correlation",
                ">= 0.8",
            ),
            (
                f"audio-video offset, {len(DEFAULT_SEEDS)} seeds (worst, frames)",
                f"{worst['av_offset_frames']:+.0f}",
                "av_offset_frames",
                "0 +/- 1",
            ),
            (
                f"seam ratio on latents, {len(DEFAULT_SEEDS)} seeds (max / mean)",
                f"{worst['seam_ratio']:.2f} / {mean['seam_ratio']:.2f}",
                "seam_ratio",
                "<= 1.5",
            ),
            (
                "seam excess over the same frames mid-window",
                f"{worst['seam_excess']:.2f} / {mean['seam_excess']:.2f}",
                None,
                "about 1 = no seam",
            ),
            (
                "nod amplitude error (max / mean)",
                f"{worst['nod_error']:.1%} / {mean['nod_error']:.1%}",
                "nod_error",
                f"<= {EDIT_TARGET:.0%}",
            ),
            (
                "turn amplitude error (max / mean)",
                f"{worst['turn_error']:.1%} / {mean['turn_error']:.1%}",
                "turn_error",
                f"<= {EDIT_TARGET:.0%}",
            ),
            (
                "ARCTIC closed mouth in silence",
                f"{self.arctic_closed_mouth_rate:.0%} of {self.arctic_silent_frames}",
                "closed_mouth_rate",
                ">= 90%",
            ),
        ]
        width = max(len(r[0]) for r in rows)
        lines = [
            f"{name:<{width}}  {value:<16} [{_verdict(self.checks, key)}: {target}]"
            for name, value, key, target in rows
        ]
        return "\n".join(lines)


def _verdict(checks: dict[str, bool], key: str | None) -> str:
    if key is None:
        return "info"
    return "pass" if checks.get(key) else "FAIL"


def condition(parts: ModelParts, portrait: np.ndarray, waveform: np.ndarray) -> tuple[Conditions, torch.Tensor]:
    """The Pipeline's inputs to the sampler: ``(S, S, 3)`` uint8 portrait and 16 kHz speech -> the conditions
    (neutral emotion) and the ``(1, D)`` source motion."""
    renderer, conditioner, _ = float_architecture(parts.renderer, parts.conditioner, parts.sampler)
    source = renderer.encode(images_to_tensor(portrait)[None])
    with torch.no_grad():
        conditions = conditioner(waveform, emotion="neutral")
    return conditions, source.motion


def drive(parts: ModelParts, portrait: np.ndarray, waveform: np.ndarray, *, seed: int) -> MotionTrack:
    """The Pipeline's motion path: ``(S, S, 3)`` uint8 portrait and 16 kHz speech -> the sampled track."""
    sampler = float_architecture(parts.renderer, parts.conditioner, parts.sampler)[2]
    return sampler.sample(*condition(parts, portrait, waveform), seed=seed)


def render(parts: ModelParts, portrait: np.ndarray, track: MotionTrack) -> np.ndarray:
    """``(T, S, S, 3)`` uint8 frames of ``track`` on ``portrait`` (saved as motionkit saves videos)."""
    renderer = float_architecture(parts.renderer, parts.conditioner, parts.sampler)[0]
    source = renderer.encode(images_to_tensor(portrait)[None])
    chunks = [chunk[0] for chunk in renderer.render(source, track, chunk_size=64)]
    return tensor_to_image(torch.cat(chunks))


def requested_change(parts: ModelParts, base: MotionTrack, edited: MotionTrack, axis: str) -> np.ndarray:
    """``(T,)`` change of the ``axis`` reading that an edit requested (edited minus base)."""
    read = parts.space.axis(axis).read
    change = read(edited.coefficients(parts.space)) - read(base.coefficients(parts.space))
    return change[0].detach().cpu().numpy()


def _edit_error(
    parts: ModelParts,
    portrait: np.ndarray,
    track: MotionTrack,
    frames: np.ndarray,
    identity: FaceIdentity,
    world: SyntheticWorldConfig,
) -> tuple[float, float]:
    errors = []
    for program, axis in ((EditProgram(edits=[NOD]), "pitch"), (EditProgram(edits=[TURN]), "yaw")):
        edited = program.apply(track, parts.space)
        try:
            accuracy = evaluate_edit(
                frames,
                render(parts, portrait, edited),
                {axis: requested_change(parts, track, edited, axis)},
                identity=identity,
                world=world,
            )[axis]
        except ShapeError:  # the analyzer found no face in the frames: the edit is not measurable, a failed check
            errors.append(float("nan"))
            continue
        errors.append(float(accuracy.relative_error))
    return errors[0], errors[1]


def _measured(value: float | None) -> float:
    """A report's figure, NaN where it could not be measured (NaN then fails the target it enters)."""
    return float("nan") if value is None else float(value)


def model_world(parts: ModelParts) -> SyntheticWorldConfig:
    """The synthetic world a model folder was trained in (its manifest's ``world``; the default world if absent)."""
    recorded = parts.manifest.get("world")
    return SyntheticWorldConfig() if recorded is None else SyntheticWorldConfig.model_validate(recorded)


def evaluate_model(
    parts: ModelParts, *, world: SyntheticWorldConfig | None = None, clips: int = 6, seconds: float = 8.0
) -> DemoEvaluation:
    """Evaluate a loaded model folder of the synthetic world (see the module docstring) in ``world`` (default: the
    one its manifest records, :func:`model_world`)."""
    renderer, conditioner, sampler = float_architecture(parts.renderer, parts.conditioner, parts.sampler)
    size = renderer.config.size
    world_config = model_world(parts) if world is None else world
    synthetic = SyntheticWorld(world_config, size=size)
    results = []
    for index, clip in enumerate(held_out_clips(world_config, size, clips, seconds, offset=EVALUATION_OFFSET)):
        portrait = synthetic.portrait(clip.identity)
        conditions, source_motion = condition(parts, portrait, clip.audio)
        mouths, offsets, closed = [], [], []
        edit_seed = DEFAULT_SEEDS[index % len(DEFAULT_SEEDS)]
        for seed in DEFAULT_SEEDS:
            track = sampler.sample(conditions, source_motion, seed=seed)
            frames = render(parts, portrait, track)
            report = evaluate_video(
                frames, clip.audio, identity=clip.identity, ground_truth=clip.params, world=world_config
            )
            mouths.append(_measured(report.mouth_gt_correlation))
            offsets.append(_measured(report.av_offset_frames))
            closed.append(_measured(report.closed_mouth_rate))
            if seed == edit_seed:
                edited = track, frames
        nod_error, turn_error = _edit_error(parts, portrait, *edited, clip.identity, world_config)
        seams = window_phase_seams(sampler, conditions, source_motion)
        results.append(
            ClipEvaluation(
                seed=clip.seed,
                mouth_gt_correlation=float(np.mean(mouths)),
                av_offset_frames=max(offsets, key=lambda offset: np.inf if np.isnan(offset) else abs(offset)),
                seam_ratio=seams.ratio,
                seam_shifted_ratio=seams.shifted_ratio,
                seam_excess=seams.excess,
                closed_mouth_rate=float(np.mean(closed)),
                nod_error=nod_error,
                turn_error=turn_error,
                mouth_gt_correlations=tuple(mouths),
            )
        )
    portrait = synthetic.portrait(demo_identity())
    speech = load_audio(demo_speech_path(), target_rate=conditioner.sample_rate)
    track = drive(parts, portrait, speech, seed=0)
    frames = render(parts, portrait, track)
    arctic = evaluate_video(frames, speech, identity=demo_identity(), latents=track, world=world_config)
    return DemoEvaluation(
        clips=results,
        arctic_closed_mouth_rate=float(arctic.closed_mouth_rate if arctic.closed_mouth_rate is not None else np.nan),
        arctic_silent_frames=int(arctic.silent_frames or 0),
    )
