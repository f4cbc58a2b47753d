"""Convolution blocks of IMTalker's renderer (its ``modules.py``), named as in ``renderer.ckpt``.

Every 3x3 convolution here pads 1 and has no bias; BatchNorm (``eps`` 1e-5) follows it, in eval mode with the
checkpoint's running statistics; the activations are leaky ReLUs of slope :data:`BLOCK_SLOPE` (PyTorch's default,
unlike the 0.2 of the StyleGAN2-style layers). In eval mode a convolution and its BatchNorm are evaluated as one
convolution with the folded weight ``W * g / sqrt(var + eps)`` and bias ``b - mean * g / sqrt(var + eps)``
(the same affine map; it saves a pass over every activation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from motionkit.renderer.layers import ConvLayer

BLOCK_SLOPE = 0.01
"""Negative slope of the blocks' leaky ReLUs (``nn.LeakyReLU()``'s default in the official modules)."""

KERNEL = 3
"""Spatial size of every block convolution (padding ``KERNEL // 2`` keeps the resolution)."""


class BatchNorm(nn.Module):
    """The official ``norm`` wrapper: a ``BatchNorm2d`` stored as ``norm.norm.*``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels)


def block_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, KERNEL, padding=KERNEL // 2, bias=False)


class _FoldCache:
    """The folded ``(weight, bias)`` of a convolution and its BatchNorm, rebuilt when any of their tensors changes
    (in-place updates bump a tensor's version)."""

    def __init__(self) -> None:
        self.key: tuple[object, ...] | None = None
        self.value: tuple[torch.Tensor, torch.Tensor] | None = None


def conv_norm(
    x: torch.Tensor, conv: nn.Conv2d, norm: nn.BatchNorm2d, slope: float | None, cache: _FoldCache
) -> torch.Tensor:
    """``leaky_relu(BN(conv(x)), slope)`` (no activation for ``slope=None``); folded in eval mode (module docstring)."""
    if norm.training:
        out = norm(conv(x))
    else:
        weight, bias = _folded(conv, norm, cache)
        out = F.conv2d(x, weight.to(x.dtype), bias.to(x.dtype), padding=conv.padding)
    return out if slope is None else F.leaky_relu(out, slope, inplace=True)


def _folded(conv: nn.Conv2d, norm: nn.BatchNorm2d, cache: _FoldCache) -> tuple[torch.Tensor, torch.Tensor]:
    tensors = (conv.weight, norm.weight, norm.bias, norm.running_mean, norm.running_var)
    grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)
    key = tuple((t._version, t.data_ptr(), t.dtype, t.device) for t in tensors if t is not None)
    if not grad and cache.key == key and cache.value is not None:
        return cache.value
    assert norm.running_mean is not None
    assert norm.running_var is not None
    scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
    value = (conv.weight * scale[:, None, None, None], norm.bias - norm.running_mean * scale)
    if not grad:
        cache.key, cache.value = key, (value[0].detach(), value[1].detach())
    return value


class ConvBlock(nn.Module):
    """``conv`` (3x3, no bias) -> ``norm`` -> leaky ReLU (slope :data:`BLOCK_SLOPE`, or none)."""

    def __init__(self, in_channels: int, out_channels: int, activate: bool = True) -> None:
        super().__init__()
        self.conv = block_conv(in_channels, out_channels)
        self.norm = BatchNorm(out_channels)
        self.slope = BLOCK_SLOPE if activate else None
        self._fold = _FoldCache()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_norm(x, self.conv, self.norm.norm, self.slope, self._fold)


class FeatResBlock(nn.Module):
    """``leaky_relu(conv2(conv1(x)) + x)``: two :class:`ConvBlock` (the second without activation), same width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvBlock(channels, channels)
        self.conv2 = ConvBlock(channels, channels, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv2(self.conv1(x)).add_(x), BLOCK_SLOPE, inplace=True)


class ConvResBlock(nn.Module):
    """``conv1 -> norm -> leaky ReLU -> [resample] -> conv2 -> feat_res_block1 -> feat_res_block2``.

    The official Down/Up/ConvResBlock differ only in the resampling: ``"down"`` average-pools 2x2 after the first
    activation, ``"up"`` upsamples the input 2x (nearest) before ``conv1``, ``None`` keeps the resolution.
    ``conv2`` has neither norm nor activation.
    """

    def __init__(self, in_channels: int, out_channels: int, resample: str | None = None) -> None:
        super().__init__()
        if resample not in (None, "down", "up"):
            raise ValueError(f"resample must be None, 'down' or 'up', got {resample!r}")
        self.resample = resample
        self.conv1 = block_conv(in_channels, out_channels)
        self.norm = BatchNorm(out_channels)
        self.conv2 = block_conv(out_channels, out_channels)
        self.feat_res_block1 = FeatResBlock(out_channels)
        self.feat_res_block2 = FeatResBlock(out_channels)
        self._fold = _FoldCache()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "up":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = conv_norm(x, self.conv1, self.norm.norm, BLOCK_SLOPE, self._fold)
        if self.resample == "down":
            x = F.avg_pool2d(x, 2)
        return self.feat_res_block2(self.feat_res_block1(self.conv2(x)))


class MotionResBlock(nn.Module):
    """The motion encoder's downsampling block: ``conv2(conv1(x)) + skip(x)``, half the resolution.

    ``conv1`` = EqualConv 3x3 + FusedLeakyReLU; ``conv2`` and ``skip`` = blur, EqualConv 3x3 stride 2,
    FusedLeakyReLU (LIA's layers, :class:`motionkit.renderer.layers.ConvLayer`). Unlike LIA's ResBlock the sum is
    not divided by sqrt(2) and the skip path is a 3x3 convolution with an activation (spec section 7, item 4).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, KERNEL)
        self.conv2 = ConvLayer(in_channels, out_channels, KERNEL, downsample=True)
        self.skip = ConvLayer(in_channels, out_channels, KERNEL, downsample=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x)) + self.skip(x)
