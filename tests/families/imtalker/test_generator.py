"""IMTalker's generator at a tiny size: controls as Conditions tracks, streaming equal to whole-clip sampling, the
official window rules (zero context, repeated last frame), and clear errors for what IMTalker has no input for."""

from __future__ import annotations

import pytest
import torch
from imtalker_helpers import neutral

from motionkit.config import GuidanceConfig
from motionkit.errors import ConfigError, ShapeError
from motionkit.families.imtalker.controls import align_control, with_controls
from motionkit.families.imtalker.generator import IMTalkerMotion
from motionkit.families.imtalker.guidance import AudioGuidance
from motionkit.families.imtalker.presets import MOTION_DIM, tiny_motion
from motionkit.flow import VectorFieldInputs
from motionkit.types import Conditions


@pytest.fixture(scope="module")
def motion() -> IMTalkerMotion:
    """A tiny generator whose weights are all non-zero (a fresh one is adaLN-Zero and outputs zeros)."""
    model = IMTalkerMotion(tiny_motion())
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
    return model.eval()


def clip(frames: int, seed: int = 0) -> Conditions:
    generator = torch.Generator().manual_seed(seed)
    return Conditions(torch.randn(1, frames, MOTION_DIM, generator=generator), neutral(frames))


def test_align_control_crops_pads_with_raw_zeros_and_repeats_constants() -> None:
    track = torch.arange(12.0).view(4, 3)
    assert torch.equal(align_control(track, 2), track[None, :2])
    padded = align_control(track, 6)
    assert torch.equal(padded[0, :4], track)
    assert torch.equal(padded[0, 4:], torch.zeros(2, 3))
    assert torch.equal(align_control([0.1, -0.2], 3), torch.tensor([[0.1, -0.2]] * 3)[None])
    with pytest.raises(ShapeError, match="pose"):
        align_control(torch.zeros(2, 2, 2, 2), 3, "pose")


def test_controls_follow_slicing_moving_and_concatenation() -> None:
    conditions = with_controls(clip(7), pose=torch.randn(9, 3), gaze=(0.0, 0.1))
    assert set(conditions.controls()) == {"pose", "gaze"}
    parts = [conditions.slice(0, 3), conditions.slice(3)]
    joined = Conditions.concat(parts).to(dtype=torch.float64)
    assert joined.pose is not None
    assert joined.pose.dtype == torch.float64
    assert torch.equal(joined.pose.float(), conditions.pose)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="same controls"):
        Conditions.concat([conditions.slice(0, 3), clip(4)])
    with pytest.raises(ShapeError, match="one value per frame"):
        Conditions(torch.zeros(1, 4, MOTION_DIM), neutral(4), pose=torch.zeros(1, 5, 3))
    with pytest.raises(ShapeError, match="unknown control"):
        conditions.with_controls(emotion=torch.zeros(1, 7, 3))


def test_a_missing_control_is_zero_after_its_projection(motion: IMTalkerMotion) -> None:
    conditions = clip(5)
    with torch.no_grad():
        assert torch.equal(motion.project_controls(conditions), torch.zeros(1, 5, MOTION_DIM))
        zero_pose = motion.project_controls(with_controls(conditions, pose=(0.0, 0.0, 0.0)))
    assert zero_pose.abs().max() > 0.1  # raw zeros projected: the bias through LayerNorm and SiLU


def test_streaming_in_any_chunks_equals_whole_clip_sampling(motion: IMTalkerMotion) -> None:
    conditions = with_controls(clip(27), pose=torch.randn(27, 3), cam=torch.randn(27, 3))
    source = torch.randn(1, MOTION_DIM)
    whole = motion.sample(conditions, source, seed=5)
    chunks = [conditions.slice(a, b) for a, b in ((0, 4), (4, 17), (17, 27))]
    streamed = torch.cat([part.latents for part in motion.stream(chunks, source, seed=5)], dim=1)
    assert torch.equal(streamed, whole.latents)
    assert motion.last_stats is not None
    assert motion.last_stats.windows == 3


def test_the_first_window_sees_zero_context_and_the_last_is_padded(motion: IMTalkerMotion) -> None:
    """Window 0's velocity equals the vector field with zero context motion, audio and controls; a clip shorter
    than a window equals the same clip padded by repeating its last frame."""
    cfg = motion.config
    conditions = with_controls(clip(cfg.window), gaze=torch.randn(cfg.window, 2))
    source = torch.randn(1, MOTION_DIM)
    noise = torch.randn(1, 1, cfg.window, MOTION_DIM)
    grid = torch.tensor([0.0, 1.0])  # one Euler step: x1 = x0 + v(x0, 0)
    track = motion.sample(conditions, source, noise=noise, time_grid=grid, guidance=GuidanceConfig(audio_scale=1.0))
    zeros = torch.zeros(1, cfg.context, MOTION_DIM)
    with torch.no_grad():
        controls = torch.cat([zeros, motion.project_controls(conditions)], dim=1)
        inputs = VectorFieldInputs(wa=conditions.audio, wr=source, we=controls, prev_x=zeros, prev_wa=zeros)
        expected = noise[0] + motion(noise[0], torch.zeros(1), inputs)[:, cfg.context :]
    torch.testing.assert_close(track.latents, expected, rtol=0, atol=1e-6)
    short = conditions.slice(0, 6)
    padded = Conditions.concat([short, *[short.slice(5, 6)] * (cfg.window - 6)])
    assert torch.equal(
        motion.sample(short, source, seed=1).latents, motion.sample(padded, source, seed=1).latents[:, :6]
    )


