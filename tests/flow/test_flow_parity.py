"""Parity with the official FLOAT code (``../shared/float-parity``): FMT outputs and full-clip sampled motion."""

from __future__ import annotations

import pytest
import torch

from motionkit.config import FlowConfig, GuidanceConfig
from motionkit.families.float.layout import sampler_from_official
from motionkit.flow import ClassifierFreeGuidance, FlowSampler, VectorFieldInputs
from motionkit.testing.parity import ParityFixture, parity_fixture
from motionkit.types import EMOTION_LABELS, Conditions

pytestmark = pytest.mark.parity

FMT_INPUTS = ("x", "t", "wa", "wr", "we", "prev_x", "prev_wa")


@pytest.fixture(scope="module")
def fixture() -> ParityFixture:
    return parity_fixture()


@pytest.fixture(scope="module")
def official(fixture: ParityFixture) -> FlowSampler:
    # The official run used 2 threads; matching it keeps the low-order bits comparable (not required by tolerance).
    return sampler_from_official(fixture.float_state_dict(), FlowConfig()).eval()


def test_official_key_layout(fixture):
    """Every fmt.* parameter of the official checkpoint, with its shape, and nothing else."""
    expected = {k[len("fmt.") :]: shape for k, shape in fixture.shapes("fmt.").items()}
    ours = {k: tuple(v.shape) for k, v in FlowSampler().state_dict().items()}
    assert ours == expected


@pytest.mark.parametrize("case", ["fmt1", "fmt2"])
def test_transformer_outputs(fixture, official, case):
    inputs = {name: fixture.tensor(f"{case}_in_{name}") for name in FMT_INPUTS}
    x, t = inputs.pop("x"), inputs.pop("t")
    conditions = VectorFieldInputs(**inputs)
    with torch.no_grad():
        raw = official(x, t, conditions)
        guided = ClassifierFreeGuidance(official, GuidanceConfig(audio_scale=2.0, emotion_scale=1.0))(x, t, conditions)
    for name, value in ((f"{case}_out_raw", raw), (f"{case}_out_cfg", guided)):
        result = fixture.assert_close(name, value)
        print(result.detail)


@pytest.mark.parametrize(
    ("name", "audio", "emotion"),
    [
        ("sample_r_d", "audio_wa", "audio_emo_probs"),
        ("sample_alt_r_d", "audio_wa", "happy"),
        ("trunc_sample_r_d", "trunc_audio_wa", "trunc_audio_emo_probs"),
    ],
)
def test_sampled_motion(fixture, official, name, audio, emotion):
    wa = fixture.tensor(audio)
    frames = wa.shape[1]
    if emotion in EMOTION_LABELS:
        we = torch.nn.functional.one_hot(torch.tensor([EMOTION_LABELS.index(emotion)]), len(EMOTION_LABELS)).float()
    else:
        we = fixture.tensor(emotion)
    conditions = Conditions(wa, we[:, None, :].expand(1, frames, -1))
    track = official.sample(
        conditions,
        fixture.tensor("enc_r_s"),
        nfe=10,
        solver="euler",
        guidance=GuidanceConfig(audio_scale=2.0, emotion_scale=1.0),
        noise=fixture.tensor("input_noise"),
    )
    result = fixture.assert_close(name, track.latents)
    print(result.detail)
    stats = official.last_stats
    assert (stats.windows, stats.model_calls, stats.rows_per_call) == (2, 18, 3)
