"""Reference formulation of the decoder, written the way the official FLOAT/LIA code computes it.

The production layers evaluate the same math in faster, batched forms (modulated input + shared weight instead
of per-sample weights, transposed convolution instead of zero insertion). This module keeps the official forms:

* ``upfirdn2d_reference``: zero insertion by reshaping and padding, then a single-channel convolution of every
  channel with the flipped kernel, then subsampling;
* ``modulated_conv2d_reference``: per-sample weights ``W * s / sqrt(in k^2)`` (demodulated per output channel),
  evaluated as a grouped convolution with one group per sample;
* ``synthesis_reference``: the decoder loop on top of them, with the identity grid rebuilt at every call.

Tests use it to check the fast layers at any configuration; ``benchmarks/render.py`` uses it, one frame at a
time, as the baseline that mirrors the official inference loop. It reads the parameters of the production
modules, so both always evaluate the same weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F

from motionkit.renderer.decoder import GRID_RESOLUTION, Synthesis
from motionkit.renderer.layers import DEMODULATION_EPS, ModulatedConv2d, StyledConv, ToFlow, ToRGB, identity_grid
from motionkit.renderer.ops import fused_leaky_relu


def upfirdn2d_reference(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
) -> torch.Tensor:
    """:func:`motionkit.renderer.ops.upfirdn2d` computed literally: zero insertion, pad, convolve, subsample."""
    batch, channels, height, width = x.shape
    kh, kw = kernel.shape
    pad0, pad1 = pad
    out = x.reshape(batch, channels, height, 1, width, 1)
    out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1])
    out = out.reshape(batch, channels, height * up, width * up)
    out = F.pad(out, [max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)])
    out = out[
        :,
        :,
        max(-pad0, 0) : out.shape[2] - max(-pad1, 0),
        max(-pad0, 0) : out.shape[3] - max(-pad1, 0),
    ]
    padded_h, padded_w = out.shape[2], out.shape[3]
    out = out.reshape(-1, 1, padded_h, padded_w)
    flipped = torch.flip(kernel, [0, 1]).view(1, 1, kh, kw).to(x)
    out = F.conv2d(out, flipped)
    out = out.reshape(batch, channels, padded_h - kh + 1, padded_w - kw + 1)
    return out[:, :, ::down, ::down]


def modulated_conv2d_reference(conv: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """``conv(x, style)`` with explicit per-sample weights and a grouped convolution (StyleGAN2's form)."""
    batch, in_channels, height, width = x.shape
    k = conv.kernel_size
    s = conv.modulation(style).view(batch, 1, in_channels, 1, 1)
    weight = conv.scale * conv.weight * s  # (B, out, in, k, k)
    if conv.demodulate:
        demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + DEMODULATION_EPS)
        weight = weight * demod.view(batch, conv.out_channels, 1, 1, 1)
    if conv.upsample:
        weight = weight.transpose(1, 2).reshape(batch * in_channels, conv.out_channels, k, k)
        out = F.conv_transpose2d(x.reshape(1, batch * in_channels, height, width), weight, stride=2, groups=batch)
        out = out.view(batch, conv.out_channels, out.shape[2], out.shape[3])
        return upfirdn2d_reference(out, conv.blur.kernel, pad=conv.blur.pad)
    weight = weight.view(batch * conv.out_channels, in_channels, k, k)
    out = F.conv2d(x.reshape(1, batch * in_channels, height, width), weight, padding=conv.padding, groups=batch)
    return out.view(batch, conv.out_channels, out.shape[2], out.shape[3])


def _to_rgb_reference(head: ToRGB, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
    out = head.conv(x) + head.bias
    if skip is not None:
        out = out + upfirdn2d_reference(skip, head.upsample.kernel, up=2, pad=head.upsample.pad)
    return out


def _to_flow_reference(
    head: ToFlow, x: torch.Tensor, style: torch.Tensor, feature: torch.Tensor, skip: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    out = modulated_conv2d_reference(head.conv, x, style) + head.bias
    grid = identity_grid(x.shape[2]).to(x).repeat(x.shape[0], 1, 1, 1)
    if skip is not None:
        out = out + upfirdn2d_reference(skip, head.upsample.kernel, up=2, pad=head.upsample.pad)
    sampler = torch.tanh(out[:, 0:2])
    mask = torch.sigmoid(out[:, 2:3])
    grid = sampler.permute(0, 2, 3, 1) + grid
    warp = F.grid_sample(feature, grid, mode="bilinear", padding_mode="zeros", align_corners=False) * mask
    return warp, warp + x * (1 - mask), out, grid


def synthesis_reference(
    dec: Synthesis, latent: torch.Tensor, features: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder of ``dec`` evaluated in the official form; features must have the batch of ``latent``."""
    out = dec.input.input.repeat(latent.shape[0], 1, 1, 1)
    out = fused_leaky_relu(modulated_conv2d_reference(dec.conv1.conv, out, latent), dec.conv1.activate.bias)
    image: torch.Tensor | None = None
    skip_flow: torch.Tensor | None = None
    grid_64: torch.Tensor | None = None
    for level, feature in enumerate(features):
        for index in (2 * level, 2 * level + 1):
            layer = cast(StyledConv, dec.convs[index])
            out = fused_leaky_relu(modulated_conv2d_reference(layer.conv, out, latent), layer.activate.bias)
        to_flow, to_rgb = cast(ToFlow, dec.to_flows[level]), cast(ToRGB, dec.to_rgbs[level])
        warp, out, skip_flow, grid = _to_flow_reference(to_flow, out, latent, feature, skip_flow)
        image = _to_rgb_reference(to_rgb, warp, image)
        if grid.shape[1] == GRID_RESOLUTION:
            grid_64 = grid
    assert image is not None
    assert grid_64 is not None
    return image, grid_64