def test_guidance_nulls_only_the_current_audio(motion: IMTalkerMotion) -> None:
    cfg = motion.config
    generator = torch.Generator().manual_seed(9)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    inputs = VectorFieldInputs(
        wa=rand(1, cfg.window, MOTION_DIM),
        wr=rand(1, MOTION_DIM),
        we=rand(1, cfg.sequence_length, MOTION_DIM),
        prev_x=rand(1, cfg.context, MOTION_DIM),
        prev_wa=rand(1, cfg.context, MOTION_DIM),
    )
    x, t = rand(1, cfg.window, MOTION_DIM), torch.tensor([0.3])
    with torch.no_grad():
        cond = motion(x, t, inputs)
        uncond = motion(x, t, inputs.replace(wa=torch.zeros_like(inputs.wa)))
        guided = AudioGuidance(motion, GuidanceConfig(audio_scale=2.5))(x, t, inputs)
    torch.testing.assert_close(guided, uncond + 2.5 * (cond - uncond), rtol=0, atol=1e-5)


def test_what_imtalker_has_no_input_for_is_refused(motion: IMTalkerMotion) -> None:
    conditions = clip(6)
    source = torch.zeros(1, MOTION_DIM)
    happy = Conditions(conditions.audio, torch.roll(conditions.emotion, 1, dims=-1))
    with pytest.raises(ConfigError, match="IMTalker has no emotion input"):
        motion.sample(happy, source, seed=0)
    with pytest.raises(ConfigError, match="emotion_scale"):
        motion.sample(conditions, source, seed=0, guidance=GuidanceConfig(audio_scale=2.0, emotion_scale=3.0))
    with pytest.raises(ShapeError, match="IMTalker's gaze has 2"):
        motion.sample(conditions.with_controls(gaze=torch.zeros(1, 6, 3)), source, seed=0)


@pytest.mark.parametrize("controlled", [False, True])
def test_live_whole_windows_equal_offline_sampling(motion: IMTalkerMotion, controlled: bool) -> None:
    """IMTalker's generator under motionkit's live sampling: chunks of a whole window with no lookahead are the
    offline windows (zero first context, the last window padded), with or without pose/cam tracks."""
    frames = 2 * motion.config.window + 5
    conditions = clip(frames, seed=4)
    if controlled:
        conditions = with_controls(conditions, pose=torch.randn(frames, 3), cam=torch.randn(frames, 3))
    source = torch.randn(1, MOTION_DIM)
    whole = motion.sample(conditions, source, seed=2)
    session = motion.live(source, chunk_frames=motion.config.window, lookahead_frames=0, seed=2)
    pushed = [session.push(conditions.slice(a, min(a + 7, frames))) for a in range(0, frames, 7)]
    chunks = [chunk for part in pushed for chunk in part] + session.finish()
    torch.testing.assert_close(torch.cat(chunks, dim=1), whole.latents, rtol=0, atol=1e-6)


def test_live_chunks_follow_the_audio_with_a_lookahead(motion: IMTalkerMotion) -> None:
    """Small chunks with a lookahead: every frame comes out once, in order, deterministic for a seed, and a frame
    is emitted only once the lookahead's conditions have arrived."""
    frames = 23
    conditions = with_controls(clip(frames, seed=6), gaze=torch.randn(frames, 2))
    source = torch.randn(1, MOTION_DIM)

    def run() -> tuple[list[int], torch.Tensor]:
        session = motion.live(source, chunk_frames=3, lookahead_frames=2, seed=1)
        emitted, out = [], []
        for t in range(frames):
            for chunk in session.push(conditions.slice(t, t + 1)):
                out.append(chunk)
            emitted.append(sum(chunk.shape[1] for chunk in out))
        out += session.finish()
        return emitted, torch.cat(out, dim=1)

    emitted, first = run()
    assert first.shape == (1, frames, MOTION_DIM)
    session = motion.live(source, chunk_frames=3, lookahead_frames=2)
    session.push(conditions.slice(0, 2))
    with pytest.raises(ConfigError, match="cannot change mid-session"):  # the emotion slot holds the controls
        session.replace_pending_emotion(torch.zeros(1, 2, motion.config.emotion_dim))
    assert all(done <= t + 1 - 2 for t, done in enumerate(emitted) if done)  # a chunk waits for its lookahead
    assert torch.equal(run()[1], first)
