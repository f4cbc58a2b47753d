"""The packed CPU inference path of the flow transformer's linear layers: same results as F.linear, taken only
for inference, rebuilt when the weight changes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from motionkit.flow import FlowSampler
from motionkit.flow.linear import Linear, packed_path_available
from motionkit.testing.tolerances import assert_rounding_close

pytestmark = pytest.mark.skipif(not packed_path_available(), reason="this torch build has no oneDNN (mkldnn)")


LINEAR_DEPTH = 96 + 1
"""oneDNN's packed product and ``F.linear`` sum the 96 input features in their own orders, then add the bias."""


def _linear(seed: int = 0, in_features: int = 96, out_features: int = 160) -> Linear:
    torch.manual_seed(seed)
    return Linear(in_features, out_features)


@pytest.mark.parametrize("shape", [(3, 60, 96), (180, 96), (1, 96), (2, 5, 7, 96)])
def test_packed_inference_equals_f_linear(shape: tuple[int, ...]) -> None:
    layer = _linear()
    x = torch.randn(*shape)
    with torch.no_grad():
        packed = layer(x)
    assert layer._packed is not None  # the packed path was taken
    assert_rounding_close(packed, F.linear(x, layer.weight, layer.bias), depth=LINEAR_DEPTH)
    strided = torch.randn(shape[-1], *shape[:-1]).movedim(0, -1)  # not contiguous
    with torch.no_grad():
        assert_rounding_close(layer(strided), F.linear(strided, layer.weight, layer.bias), depth=LINEAR_DEPTH)


def test_training_uses_f_linear_with_gradients() -> None:
    layer = _linear()
    x = torch.randn(4, 96, requires_grad=True)
    layer(x).square().sum().backward()
    assert layer._packed is None
    assert x.grad is not None
    assert layer.weight.grad is not None


def test_packed_weight_follows_weight_updates() -> None:
    layer = _linear()
    x = torch.randn(8, 96)
    with torch.no_grad():
        before = layer(x)
        layer.weight.mul_(2.0)  # in place, as an optimiser step or load_state_dict does
        after = layer(x)
    assert_rounding_close(after, F.linear(x, layer.weight, layer.bias), depth=LINEAR_DEPTH)
    assert not torch.allclose(before, after)
    other = _linear(seed=1)
    layer.load_state_dict(other.state_dict())
    with torch.no_grad():
        assert_rounding_close(layer(x), F.linear(x, other.weight, other.bias), depth=LINEAR_DEPTH)


def test_state_dict_and_fallbacks() -> None:
    layer = _linear()
    assert layer.state_dict().keys() == nn.Linear(96, 160).state_dict().keys()
    x = torch.randn(8, 96)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(x).dtype == torch.bfloat16  # autocast keeps F.linear's bf16 product
    assert layer._packed is None
    layer.packed_enabled = False
    with torch.no_grad():
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
    assert layer._packed is None


def test_sampler_switch_turns_the_packed_path_off(tiny_config, randomize, make_conditions, sample_depth) -> None:
    sampler = randomize(FlowSampler(tiny_config), seed=3).eval()
    conditions = make_conditions(tiny_config, 20)
    source = torch.randn(1, tiny_config.motion_dim)
    packed = sampler.sample(conditions, source, seed=0, nfe=4).latents
    plain = sampler.use_packed_linears(False).sample(conditions, source, seed=0, nfe=4).latents
    assert all(not m.packed_enabled for m in sampler.modules() if isinstance(m, Linear))
    assert_rounding_close(packed, plain, depth=sample_depth(4))
