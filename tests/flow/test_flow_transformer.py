"""The flow transformer: shapes, FLOAT's embeddings, locality of the banded attention, conditioning, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.config import FlowConfig
from motionkit.errors import ShapeError
from motionkit.flow import FlowSampler, FlowTransformer, VectorFieldInputs
from motionkit.flow.embeddings import sinusoid_position_table, timestep_features
from motionkit.testing.float_weights import synthetic_tensor
from motionkit.testing.tolerances import assert_rounding_close


def _inputs(config: FlowConfig, batch: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    L, Lc = config.window, config.context
    return {
        "x": torch.randn(batch, L, config.motion_dim, generator=g),
        "wa": torch.randn(batch, L, config.audio_dim, generator=g),
        "wr": torch.randn(batch, config.motion_dim, generator=g),
        "we": torch.softmax(torch.randn(batch, 1, config.emotion_dim, generator=g), -1),
        "prev_x": torch.randn(batch, Lc, config.motion_dim, generator=g),
        "prev_wa": torch.randn(batch, Lc, config.audio_dim, generator=g),
    }


def _run(model: torch.nn.Module, inputs: dict[str, torch.Tensor], t: torch.Tensor | float = 0.3) -> torch.Tensor:
    kwargs = {k: v for k, v in inputs.items() if k != "x"}
    with torch.no_grad():
        return model(inputs["x"], t, VectorFieldInputs(**kwargs))


def test_output_shape_and_zero_init(tiny_config):
    model = FlowTransformer(tiny_config)
    out = _run(model, _inputs(tiny_config, batch=3))
    assert out.shape == (3, tiny_config.sequence_length, tiny_config.motion_dim)
    # FLOAT's adaLN-Zero initialisation: an untrained model is exactly the zero field.
    assert torch.count_nonzero(out) == 0


def test_position_table_formula():
    table = sinusoid_position_table(7, 16)[0].double()
    for p in (0, 3, 6):
        for j in range(16):
            angle = p / 10000 ** (2 * (j // 2) / 16)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert table[p, j].item() == pytest.approx(expected, abs=1e-7)


def test_position_table_equals_float_fixture_recipe():
    # The parity recipe stores FLOAT's table evaluated in float64 and rounded once; ours is built the same way.
    assert torch.equal(sinusoid_position_table(60, 1024), synthetic_tensor("fmt.pos_embed", (1, 60, 1024)))


def test_time_features_cos_half_first():
    t = torch.tensor([0.0, 0.5])
    feats = timestep_features(t, 8)
    assert torch.equal(feats[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    freqs = torch.exp(-math.log(10000) * torch.arange(4, dtype=torch.float32) / 4)
    torch.testing.assert_close(feats[1], torch.cat([torch.cos(0.5 * freqs), torch.sin(0.5 * freqs)]))


def test_float512_layout_and_size():
    model = FlowSampler()
    keys = set(model.state_dict())
    assert "pos_embed" in keys
    assert "blocks.7.adaLN_modulation.1.weight" in keys
    assert "decoder.adaLN_modulation.1.weight" in keys
    assert "t_embedder.mlp.2.bias" in keys
    assert model.state_dict()["c_embedder.weight"].shape == (1024, 512 + 512 + 7)
    # FLOAT's fmt: 156,701,712 stored values, 3,600 of which are the bool alignment mask (not a parameter here).
    assert sum(p.numel() for p in model.parameters()) == 156_701_712 - 60 * 60
    assert not model.pos_embed.requires_grad


@given(frame=st.integers(0, 13))
def test_banded_receptive_field(tiny_sampler, tiny_config, frame):
    """Perturbing frame j changes only outputs within depth * window of it; all others stay bit-identical."""
    inputs = _inputs(tiny_config)
    base = _run(tiny_sampler, inputs)
    Lc = tiny_config.context
    if frame < Lc:
        inputs["prev_x"] = inputs["prev_x"].clone()
        inputs["prev_x"][0, frame] += 1.0
    else:
        inputs["x"] = inputs["x"].clone()
        inputs["x"][0, frame - Lc] += 1.0
    changed = (_run(tiny_sampler, inputs) != base).any(dim=-1)[0]
    reach = tiny_config.depth * tiny_config.attention_window
    positions = torch.arange(tiny_config.sequence_length)
    outside = (positions - frame).abs() > reach
    assert not changed[outside].any()
    assert changed[frame]


def test_clip_emotion_equals_constant_per_frame_emotion(tiny_sampler, tiny_config):
    inputs = _inputs(tiny_config, batch=2)
    per_frame = dict(inputs, we=inputs["we"].expand(2, tiny_config.sequence_length, -1).contiguous())
    # the model expands a clip emotion to every frame before any arithmetic: the same numbers, exactly
    torch.testing.assert_close(_run(tiny_sampler, per_frame), _run(tiny_sampler, inputs), rtol=0, atol=0)


def test_per_frame_emotion_is_local(tiny_sampler, tiny_config):
    inputs = _inputs(tiny_config)
    we = inputs["we"].expand(1, tiny_config.sequence_length, -1).clone()
    base = _run(tiny_sampler, dict(inputs, we=we))
    we[0, 2] = torch.nn.functional.one_hot(torch.tensor(0), tiny_config.emotion_dim).float()
    changed = (_run(tiny_sampler, dict(inputs, we=we)) != base).any(dim=-1)[0]
    assert changed[2]
    assert not changed[2 + tiny_config.depth * tiny_config.attention_window + 1 :].any()


def test_every_condition_matters(tiny_sampler, tiny_config):
    inputs = _inputs(tiny_config)
    base = _run(tiny_sampler, inputs)
    for name in ("wa", "wr", "we", "prev_x", "prev_wa"):
        altered = dict(inputs, **{name: inputs[name] + 0.5})
        assert not torch.allclose(_run(tiny_sampler, altered), base), name
    assert not torch.allclose(_run(tiny_sampler, inputs, t=0.9), base)


def test_per_sample_time_and_batch_independence(tiny_sampler, tiny_config, field_depth):
    inputs = _inputs(tiny_config, batch=3)
    times = torch.tensor([0.0, 0.4, 1.0])
    batched = _run(tiny_sampler, inputs, t=times)
    for b in range(3):
        single = {k: v[b : b + 1] for k, v in inputs.items()}
        assert_rounding_close(batched[b : b + 1], _run(tiny_sampler, single, t=times[b]), depth=field_depth)


def test_shared_time_forms_agree(tiny_sampler, tiny_config, field_depth):
    inputs = _inputs(tiny_config, batch=2)
    reference = _run(tiny_sampler, inputs, t=0.25)
    for t in (torch.tensor(0.25), torch.tensor([0.25])):
        torch.testing.assert_close(_run(tiny_sampler, inputs, t=t), reference, rtol=0, atol=0)
    # One time per sample runs the time MLP on a (B, C) batch: same values up to matmul rounding.
    assert_rounding_close(_run(tiny_sampler, inputs, t=torch.tensor([0.25, 0.25])), reference, depth=field_depth)


@pytest.mark.parametrize(
    ("name", "shape", "match"),
    [
        ("x", (1, 11, 32), r"x must have shape \(1, n, 32\) with 1 <= n <= 10"),
        ("x", (1, 7, 32), r"wa must have shape \(1, 7, 32\)"),
        ("wa", (1, 10, 16), r"wa must have shape \(1, 10, 32\)"),
        ("wr", (1, 1, 32), r"wr must have shape \(1, 32\)"),
        ("prev_x", (1, 10, 32), r"prev_x must have shape \(1, 4, 32\)"),
        ("prev_wa", (1, 3, 32), r"prev_wa must have shape \(1, 4, 32\)"),
        ("we", (1, 5, 7), r"we must have shape \(1, 1, 7\) or \(1, 14, 7\)"),
    ],
)
def test_shape_errors(tiny_sampler, tiny_config, name, shape, match):
    inputs = _inputs(tiny_config)
    inputs[name] = torch.zeros(shape)
    with pytest.raises(ShapeError, match=match):
        _run(tiny_sampler, inputs)


def test_time_shape_error(tiny_sampler, tiny_config):
    with pytest.raises(ShapeError, match="one time per sample"):
        _run(tiny_sampler, _inputs(tiny_config, batch=2), t=torch.zeros(3))
