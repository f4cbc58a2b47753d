"""Window seams of a flow sampler, measured against its own output with the windows moved.

:func:`motionkit.eval.seam_discontinuity` compares the change across window boundaries with the median change
inside windows. On one sample of one clip that statistic also counts the speech-driven motion that happens to fall
on a boundary (a syllable opening the mouth there reads as a "seam"), and three seams per 8 s clip make it noisy.
:func:`window_phase_seams` separates the two by sampling the same clip twice per seed:

* **seamed**: as the sampler always does, windows start at frames ``L, 2L, ...`` (the seams ``s``);
* **shifted**: with every window starting ``shift`` frames earlier (the conditions' first ``shift`` frames repeated
  in front, the corresponding output frames dropped), so the frames ``s`` lie inside windows.

With ``d_t = ||x_t - x_{t-1}||`` and ``m`` the median of ``d`` over frames that start no window (of that run)::

    ratio         = mean_seeds  mean_s d_s(seamed)  / m(seamed)      the seam statistic, averaged over the seeds
    shifted_ratio = mean_seeds  mean_s d_s(shifted) / m(shifted)     the same frames where no window starts
    excess        = ratio / shifted_ratio                           ~1: the boundaries add no change of their own

``shifted_ratio`` is what the clip's own motion gives at those frames; ``excess`` is the part a window boundary adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from motionkit.errors import ConfigError, ShapeError, require
from motionkit.eval.metrics import frame_changes, seam_discontinuity
from motionkit.types import Conditions

if TYPE_CHECKING:
    from motionkit.flow.sampler import FlowSampler

DEFAULT_SEEDS = tuple(range(8))
"""Noise seeds of a measurement: one sample has only ``T / L - 1`` seams (3 in an 8 s clip), too few for a stable
ratio, and the ratio varies with the noise, so it is averaged over samples."""


@dataclass(frozen=True)
class WindowPhaseSeams:
    """Result of :func:`window_phase_seams` (see the module docstring for the definitions).

    Attributes:
        ratio: the seam statistic averaged over the seeds (and batch items).
        shifted_ratio: the change at the same frames with the windows moved, over that run's median change.
        excess: ``ratio / shifted_ratio``.
        ratios: ``(N,)`` the seam statistic of every draw (seed-major, then batch item).
        shifted_ratios: ``(N,)`` the shifted statistic of every draw.
        seams: ``(S,)`` frame index of every seam (the first frame of a window in the seamed run).
    """

    ratio: float
    shifted_ratio: float
    excess: float
    ratios: np.ndarray
    shifted_ratios: np.ndarray
    seams: np.ndarray


def window_phase_seams(
    sampler: FlowSampler,
    conditions: Conditions,
    source_motion: torch.Tensor,
    *,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    shift: int | None = None,
) -> WindowPhaseSeams:
    """Sample ``conditions`` with ``sampler`` (its default solver and guidance) at each seed, with the windows in
    place and moved ``shift`` frames earlier (default half a window), and compare the change at the seams.

    Args:
        sampler: the flow sampler; its ``config.window`` is ``L``.
        conditions: ``(B, T, .)`` conditions of a clip longer than one window.
        source_motion: ``(B, D)`` source motion.
        seeds: noise seeds; each gives one seamed and one shifted sample.
        shift: frames the windows move, ``0 < shift < L``.
    Returns:
        :class:`WindowPhaseSeams`.
    """
    window = sampler.config.window
    moved = window // 2 if shift is None else shift
    require(0 < moved < window, ConfigError, f"shift must be between 1 and {window - 1} frames, got {moved}.")
    require(len(seeds) > 0, ConfigError, "seeds is empty; pass at least one noise seed.")
    require(
        conditions.frames > window,
        ShapeError,
        f"conditions have {conditions.frames} frames, which hold no window seam; pass more than {window} frames.",
    )
    shifted_conditions = Conditions.concat([conditions.slice(0, moved), conditions])
    ratios, shifted_ratios = [], []
    seams = np.arange(window, conditions.frames, window)
    for seed in seeds:
        seamed = sampler.sample(conditions, source_motion, seed=seed).latents
        shifted = sampler.sample(shifted_conditions, source_motion, seed=seed).latents[:, moved:]
        for item in range(seamed.shape[0]):
            ratios.append(seam_discontinuity(_numpy(seamed[item]), window=window).ratio)
            own = seam_discontinuity(_numpy(shifted[item]), window=window, first_seam=window - moved)
            at_seams = float(np.nanmean(frame_changes(_numpy(shifted[item]))[seams]))
            shifted_ratios.append(at_seams / own.inside_median if own.inside_median > 0 else float("nan"))
    ratio, shifted_ratio = float(np.mean(ratios)), float(np.mean(shifted_ratios))
    return WindowPhaseSeams(
        ratio=ratio,
        shifted_ratio=shifted_ratio,
        excess=ratio / shifted_ratio if shifted_ratio > 0 else float("nan"),
        ratios=np.asarray(ratios),
        shifted_ratios=np.asarray(shifted_ratios),
        seams=seams,
    )


def _numpy(latents: torch.Tensor) -> np.ndarray:
    return latents.detach().float().cpu().numpy()
