"""window_phase_seams: the seam statistic averaged over seeds, and against the same frames with the windows moved."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest
import torch

from motionkit.config import FlowConfig
from motionkit.errors import ConfigError, ShapeError
from motionkit.eval import window_phase_seams
from motionkit.families import preset
from motionkit.flow import FlowSampler
from motionkit.types import Conditions, MotionTrack

WINDOW = 20
FRAMES = 100


class StepSampler:
    """A stand-in sampler whose output is the conditions' first ``dim`` audio channels plus ``jump`` times the
    index of the window a frame falls in (a step where each of its windows starts) plus seeded jitter."""

    def __init__(self, jump: float, dim: int = 4) -> None:
        self.config = FlowConfig(window=WINDOW)
        self.jump, self.dim = jump, dim

    def sample(self, conditions: Conditions, source_motion: torch.Tensor, *, seed: int) -> MotionTrack:
        frames = conditions.frames
        window_index = torch.arange(frames, dtype=torch.float32) // WINDOW
        jitter = 1e-3 * torch.randn(1, frames, self.dim, generator=torch.Generator().manual_seed(seed))
        latents = conditions.audio[:, :, : self.dim] + self.jump * window_index[None, :, None] + jitter
        return MotionTrack(latents.expand(source_motion.shape[0], -1, -1).contiguous())


def _conditions(content: np.ndarray) -> Conditions:
    audio = torch.as_tensor(content, dtype=torch.float32)[None]
    return Conditions(audio, torch.full((1, audio.shape[1], 7), 1 / 7))


def _smooth(frames: int = FRAMES, dim: int = 4) -> np.ndarray:
    t = np.arange(frames)[:, None]
    return np.sin(2 * np.pi * t / 17 + np.arange(dim)) + 0.5 * np.cos(2 * np.pi * t / 7.3 + 2 * np.arange(dim))


def _measure(jump: float, content: np.ndarray, seeds: tuple[int, ...] = (0, 1, 2)) -> tuple[float, float, float]:
    sampler = cast(FlowSampler, StepSampler(jump))
    result = window_phase_seams(sampler, _conditions(content), torch.zeros(1, 4), seeds=seeds)
    assert result.ratios.shape == result.shifted_ratios.shape == (len(seeds),)
    np.testing.assert_array_equal(result.seams, np.arange(WINDOW, FRAMES, WINDOW))
    assert result.ratio == pytest.approx(result.ratios.mean())
    assert result.excess == pytest.approx(result.ratio / result.shifted_ratio)
    return result.ratio, result.shifted_ratio, result.excess


def test_no_seam_reads_about_one() -> None:
    ratio, shifted, excess = _measure(0.0, _smooth())
    assert excess == pytest.approx(1.0, abs=0.1)
    assert shifted == pytest.approx(ratio, rel=0.1)


def test_a_step_at_every_window_start_is_excess() -> None:
    ratio, shifted, excess = _measure(2.0, _smooth())
    assert ratio > 3
    assert shifted < 1.5  # the same frames, mid-window in the shifted run, carry only the smooth content
    assert excess > 3


def test_real_motion_on_the_seams_is_not_excess() -> None:
    """Motion that happens at a window boundary raises the plain seam statistic but not the excess."""
    content = _smooth()
    for seam in range(WINDOW, FRAMES, WINDOW):
        content[seam:] += 2.0  # the content itself jumps where the windows meet
    ratio, shifted, excess = _measure(0.0, content)
    assert ratio > 3
    assert shifted > 3
    assert excess == pytest.approx(1.0, abs=0.1)


def test_bad_arguments_are_named() -> None:
    sampler = cast(FlowSampler, StepSampler(0.0))
    conditions = _conditions(_smooth())
    with pytest.raises(ConfigError, match="shift must be between 1 and 19"):
        window_phase_seams(sampler, conditions, torch.zeros(1, 4), shift=WINDOW)
    with pytest.raises(ConfigError, match="seeds is empty"):
        window_phase_seams(sampler, conditions, torch.zeros(1, 4), seeds=())
    with pytest.raises(ShapeError, match="hold no window seam"):
        window_phase_seams(sampler, conditions.slice(0, WINDOW), torch.zeros(1, 4))


def test_flow_sampler_draws_are_deterministic_per_seed() -> None:
    config = preset("tiny").flow
    torch.manual_seed(0)
    sampler = FlowSampler(config).eval()
    with torch.no_grad():
        for param in sampler.parameters():
            param.normal_(0.0, 0.05)
    generator = torch.Generator().manual_seed(1)
    frames = 2 * config.window + 3
    conditions = Conditions(
        torch.randn(2, frames, config.audio_dim, generator=generator),
        torch.softmax(torch.randn(2, frames, config.emotion_dim, generator=generator), dim=-1),
    )
    source = torch.randn(2, config.motion_dim, generator=generator)
    first = window_phase_seams(sampler, conditions, source, seeds=(3, 4))
    again = window_phase_seams(sampler, conditions, source, seeds=(3, 4))
    assert first.ratios.shape == (4,)  # two seeds times two batch items
    assert np.isfinite(first.ratios).all()
    assert np.isfinite(first.shifted_ratios).all()
    np.testing.assert_array_equal(first.ratios, again.ratios)
    np.testing.assert_array_equal(first.shifted_ratios, again.shifted_ratios)
