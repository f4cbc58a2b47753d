"""IMTalker's generator against the official code (shared/imtalker-parity): audio features, the vector field with
and without guidance, and both sampled motion sequences, within the manifest's tolerances.

Everything goes through the public API: the components are built from the fixture's generator checkpoint by
``motion_from_official`` / ``conditioner_from_official``, the audio is encoded by the Conditioner, the vector field
is called with :class:`VectorFieldInputs` and guided by :class:`AudioGuidance`, and the motion is sampled by
``IMTalkerMotion.sample`` from the fixture's ``input_noise`` (the official sampler's ``torch.randn`` per window).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from motionkit.conditioner import Conditioner, build_wav2vec2, save_wav2vec2
from motionkit.config import GuidanceConfig
from motionkit.families.imtalker.controls import align_control
from motionkit.families.imtalker.generator import IMTalkerMotion
from motionkit.families.imtalker.generator_layout import (
    WAV2VEC2_PREFIX,
    conditioner_from_official,
    motion_from_official,
)
from motionkit.families.imtalker.guidance import AudioGuidance
from motionkit.families.imtalker.presets import MOTION_DIM, imtalker_motion
from motionkit.flow import VectorFieldInputs
from motionkit.testing.imtalker_parity import ImtalkerFixture, imtalker_fixture
from motionkit.testing.parity import parity_fixture
from motionkit.types import EMOTION_LABELS, Conditions

pytestmark = pytest.mark.parity

CONTROLS = ("pose", "cam", "gaze")


@pytest.fixture(scope="module")
def fixture() -> ImtalkerFixture:
    return imtalker_fixture()


@pytest.fixture(scope="module")
def checkpoint(fixture: ImtalkerFixture) -> dict[str, torch.Tensor]:
    return fixture.generator_checkpoint()


@pytest.fixture(scope="module")
def motion(checkpoint: dict[str, torch.Tensor]) -> IMTalkerMotion:
    return motion_from_official(checkpoint, imtalker_motion()).eval()


@pytest.fixture(scope="module")
def wav2vec2_dir(tmp_path_factory: pytest.TempPathFactory, checkpoint: dict[str, torch.Tensor]) -> Path:
    """A wav2vec2-base folder as the harness built it (FLOAT fixture's config); its weights are the checkpoint's."""
    entries = {k[len(WAV2VEC2_PREFIX) :]: v for k, v in checkpoint.items() if k.startswith(WAV2VEC2_PREFIX)}
    folder = tmp_path_factory.mktemp("wav2vec2-base")
    save_wav2vec2(build_wav2vec2(parity_fixture().audio_config(), entries), folder)
    return folder


@pytest.fixture(scope="module")
def conditioner(checkpoint: dict[str, torch.Tensor], wav2vec2_dir: Path) -> Conditioner:
    return conditioner_from_official(checkpoint, wav2vec2_dir, MOTION_DIM).eval()


def neutral(frames: int) -> torch.Tensor:
    emotion = torch.zeros(1, frames, len(EMOTION_LABELS))
    emotion[..., EMOTION_LABELS.index("neutral")] = 1
    return emotion


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
