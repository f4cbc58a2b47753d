"""IMTalker's generator against the official code (shared/imtalker-parity): audio features, the vector field with
and without guidance, and both sampled motion sequences, within the manifest's tolerances.

Everything goes through the public API: the components are built from the fixture's generator checkpoint by
``motion_from_official`` / ``conditioner_from_official``, the audio is encoded by the Conditioner, the vector field
is called with :class:`VectorFieldInputs` and guided by :class:`AudioGuidance`, and the motion is sampled by
``IMTalkerMotion.sample`` from the fixture's ``input_noise`` (the official sampler's ``torch.randn`` per window).
"""

from __future__ import annotations

import pytest
import torch
from imtalker_helpers import neutral

from motionkit.conditioner import Conditioner
from motionkit.config import GuidanceConfig
from motionkit.families.imtalker.controls import align_control
from motionkit.families.imtalker.generator import IMTalkerMotion
from motionkit.families.imtalker.guidance import AudioGuidance
from motionkit.families.imtalker.presets import MOTION_DIM
from motionkit.flow import VectorFieldInputs
from motionkit.testing.imtalker_parity import ImtalkerFixture, imtalker_fixture
from motionkit.types import Conditions

pytestmark = pytest.mark.parity

CONTROLS = ("pose", "cam", "gaze")


@pytest.fixture(scope="module")
def fixture() -> ImtalkerFixture:
    return imtalker_fixture()


def test_audio_features(fixture: ImtalkerFixture, conditioner: Conditioner) -> None:
    waveform = fixture.tensor("input_audio")  # already normalised as the feature extractor does
    with torch.no_grad():
        hidden = conditioner.audio_encoder.hidden_features(waveform)
        projected = conditioner.encode_audio(waveform)
    assert hidden.shape[1] == fixture.settings["T"]
    fixture.assert_close("audio_w2v_last", hidden)
    fixture.assert_close("audio_proj", projected)


def test_control_projections(fixture: ImtalkerFixture, motion: IMTalkerMotion) -> None:
    for name in CONTROLS:
        raw = fixture.tensor(f"fmt2_in_{name}_raw")[None]
        frames = raw.shape[1]
        conditions = Conditions(torch.zeros(1, frames, MOTION_DIM), neutral(frames)).with_controls(**{name: raw})
        with torch.no_grad():
            fixture.assert_close(f"fmt2_in_{name}_proj", motion.project_controls(conditions))


@pytest.mark.parametrize("test", ["fmt1", "fmt2"])
def test_vector_field(fixture: ImtalkerFixture, motion: IMTalkerMotion, test: str) -> None:
    audio = fixture.tensor("audio_proj")
    source = fixture.tensor("ren_src_motion")
    cfg = motion.config
    if test == "fmt1":  # first window: zero context, no controls
        wa, prev_wa = audio[:, : cfg.window], torch.zeros(1, cfg.context, MOTION_DIM)
        prev_x, controls = torch.zeros(1, cfg.context, MOTION_DIM), torch.zeros(1, cfg.sequence_length, MOTION_DIM)
    else:  # a later window: context motion and audio, all three controls over the 60 positions
        wa, prev_wa = audio[:, cfg.context : cfg.sequence_length], audio[:, : cfg.context]
        prev_x = fixture.tensor("fmt2_in_prev_x")
        raw = {name: fixture.tensor(f"fmt2_in_{name}_raw")[None] for name in CONTROLS}
        conditions = Conditions(torch.zeros(1, cfg.sequence_length, MOTION_DIM), neutral(cfg.sequence_length))
        with torch.no_grad():
            controls = motion.project_controls(conditions.with_controls(**raw))
    inputs = VectorFieldInputs(wa=wa, wr=source, we=controls, prev_x=prev_x, prev_wa=prev_wa)
    x = fixture.tensor(f"{test}_in_x")
    t = torch.tensor([fixture.settings[f"{test}_t"]])
    guided = AudioGuidance(motion, GuidanceConfig(audio_scale=fixture.settings["a_cfg"]))
    with torch.no_grad():
        fixture.assert_close(f"{test}_out_raw", motion(x, t, inputs))
        fixture.assert_close(f"{test}_out_cfg", guided(x, t, inputs))


def test_guidance_scale_one_is_one_conditional_pass(fixture: ImtalkerFixture, motion: IMTalkerMotion) -> None:
    guided = AudioGuidance(motion, GuidanceConfig(audio_scale=1.0))
    assert guided.branches == ("all_cond",)
    audio, cfg = fixture.tensor("audio_proj"), motion.config
    zeros = torch.zeros(1, cfg.context, MOTION_DIM)
    inputs = VectorFieldInputs(
        audio[:, : cfg.window], fixture.tensor("ren_src_motion"), torch.zeros(1, 60, MOTION_DIM), zeros, zeros
    )
    with torch.no_grad():
        fixture.assert_close("fmt1_out_raw", guided(fixture.tensor("fmt1_in_x"), torch.tensor([0.5]), inputs))


@pytest.mark.parametrize("run", ["sample_motion", "sample_pose_motion"])
def test_sampled_motion(fixture: ImtalkerFixture, motion: IMTalkerMotion, run: str) -> None:
    settings = fixture.settings
    frames = settings["T"]
    conditions = Conditions(fixture.tensor("audio_proj"), neutral(frames))
    scale = settings["a_cfg"]
    if run == "sample_pose_motion":  # pose is longer than the clip (cropped), gaze shorter (zero-padded raw)
        conditions = conditions.with_controls(
            **{name: align_control(fixture.tensor(f"input_{name}"), frames, name) for name in CONTROLS}
        )
        scale = settings["a_cfg_alt"]
    track = motion.sample(
        conditions,
        fixture.tensor("ren_src_motion"),
        noise=fixture.tensor("input_noise"),
        nfe=settings["nfe"],
        guidance=GuidanceConfig(audio_scale=scale),
    )
    assert motion.last_stats is not None
    assert motion.last_stats.model_calls == 2 * (settings["nfe"] - 1)
    fixture.assert_close(run, track.latents)
