"""Classifier-free guidance: FLOAT's formula and batch layout, branch pruning, single pass at scales (1, 1)."""

from __future__ import annotations

import doctest

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.config import GuidanceConfig
from motionkit.flow import ClassifierFreeGuidance, VectorFieldInputs, guidance
from motionkit.testing.tolerances import assert_rounding_close


class Recorder:
    """A vector field that records its inputs and returns a deterministic function of all of them."""

    def __init__(self) -> None:
        self.calls: list[dict[str, torch.Tensor]] = []

    def __call__(self, x, t, inputs):
        conditions = dict(zip(VectorFieldInputs.names(), inputs.tensors()))
        self.calls.append(dict(x=x, t=torch.as_tensor(t), **conditions))
        out = torch.cat([inputs.prev_x, x + inputs.wa.sum(-1, keepdim=True)], dim=1)
        return (
            out + 3 * inputs.we.sum(-1, keepdim=True) + inputs.wr[:, None] + inputs.prev_wa.sum((1, 2))[:, None, None]
        )


def _conditions(inputs: dict[str, torch.Tensor], **changes: torch.Tensor) -> VectorFieldInputs:
    return VectorFieldInputs(**{k: v for k, v in inputs.items() if k != "x"}, **changes)


def _inputs(batch: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "x": torch.randn(batch, 5, 4, generator=g),
        "wa": torch.randn(batch, 5, 3, generator=g),
        "wr": torch.randn(batch, 4, generator=g),
        "we": torch.rand(batch, 1, 7, generator=g),
        "prev_x": torch.randn(batch, 2, 4, generator=g),
        "prev_wa": torch.randn(batch, 2, 3, generator=g),
    }


def _separate(model, inputs, t=0.5):
    """v_u, v_ae, v_a from three unbatched calls with FLOAT's nulling."""
    conditions = _conditions(inputs)
    zero_wa, zero_we = torch.zeros_like(inputs["wa"]), torch.zeros_like(inputs["we"])
    v_u = model(inputs["x"], t, conditions.replace(wa=zero_wa, we=zero_we))
    v_ae = model(inputs["x"], t, conditions)
    v_a = model(inputs["x"], t, conditions.replace(we=zero_we))
    return v_u, v_ae, v_a


def _guided(model, scales, inputs, t=0.5):
    return ClassifierFreeGuidance(model, GuidanceConfig(audio_scale=scales[0], emotion_scale=scales[1]))(
        inputs["x"], t, _conditions(inputs)
    )


def test_batch_layout_matches_float():
    """One batched call in order [uncond, all-cond, audio-only]; wr and the context are never nulled."""
    recorder = Recorder()
    inputs = _inputs()
    _guided(recorder, (2.0, 1.0), inputs)
    assert len(recorder.calls) == 1
    call = recorder.calls[0]
    B = 2
    assert torch.equal(call["x"], inputs["x"].repeat(3, 1, 1))
    assert torch.equal(call["wa"], torch.cat([torch.zeros_like(inputs["wa"]), inputs["wa"], inputs["wa"]]))
    assert torch.equal(
        call["we"], torch.cat([torch.zeros_like(inputs["we"]), inputs["we"], torch.zeros_like(inputs["we"])])
    )
    for name in ("wr", "prev_x", "prev_wa"):
        for branch in range(3):
            assert torch.equal(call[name][branch * B : (branch + 1) * B], inputs[name]), name


def test_float_formula_on_the_transformer(tiny_sampler, tiny_config, field_depth):
    g = torch.Generator().manual_seed(3)
    L, Lc, D = tiny_config.window, tiny_config.context, tiny_config.motion_dim
    inputs = {
        "x": torch.randn(2, L, D, generator=g),
        "wa": torch.randn(2, L, tiny_config.audio_dim, generator=g),
        "wr": torch.randn(2, D, generator=g),
        "we": torch.softmax(torch.randn(2, 1, 7, generator=g), -1),
        "prev_x": torch.randn(2, Lc, D, generator=g),
        "prev_wa": torch.randn(2, Lc, tiny_config.audio_dim, generator=g),
    }
    with torch.no_grad():
        v_u, v_ae, v_a = _separate(tiny_sampler, inputs, t=0.7)
        guided = _guided(tiny_sampler, (2.0, 1.0), inputs, t=0.7)
    # One batched call against three: other matrix-product blockings, then the formula (4 roundings), whose
    # coefficients (1, 2, 2, 1, 1) carry the branches' errors to the output.
    magnitude = 7 * max(float(v.abs().max()) for v in (v_u, v_ae, v_a))
    expected = v_u + 2.0 * (v_a - v_u) + 1.0 * (v_ae - v_a)
    assert_rounding_close(guided, expected, depth=field_depth + 4, magnitude=magnitude)


def test_single_pass_when_both_scales_are_one():
    recorder = Recorder()
    inputs = _inputs()
    out = _guided(recorder, (1.0, 1.0), inputs)
    assert len(recorder.calls) == 1
    assert recorder.calls[0]["x"].shape[0] == 2
    assert torch.equal(out, Recorder()(inputs["x"], 0.5, _conditions(inputs)))


@given(
    audio=st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]),
    emotion=st.sampled_from([0.0, 0.5, 1.0, 2.0, 7.0]),
)
def test_pruned_branches_equal_the_full_formula(audio, emotion):
    recorder = Recorder()
    inputs = _inputs(seed=1)
    out = _guided(recorder, (audio, emotion), inputs)
    v_u, v_ae, v_a = _separate(Recorder(), inputs)
    expected = v_u + audio * (v_a - v_u) + emotion * (v_ae - v_a)
    # The same branch values combined in another association: 4 roundings of terms up to the coefficients' sum.
    magnitude = (1 + abs(1 - audio) + abs(audio - emotion) + emotion) * max(
        float(v.abs().max()) for v in (v_u, v_ae, v_a)
    )
    assert_rounding_close(out, expected, depth=4, magnitude=magnitude)
    needed = sum(w != 0 for w in (1 - audio, emotion, audio - emotion))
    assert recorder.calls[0]["x"].shape[0] == 2 * needed


def test_per_sample_times_follow_their_rows():
    recorder = Recorder()
    inputs = _inputs()
    _guided(recorder, (2.0, 1.0), inputs, t=torch.tensor([0.1, 0.9]))
    assert torch.equal(recorder.calls[0]["t"], torch.tensor([0.1, 0.9]).repeat(3))


@pytest.mark.parametrize(("scales", "branches"), [((2.0, 1.0), 3), ((1.0, 1.0), 1), ((1.0, 4.0), 2), ((3.0, 3.0), 2)])
def test_branch_names(scales, branches):
    cfg = ClassifierFreeGuidance(Recorder(), GuidanceConfig(audio_scale=scales[0], emotion_scale=scales[1]))
    assert len(cfg.branches) == branches


def test_docstring_example():
    result = doctest.testmod(guidance)
    assert result.attempted > 0
    assert result.failed == 0
