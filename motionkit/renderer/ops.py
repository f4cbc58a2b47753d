"""Pure-PyTorch resampling and activation ops of the StyleGAN2-style motion auto-encoder.

``upfirdn2d`` (upsample, FIR filter, downsample) follows the semantics of StyleGAN2's reference op::

    u[c, up*i, up*j] = x[c, i, j]                 zero insertion (other samples are 0)
    p = pad(u, pad0 before, pad1 after)           on both spatial axes (negative values crop)
    y[c, m, n] = sum_{a,b} p[c, m+a, n+b] * k[kh-1-a, kw-1-b]     convolution with k (correlation with flip(k))
    out = y[:, :, ::down, ::down]

It is evaluated without materialising the zero-inserted image: for ``up > 1`` the same sum is a depthwise
transposed convolution with stride ``up``, which skips the multiplications by inserted zeros.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

LEAKY_RELU_SLOPE = 0.2
"""Negative slope of StyleGAN2's leaky ReLU."""

LEAKY_RELU_GAIN = math.sqrt(2.0)
"""Gain that keeps the activation variance of a leaky ReLU with slope 0.2 close to 1 (StyleGAN2)."""


def fir_kernel(taps: Sequence[int | float], gain: float = 1.0) -> torch.Tensor:
    """The 2-D FIR kernel ``gain * outer(t, t) / sum(outer(t, t))`` as float32 ``(len(t), len(t))``.

    FLOAT's resampling taps are ``[1, 3, 3, 1]`` (a normalised binomial filter); upsampling by 2 uses
    ``gain = 4`` so that the zero-inserted image keeps its mean.
    """
    t = torch.tensor([float(v) for v in taps], dtype=torch.float32)
    kernel = t[None, :] * t[:, None]
    kernel = kernel / kernel.sum()
    return kernel * gain


def upfirdn2d(
    x: torch.Tensor,
    kernel: torch.Tensor,
    up: int = 1,
    down: int = 1,
    pad: tuple[int, int] = (0, 0),
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Upsample by ``up`` (zero insertion), pad by ``pad`` on both axes, convolve with ``kernel``, keep every
    ``down``-th sample (see the module docstring for the formula).

    Args:
        x: ``(N, C, H, W)``.
        kernel: ``(kh, kw)`` FIR kernel, applied to every channel independently.
        up, down: integer resampling factors.
        pad: ``(pad0, pad1)`` samples added before and after each spatial axis of the upsampled image.
        bias: optional ``(C,)`` added to every output channel (fused into the convolution when ``up == 1``).

    Returns:
        ``(N, C, (H*up + pad0 + pad1 - kh) // down + 1, (W*up + pad0 + pad1 - kw) // down + 1)``.
    """
    channels = x.shape[1]
    kh, kw = kernel.shape
    pad0, pad1 = pad
    weight = kernel.to(dtype=x.dtype, device=x.device)
    if up == 1:
        if pad0 != pad1 or pad0 < 0:
            x = F.pad(x, [pad0, pad1, pad0, pad1])  # negative values crop
            pad0 = 0
        flipped = torch.flip(weight, [0, 1]).expand(channels, 1, kh, kw)
        return F.conv2d(x, flipped, bias, stride=down, padding=pad0, groups=channels)
    # Transposed convolution: out[m] = sum_i x[i] * k[m + crop - up*i] with crop = kh - 1 - pad0, i.e. the
    # zero-inserted, padded convolution above. It needs crop >= 0 and the trailing length made up by slicing.
    crop_h, crop_w = kh - 1 - pad0, kw - 1 - pad0
    if crop_h < 0 or crop_w < 0:
        x_up = x.new_zeros(x.shape[0], channels, x.shape[2] * up, x.shape[3] * up)
        x_up[:, :, ::up, ::up] = x
        return upfirdn2d(x_up, kernel, 1, down, pad, bias)
    height, width = x.shape[2], x.shape[3]
    out_h = height * up + pad0 + pad1 - kh + 1
    out_w = width * up + pad0 + pad1 - kw + 1
    full = F.conv_transpose2d(
        x, weight.expand(channels, 1, kh, kw), stride=up, padding=0, groups=channels
    )  # (N, C, (H-1)*up + kh, (W-1)*up + kw)
    extra_h = max(0, crop_h + out_h - full.shape[2])
    extra_w = max(0, crop_w + out_w - full.shape[3])
    if extra_h or extra_w:
        full = F.pad(full, [0, extra_w, 0, extra_h])
    out = full[:, :, crop_h : crop_h + out_h, crop_w : crop_w + out_w]
    if down > 1:
        out = out[:, :, ::down, ::down]
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def pointwise_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """1x1 convolution ``out[n, o] = sum_c W[o, c] x[n, c] (+ b[o])`` with a shared ``(out, in)`` or a per-sample
    ``(N, out, in)`` weight.

    Evaluated as a matrix product over the pixels — much faster than a convolution kernel when there are few
    output channels (the RGB and flow heads have 3) — in the memory layout of ``x`` (NCHW: ``W @ x``; channels
    last: ``x @ W^T``, the result is channels-last too). ``x``: ``(N, in, H, W)``.
    """
    n, c, h, w = x.shape
    if x.is_contiguous():
        out = torch.matmul(weight, x.view(n, c, h * w))
        if bias is not None:
            out = out + bias.view(-1, 1)
        return out.view(n, -1, h, w)
    if x.is_contiguous(memory_format=torch.channels_last):
        pixels = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view: channels-last memory is (N, H, W, C)
        out = torch.matmul(pixels, weight.transpose(-1, -2))
        if bias is not None:
            out = out + bias
        return out.view(n, h, w, -1).permute(0, 3, 1, 2)
    return pointwise_conv2d(x.contiguous(), weight, bias)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's biased, gain-corrected leaky ReLU: ``leaky_relu(x + bias, 0.2) * sqrt(2)``.

    Args:
        x: ``(N, C, ...)`` activations.
        bias: broadcastable to ``x`` (FLOAT stores it as ``(1, C, 1, 1)``).
    """
    return F.leaky_relu(x + bias, LEAKY_RELU_SLOPE) * LEAKY_RELU_GAIN
