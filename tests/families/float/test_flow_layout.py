"""Loading and exporting FLOAT's ``fmt.*`` checkpoint entries."""

from __future__ import annotations

import pytest
import torch

from motionkit.config import FlowConfig
from motionkit.errors import CheckpointError
from motionkit.families.float.layout import check_alignment_mask, official_flow_entries, sampler_from_official


def _float_mask(length: int, window: int) -> torch.Tensor:
    """FLOAT's alignment_mask as the spec describes it: True (blocked) unless max(0, i-w) <= j <= i+w."""
    mask = torch.ones(length, length, dtype=torch.bool)
    for i in range(length):
        mask[i, max(0, i - window) : i + window + 1] = False
    return mask


def test_round_trip(tiny_sampler, tiny_config):
    exported = official_flow_entries(tiny_sampler)
    assert all(k.startswith("fmt.") for k in exported)
    assert torch.equal(exported["fmt.alignment_mask"], _float_mask(tiny_config.sequence_length, 2))
    loaded = sampler_from_official(exported, tiny_config)
    for key, value in tiny_sampler.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_export_is_a_copy(tiny_sampler):
    exported = official_flow_entries(tiny_sampler)
    exported["fmt.c_embedder.bias"].add_(1.0)
    assert not torch.equal(exported["fmt.c_embedder.bias"], tiny_sampler.c_embedder.bias)


def test_other_components_are_ignored_and_input_untouched(tiny_sampler, tiny_config):
    state = official_flow_entries(tiny_sampler)
    state.pop("fmt.alignment_mask")
    state["motion_autoencoder.enc.fc.0.weight"] = torch.zeros(3, 3)
    snapshot = {k: v.clone() for k, v in state.items()}
    loaded = sampler_from_official(state, tiny_config)
    with torch.no_grad():
        loaded.c_embedder.weight.add_(1.0)
    assert state.keys() == snapshot.keys()
    assert all(torch.equal(state[k], snapshot[k]) for k in state)


def test_all_problems_in_one_error(tiny_sampler, tiny_config):
    state = official_flow_entries(tiny_sampler)
    del state["fmt.decoder.linear.bias"]
    state["fmt.blocks.9.attn.qkv.weight"] = torch.zeros(1)
    state["fmt.x_embedder.proj.weight"] = torch.zeros(5, 5)
    state["fmt.t_embedder.mlp.0.bias"] = "not a tensor"
    state["fmt.decoder.linear.weight"] = state["fmt.decoder.linear.weight"].long()
    with pytest.raises(CheckpointError) as info:
        sampler_from_official(state, tiny_config)
    message = str(info.value)
    assert "1 missing: decoder.linear.bias" in message
    assert "1 unexpected: blocks.9.attn.qkv.weight" in message
    assert "3 with the wrong shape" in message
    assert "x_embedder.proj.weight (5, 5) (expected (64, 32))" in message
    assert "t_embedder.mlp.0.bias (a str) (expected a tensor of shape" in message
    assert "decoder.linear.weight (dtype int64) (expected a floating-point tensor)" in message
    assert "FlowConfig" in message


def test_wrong_config_lists_mismatches(tiny_sampler):
    with pytest.raises(CheckpointError, match="wrong shape"):
        sampler_from_official(official_flow_entries(tiny_sampler), FlowConfig(depth=2, hidden_dim=64))


def test_no_fmt_entries():
    with pytest.raises(CheckpointError, match=r"no 'fmt\.\*' entries"):
        sampler_from_official({"x_embedder.proj.weight": torch.zeros(1)}, FlowConfig())


def test_alignment_mask_is_verified(tiny_sampler, tiny_config):
    state = official_flow_entries(tiny_sampler)
    state["fmt.alignment_mask"] = _float_mask(tiny_config.sequence_length, 3)
    with pytest.raises(CheckpointError, match="attention_window"):
        sampler_from_official(state, tiny_config)
    state["fmt.alignment_mask"] = _float_mask(tiny_config.sequence_length, 2).float()
    with pytest.raises(CheckpointError, match="must be a bool"):
        sampler_from_official(state, tiny_config)


def test_mask_check_accepts_float_layout():
    check_alignment_mask(_float_mask(60, 2), 60, 2)
