"""The photo-motion recipe's data: synthetic speech with its true parameters, normalised, in a feature cache.

Each training clip is ``SyntheticWorld.clip(seed, seconds, render=False)`` for the seeds
:func:`motionkit.train.demo.data.training_seeds` (never a held-out or the demo face's seed): its own face, voice,
phrasing and motion. Besides the long clips the recipe draws short *start clips*, one flow window long: the window
sampler draws every window position of every clip alike, so each of them is one more window that starts at its
clip's start, with a context of zero padding, which is what the first window of every generated track sees.
The cache holds per clip ``motion`` ``(T, P)``: the parameters normalised with the training
set's per-axis mean and standard deviation, ``audio`` ``(T, samples_per_frame)``: the normalised waveform framed
(the mel encoder is trained jointly, :class:`motionkit.train.tasks.FlowTask`), and ``source`` ``(P,)``: the neutral
portrait's parameters, normalised (the motion is generated for a still photo whose own pose is the neutral one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from motionkit.data.cache import FeatureCache, FeatureCacheWriter
from motionkit.data.synthetic import SyntheticClip, SyntheticWorld
from motionkit.io import normalize_waveform
from motionkit.train.demo.data import training_seeds


@dataclass(frozen=True)
class Normalisation:
    """Per-axis ``mean`` and ``scale`` ``(P,)`` float32 of the flow model's inputs: ``z = (x - mean) / scale``."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, params: Sequence[np.ndarray], floor: float) -> Normalisation:
        """The mean and standard deviation (at least ``floor``) over every frame of ``params`` (each ``(T, P)``)."""
        frames = np.concatenate(params).astype(np.float64)
        return cls(frames.mean(axis=0).astype(np.float32), np.maximum(frames.std(axis=0), floor).astype(np.float32))

    def apply(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.scale).astype(np.float32)


def training_clips(
    world: SyntheticWorld, seed: int, count: int, seconds: float, *, start_count: int = 0, start_seconds: float = 0.0
) -> list[SyntheticClip]:
    """The unrendered training clips of the recipe with ``seed``: ``count`` clips of ``seconds``, then
    ``start_count`` clips of ``start_seconds`` (the next identities of :func:`training_seeds`, so no face or voice
    is in both)."""
    seeds = training_seeds(seed, count + start_count)
    return [world.clip(s, seconds, render=False) for s in seeds[:count]] + [
        world.clip(s, start_seconds, render=False) for s in seeds[count:]
    ]


def write_cache(
    folder: Path,
    clips: Sequence[SyntheticClip],
    normalisation: Normalisation,
    neutral: np.ndarray,
    *,
    norm_eps: float,
) -> FeatureCache:
    """Fill the feature cache ``folder`` with ``clips`` (see the module docstring); clips already in it are kept."""
    source = normalisation.apply(neutral)
    with FeatureCacheWriter(folder, fps=clips[0].fps) as writer:
        for clip in clips:
            name = f"clip-{clip.seed}"
            if name in writer:
                continue
            writer.add(
                name,
                {
                    "motion": torch.from_numpy(normalisation.apply(clip.params.as_array())),
                    "audio": torch.from_numpy(normalize_waveform(clip.audio, norm_eps)).reshape(clip.num_frames, -1),
                    "source": torch.from_numpy(source.copy()),  # a tensor per clip: the shards store each one
                },
            )
    return FeatureCache(folder)
