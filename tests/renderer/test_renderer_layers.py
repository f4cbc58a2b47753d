"""Equalised layers, the two evaluations of the modulated convolution, the fused activation and the basis layer."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from motionkit.renderer.layers import (
    Direction,
    EqualConv2d,
    EqualLinear,
    ModulatedConv2d,
    StyledConv,
    WeightForm,
    identity_grid,
)
from motionkit.renderer.reference import modulated_conv2d_reference
from motionkit.space import MotionSpace, orthonormal_basis
from motionkit.testing.tolerances import assert_rounding_close, layers_depth

BLUR_DEPTH = 16
"""The upsampling FIR filter: a weighted sum over its 4 x 4 taps."""


def test_equalised_layers_scale_weights_by_fan_in() -> None:
    conv = EqualConv2d(4, 6, 3, padding=1)
    x = torch.randn(2, 4, 5, 5)
    expected = F.conv2d(x, conv.weight / math.sqrt(4 * 9), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)
    linear = EqualLinear(8, 3, bias_init=1.0)
    assert linear.bias is not None
    assert torch.equal(linear.bias, torch.ones(3))
    z = torch.randn(5, 8)
    torch.testing.assert_close(linear(z), z @ (linear.weight / math.sqrt(8)).T + 1.0)


@pytest.mark.parametrize(
    ("kernel_size", "demodulate", "upsample"), [(3, True, False), (3, True, True), (1, False, False)]
)
@pytest.mark.parametrize("form", ["per_sample", "shared"])
def test_modulated_conv_forms_match_the_grouped_reference(
    kernel_size: int, demodulate: bool, upsample: bool, form: str
) -> None:
    conv = ModulatedConv2d(6, 5, kernel_size, style_dim=7, demodulate=demodulate, upsample=upsample)
    with torch.no_grad():
        conv.modulation.bias.add_(torch.randn(6) * 0.1)
    conv.weight_form = form  # type: ignore[assignment]
    x = torch.randn(3, 6, 8, 8)
    style = torch.randn(3, 7)
    bias = torch.randn(5)
    expected = modulated_conv2d_reference(conv, x, style)
    assert expected.shape == (3, 5, 16 if upsample else 8, 16 if upsample else 8)
    # per-sample or shared weights, grouped convolution or not: the same sums in other orders
    depth = layers_depth(conv) + BLUR_DEPTH
    assert_rounding_close(conv(x, style), expected, depth=depth)
    fused = conv(x, style, gain=1.5, bias=bias)
    assert_rounding_close(fused, 1.5 * expected + bias.view(1, 5, 1, 1), depth=depth + 2)


def test_demodulation_normalises_each_output_filter() -> None:
    """With demodulation, a per-sample filter has unit norm: scaling the style changes nothing."""
    conv = ModulatedConv2d(4, 3, 3, style_dim=4)
    with torch.no_grad():
        conv.modulation.weight.zero_()
        conv.modulation.bias.fill_(2.0)
    x = torch.randn(1, 4, 6, 6)
    out_a = conv(x, torch.zeros(1, 4))
    with torch.no_grad():
        conv.modulation.bias.fill_(5.0)
    assert_rounding_close(conv(x, torch.zeros(1, 4)), out_a, depth=layers_depth(conv))


def test_styled_conv_fused_epilogue_equals_the_plain_activation() -> None:
    layer = StyledConv(4, 6, 3, style_dim=5, upsample=True)
    with torch.no_grad():
        layer.activate.bias.normal_()
    x, style = torch.randn(2, 4, 5, 5), torch.randn(2, 5)
    plain = layer.activate(layer.conv(x, style))
    depth = layers_depth(layer) + BLUR_DEPTH
    assert_rounding_close(layer(x, style), plain, depth=depth)
    # explicit zero noise takes the unfused path and must agree
    assert_rounding_close(layer(x, style, noise=torch.zeros(2, 1, 10, 10)), plain, depth=depth)


def test_identity_grid_layout() -> None:
    grid = identity_grid(5)
    assert grid.shape == (1, 5, 5, 2)
    assert grid.dtype == torch.float32
    torch.testing.assert_close(grid[0, 0, 0], torch.tensor([-1.0, -1.0]))
    torch.testing.assert_close(grid[0, 0, 4], torch.tensor([1.0, -1.0]))  # x (width) is channel 0
    torch.testing.assert_close(grid[0, 4, 0], torch.tensor([-1.0, 1.0]))
    torch.testing.assert_close(grid[0, 2, 1], torch.tensor([-0.5, 0.0]))


def test_direction_is_the_space_basis() -> None:
    direction = Direction(16, 4)
    basis = direction()
    torch.testing.assert_close(basis, orthonormal_basis(direction.weight), rtol=0, atol=0)  # the same function
    # Householder QR of a 16 x 4 matrix is orthogonal to O(m n u) (Higham, Theorem 19.4); then a sum of 16
    assert_rounding_close(basis.T @ basis, torch.eye(4), depth=16 * 4 + 16)
    coefficients = torch.randn(3, 4)
    space = MotionSpace.from_weight(direction.weight)
    assert_rounding_close(direction(coefficients), space.compose(coefficients), depth=4)  # a sum of 4 products


def test_direction_is_differentiable() -> None:
    direction = Direction(8, 3)
    direction(torch.randn(2, 3)).square().sum().backward()
    assert direction.weight.grad is not None
    assert torch.isfinite(direction.weight.grad).all()
    assert float(direction.weight.grad.abs().sum()) > 0


def test_auto_form_rule_on_cpu() -> None:
    wide = ModulatedConv2d(512, 512, 3, style_dim=8)
    narrow = ModulatedConv2d(32, 32, 3, style_dim=8)
    channels_last = torch.channels_last
    assert not wide._per_sample(torch.zeros(1, 512, 32, 32))  # weight (2.4 M) > activations (0.5 M)
    assert narrow._per_sample(torch.zeros(1, 32, 256, 256))
    assert narrow._per_sample(torch.zeros(1, 32, 64, 64).contiguous(memory_format=channels_last))
    assert not narrow._per_sample(torch.zeros(2, 32, 64, 64).contiguous(memory_format=channels_last))


@pytest.mark.parametrize("upsample", [False, True])
@pytest.mark.parametrize("form", ["per_sample", "shared"])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_cached_weight_forms_follow_weight_updates(
    upsample: bool, form: WeightForm, memory_format: torch.memory_format
) -> None:
    """The energy and the shared form's weight (in the input's layout, transposed for upsampling) are cached
    without autograd: an in-place update must reach the next call, in either layout."""
    conv = ModulatedConv2d(4, 3, 3, style_dim=4, upsample=upsample)
    conv.weight_form = form
    x, style = torch.randn(1, 4, 6, 6).contiguous(memory_format=memory_format), torch.randn(1, 4)
    with torch.no_grad():
        before = conv(x, style)
        conv.weight.mul_(torch.rand_like(conv.weight) + 0.5)  # in-place, as an optimizer step
        after = conv(x, style)
    expected = modulated_conv2d_reference(conv, x, style)
    assert_rounding_close(after, expected, depth=layers_depth(conv))
    assert not torch.allclose(before, after)
