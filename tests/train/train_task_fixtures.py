"""Small synthetic-world data for the auto-encoder and flow task tests (tests only, never in the package)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

from motionkit.config.model import ModelConfig
from motionkit.data.cache import FeatureCacheWriter
from motionkit.data.synthetic import close_up
from motionkit.families import preset
from motionkit.io import normalize_waveform
from motionkit.train.demo.data import DemoIdentity, make_identity

SIZE = 64
CLIP_SECONDS = 1.6  # 40 frames: windows of the tiny model (L = 10, L' = 4) fit at many positions


def tiny() -> ModelConfig:
    return preset("tiny")


@cache
def identities(count: int = 3) -> tuple[DemoIdentity, ...]:
    """``count`` synthetic faces at 64 px, each with a 1.6 s talking clip and 4 random poses."""
    return tuple(make_identity(close_up(), SIZE, 1000 + i, CLIP_SECONDS, 4) for i in range(count))


def smooth_motion(frames: int, dim: int, seed: int) -> torch.Tensor:
    """A smooth random trajectory ``(frames, dim)`` (a stand-in for encoded motion latents)."""
    generator = torch.Generator().manual_seed(seed)
    steps = 0.1 * torch.randn(frames, dim, generator=generator)
    return steps.cumsum(0)


def write_waveform_cache(folder: Path, model: ModelConfig, *, clips: int = 3, frames: int = 40) -> Path:
    """A flow feature cache whose audio is the normalised waveform framed ``(T, samples_per_frame)``."""
    spf = model.conditioner.samples_per_frame
    with FeatureCacheWriter(folder) as writer:
        for clip, identity in enumerate(identities(clips)):
            audio = normalize_waveform(identity.audio[: frames * spf], model.conditioner.norm_eps)
            motion = smooth_motion(frames, model.flow.motion_dim, clip)
            writer.add(
                f"clip{clip}",
                {"motion": motion, "audio": torch.from_numpy(audio).reshape(frames, spf), "source": motion[0].clone()},
            )
    return folder
