"""upfirdn2d, the fused leaky ReLU and the 1x1 convolution against direct evaluations of their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from motionkit.renderer.ops import fir_kernel, fused_leaky_relu, pointwise_conv2d, upfirdn2d
from motionkit.renderer.reference import upfirdn2d_reference
from motionkit.testing.tolerances import assert_rounding_close


def upfirdn2d_formula(x: np.ndarray, k: np.ndarray, up: int, down: int, pad0: int, pad1: int) -> np.ndarray:
    """The definition, one output sample at a time, in float64 (zero insertion, pad, convolve, subsample)."""
    n, c, h, w = x.shape
    u = np.zeros((n, c, h * up, w * up))
    u[:, :, ::up, ::up] = x
    lo, hi = max(pad0, 0), max(pad1, 0)
    p = np.pad(u, ((0, 0), (0, 0), (lo, hi), (lo, hi)))
    p = p[:, :, max(-pad0, 0) : p.shape[2] - max(-pad1, 0), max(-pad0, 0) : p.shape[3] - max(-pad1, 0)]
    kh, kw = k.shape
    out = np.zeros((n, c, p.shape[2] - kh + 1, p.shape[3] - kw + 1))
    for a in range(kh):
        for b in range(kw):
            out += p[:, :, a : a + out.shape[2], b : b + out.shape[3]] * k[kh - 1 - a, kw - 1 - b]
    return out[:, :, ::down, ::down]


@given(
    up=st.sampled_from([1, 2]),
    down=st.sampled_from([1, 2]),
    pad=st.tuples(st.integers(-1, 3), st.integers(-1, 3)),
    size=st.tuples(st.integers(4, 9), st.integers(4, 9)),
    seed=st.integers(0, 2**16),
)
def test_upfirdn2d_matches_the_formula(
    up: int, down: int, pad: tuple[int, int], size: tuple[int, int], seed: int
) -> None:
    rng = np.random.RandomState(seed)
    x = rng.standard_normal((2, 3, *size)).astype(np.float32)
    kernel = rng.standard_normal((4, 3)).astype(np.float32)  # asymmetric: catches a missing flip
    expected = upfirdn2d_formula(x.astype(np.float64), kernel.astype(np.float64), up, down, *pad)
    actual = upfirdn2d(torch.from_numpy(x), torch.from_numpy(kernel), up=up, down=down, pad=pad)
    reference = upfirdn2d_reference(torch.from_numpy(x), torch.from_numpy(kernel), up=up, down=down, pad=pad)
    assert actual.shape == expected.shape
    depth = kernel.size + 1  # the taps' weighted sum, then the bias
    exact = torch.from_numpy(expected)
    assert_rounding_close(actual.double(), exact, depth=depth, dtype=torch.float32)
    assert_rounding_close(reference.double(), exact, depth=depth, dtype=torch.float32)


def test_upfirdn2d_bias_is_added_to_every_output_channel() -> None:
    x = torch.randn(1, 3, 6, 6)
    bias = torch.tensor([0.5, -1.0, 2.0])
    for up in (1, 2):
        plain = upfirdn2d(x, fir_kernel([1, 3, 3, 1]), up=up, pad=(2, 1))
        biased = upfirdn2d(x, fir_kernel([1, 3, 3, 1]), up=up, pad=(2, 1), bias=bias)
        assert_rounding_close(biased, plain + bias.view(1, 3, 1, 1), depth=16 + 1)  # 4 x 4 taps, then the bias


def test_fir_kernel_is_normalised_outer_product() -> None:
    kernel = fir_kernel([1, 3, 3, 1])
    assert kernel.shape == (4, 4)
    assert float(kernel.sum()) == 1.0
    assert float(kernel[1, 2]) == 9 / 64
    assert float(fir_kernel([1, 3, 3, 1], gain=4).sum()) == 4.0


def test_upsampling_keeps_a_constant_image_constant_inside() -> None:
    """The x4 kernel compensates the inserted zeros: a constant stays constant away from the borders."""
    x = torch.full((1, 1, 8, 8), 3.0)
    out = upfirdn2d(x, fir_kernel([1, 3, 3, 1], gain=4), up=2, pad=(2, 1))
    assert out.shape == (1, 1, 16, 16)
    assert_rounding_close(out[..., 2:-2, 2:-2], torch.full((1, 1, 12, 12), 3.0), depth=16)  # 4 x 4 taps


def test_fused_leaky_relu_values() -> None:
    x = torch.tensor([[-1.0, 0.0, 2.0]]).view(1, 3, 1, 1)
    bias = torch.tensor([0.5, 0.0, -1.0]).view(1, 3, 1, 1)
    out = fused_leaky_relu(x, bias).flatten().tolist()
    assert out == pytest.approx([-0.5 * 0.2 * math.sqrt(2), 0.0, 1.0 * math.sqrt(2)])


@pytest.mark.parametrize("per_sample", [False, True])
@pytest.mark.parametrize("channels_last", [False, True])
def test_pointwise_conv2d_matches_conv2d(per_sample: bool, channels_last: bool) -> None:
    x = torch.randn(3, 5, 4, 6)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    bias = torch.randn(2)
    if per_sample:
        weight = torch.randn(3, 2, 5)
        expected = torch.cat([F.conv2d(x[n : n + 1], weight[n, :, :, None, None], bias) for n in range(3)], dim=0)
    else:
        weight = torch.randn(2, 5)
        expected = F.conv2d(x, weight[:, :, None, None], bias)
    assert_rounding_close(pointwise_conv2d(x, weight, bias), expected, depth=5 + 1)  # 5 channels, then the bias
