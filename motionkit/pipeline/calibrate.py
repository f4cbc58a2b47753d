"""Named axes for any model by measurement: render motion samples, measure them with the face stack, fit the axes.

For each portrait with source coefficients ``c_s`` (M,), the model first samples its own motion for speech (the
bundled clip unless given) and takes the standard deviation ``sigma_i`` of each basis coefficient over it (1 for a
direction the sampled motion does not move, as in :mod:`motionkit.pipeline.explore`). The motion samples are then

    c_k = c_s + spread * sigma * z_k,        z_k ~ N(0, I_M), k = 1 .. samples (seeded)

(independent across directions, so the measured quantities' slopes are identifiable), rendered on the portrait,
and read by the face stack (:class:`motionkit.face.FaceStack`): head pose ``yaw``, ``pitch``, ``roll`` in degrees,
``mouth`` (inner-lip gap over mouth width) and ``eyes`` (mean eye aspect ratio). Frames the stack finds no face in
are left out. :meth:`MotionSpace.fit_axes` (least squares of each measurement on the coefficients: the samples are
exact, the measurements noisy) gives one axis per quantity and its R^2 and RMSE; axes whose R^2 is below
``min_r2`` are reported but not kept (the renderer does not move that quantity in a way the stack reads).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from motionkit.errors import ConfigError, FaceNotFoundError, Fix
from motionkit.face import FaceStack
from motionkit.face.stack import Face
from motionkit.io.files import atomic_path
from motionkit.model_folder import AXES_FILE
from motionkit.progress import ProgressCallback, no_progress
from motionkit.space import MotionSpace
from motionkit.space.calibration import AxisFit
from motionkit.types import MotionTrack

if TYPE_CHECKING:
    from motionkit.pipeline.pipeline import Pipeline, PortraitInput
    from motionkit.protocols import EncodedPortrait

MEASURED_AXES = {"yaw": "deg", "pitch": "deg", "roll": "deg", "mouth": "ratio", "eyes": "ratio"}
"""Axis name -> unit of what the face stack measures for it (one source for the names)."""
DEFAULT_SAMPLES = 48
"""Fewest motion samples rendered per portrait by default (:func:`default_samples`)."""
SAMPLES_PER_FITTED_VALUE = 3
"""Default samples per value each fit determines (M slopes, the intercept, the residual's spread): a least-squares
fit of pure noise on M coefficients has an expected R^2 of M / (N - 1), 0.68 for IMTalker's 32 with 48 samples
(above ``min_r2``), 0.32 with three per fitted value."""
DEFAULT_SPREAD = 2.0
"""Sample spread, in standard deviations of the model's own speech motion per basis direction."""
DEFAULT_MIN_R2 = 0.5
"""Axes fitted with a lower R^2 are reported and not kept."""
CALIBRATION_FILE = "calibration.json"
"""Beside ``axes.json`` in a model folder: the fit quality of the measured axes."""
MIN_SIGMA = 1e-6
"""Coefficient spreads below this count as "does not move" (sigma falls back to one unit)."""


def measure_face(face: Face) -> dict[str, float]:
    """The values of :data:`MEASURED_AXES` for one face."""
    return {
        "yaw": face.pose.yaw,
        "pitch": face.pose.pitch,
        "roll": face.pose.roll,
        "mouth": face.measures.mouth_open,
        "eyes": (face.measures.right_eye + face.measures.left_eye) / 2,
    }


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` returns.

    Attributes:
        space: the model's space with the kept axes (replacing axes of the same names; other axes kept).
        report: every fitted axis' quality (kept or not).
        kept: names of the axes whose R^2 reached ``min_r2``.
        rendered: frames rendered; measured: frames the face stack read.
    """

    space: MotionSpace
    report: dict[str, AxisFit]
    kept: tuple[str, ...]
    rendered: int
    measured: int

    def save(self, folder: str | Path) -> tuple[Path, Path]:
        """Write the axes into a model folder's ``axes.json`` and the fit quality into ``calibration.json`` beside
        it (``{"rendered", "measured", "axes": {name: {"unit", "r2", "rmse", "samples", "kept"}}}``); both
        atomically. Returns their paths."""
        folder = Path(folder)
        axes = self.space.save_axes(folder / AXES_FILE)
        record = {
            "rendered": self.rendered,
            "measured": self.measured,
            "axes": {
                name: {
                    "unit": fit.unit,
                    "r2": fit.r2,
                    "rmse": fit.rmse,
                    "samples": fit.samples,
                    "kept": name in self.kept,
                }
                for name, fit in self.report.items()
            },
        }
        quality = folder / CALIBRATION_FILE
        with atomic_path(quality) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        return axes, quality


def default_samples(rank: int) -> int:
    """Samples per portrait when none are given: :data:`DEFAULT_SAMPLES`, or :data:`SAMPLES_PER_FITTED_VALUE` per
    fitted value of a ``rank``-coefficient fit when that is more (FLOAT's 20: 66; IMTalker's 32: 102)."""
    return max(DEFAULT_SAMPLES, SAMPLES_PER_FITTED_VALUE * (rank + 2))


def motion_spread(
    pipeline: Pipeline, source: EncodedPortrait, audio: str | Path | np.ndarray, seed: int
) -> tuple[torch.Tensor, float]:
    """(M,) float64 standard deviation of each basis coefficient over the model's motion sampled for ``audio``
    (1 where it does not move), and that motion's frame rate."""
    speech = pipeline.generate(source, audio, pipeline.default_emotion, seed=seed)
    coefficients = pipeline.motion_space.project(speech.sampled_track.latents[0].double().cpu())
    spread = coefficients.std(dim=0, unbiased=False)
    return torch.where(spread > MIN_SIGMA, spread, torch.ones_like(spread)), speech.fps


def calibrate(
    pipeline: Pipeline,
    portraits: Sequence[PortraitInput],
    *,
    samples: int | None = None,
    spread: float = DEFAULT_SPREAD,
    min_r2: float = DEFAULT_MIN_R2,
    audio: str | Path | np.ndarray | None = None,
    seed: int = 0,
    stack: FaceStack | None = None,
    progress: ProgressCallback | None = None,
) -> Calibration:
    """Fit the :data:`MEASURED_AXES` of ``pipeline``'s model (see the module docstring); ``samples`` per portrait
    (default :func:`default_samples` of the model's rank).

    Raises:
        ConfigError: bad settings or no portrait.
        FaceNotFoundError: the face stack read too few rendered frames to fit (the message says how many).
    """
    if not portraits:
        raise ConfigError("calibration needs at least one portrait.")
    space = pipeline.motion_space
    samples = default_samples(space.rank) if samples is None else samples
    if not (isinstance(samples, int) and samples >= 1):
        raise ConfigError(f"samples must be a positive integer (frames rendered per portrait), got {samples!r}.")
    if not (spread > 0 and np.isfinite(spread)):
        raise ConfigError(f"spread must be a positive number of standard deviations, got {spread!r}.")
    report = progress or no_progress
    needed = space.rank + 2
    if samples * len(portraits) < needed:
        raise ConfigError(
            f"fitting the model's {space.rank} motion coefficients needs at least {needed} measured frames, but "
            f"{len(portraits)} portrait(s) x {samples} samples render only {samples * len(portraits)}; give more "
            "samples per portrait",
            fix=Fix(python=f"(samples={-(-needed // len(portraits))} or more).", cli="(--samples) or portraits."),
        )
    stack = stack or FaceStack(device=pipeline.device)
    if audio is None:
        from motionkit.assets import demo_speech_path

        audio = demo_speech_path()
    generator = torch.Generator().manual_seed(seed)
    coefficients: list[torch.Tensor] = []
    values: dict[str, list[float]] = {name: [] for name in MEASURED_AXES}
    total = len(portraits) * samples
    report("measuring", 0, total)
    for index, portrait in enumerate(portraits):
        source = pipeline.encode_portrait(portrait)
        sigma, fps = motion_spread(pipeline, source, audio, seed)
        base = space.project(source.motion.double().cpu())[0]
        moved = base + spread * sigma * torch.randn(samples, space.rank, generator=generator, dtype=torch.float64)
        latents = source.motion.double().cpu() + space.compose(moved - base)
        track = MotionTrack(latents.to(torch.float32)[None].to(pipeline.device), fps=fps)
        for k, frame in enumerate(pipeline.render(source, track).frames()):
            faces = stack.faces(frame)
            if faces:
                coefficients.append(moved[k])
                for name, value in measure_face(faces[0]).items():
                    values[name].append(value)
            report("measuring", index * samples + k + 1, total)
    if len(coefficients) < needed:
        raise FaceNotFoundError(
            f"the face stack found a face in only {len(coefficients)} of the {total} rendered frames; fitting "
            f"{space.rank} coefficients needs at least {needed}. The model's renders are not faces the stack reads "
            "(faces must be reasonably real-looking and at least 20 px wide); give more samples or real portraits."
        )
    fitted = space.fit_axes(
        space.compose(torch.stack(coefficients)),
        {name: torch.tensor(found, dtype=torch.float64) for name, found in values.items()},
        units=MEASURED_AXES,
    )
    kept = tuple(name for name, fit in fitted.report.items() if fit.r2 >= min_r2)
    axes = [axis for name, axis in fitted.space.axes.items() if name not in MEASURED_AXES or name in kept]
    dropped = [name for name in MEASURED_AXES if name not in kept and name in space.axes]
    axes += [space.axis(name) for name in dropped]  # a poorly read quantity keeps the model's previous axis
    return Calibration(space.with_axes(axes), fitted.report, kept, total, len(coefficients))
