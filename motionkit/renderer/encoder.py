"""The motion encoder: portrait -> identity latent, motion coefficients and multi-scale skip features (LIA/FLOAT).

Layout for ``size = 2^L`` (channels ``c_r`` from :meth:`RendererConfig.channels`)::

    convs[0]      ConvLayer(3, c_size, 1)                       size x size
    convs[1..L-2] ResBlock(c_r, c_{r/2})                        r -> r/2, down to 4 x 4
    convs[L-1]    EqualConv2d(c_4, D, 4, no padding, no bias)   1 x 1  -> identity latent h (B, D)
    fc            (fc_layers - 1) x EqualLinear(D, D) + EqualLinear(D, M), no activation -> coefficients (B, M)

The skip features are the outputs of ``convs`` at 8 x 8 ... size x size, ordered coarse to fine.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from motionkit.config import RendererConfig
from motionkit.renderer.layers import ConvLayer, EqualConv2d, EqualLinear, ResBlock

IDENTITY_KERNEL = 4
"""The last encoder convolution maps the 4 x 4 feature map to the identity latent with a 4 x 4 kernel."""


class EncoderOutput(NamedTuple):
    """What :class:`MotionEncoder` computes for a batch of images."""

    identity: torch.Tensor
    """``(B, D)`` identity latent ``h`` (FLOAT's ``s_r``)."""
    coefficients: torch.Tensor
    """``(B, M)`` motion coefficients ``lambda = fc(h)``."""
    features: tuple[torch.Tensor, ...]
    """Skip features coarse to fine: ``(B, c_r, r, r)`` for ``r = 8, 16, ..., size``."""


class EncoderApp(nn.Module):
    """The convolutional trunk: ``(B, 3, S, S)`` -> identity ``(B, D)`` and skip features (coarse to fine)."""

    def __init__(self, config: RendererConfig) -> None:
        super().__init__()
        taps = config.blur_kernel
        channels = config.channels(config.size)
        convs: list[nn.Module] = [ConvLayer(3, channels, 1, taps)]
        resolution = config.size
        while resolution > IDENTITY_KERNEL:
            out_channels = config.channels(resolution // 2)
            convs.append(ResBlock(channels, out_channels, taps))
            channels, resolution = out_channels, resolution // 2
        convs.append(EqualConv2d(channels, config.latent_dim, IDENTITY_KERNEL, padding=0, bias=False))
        self.convs = nn.ModuleList(convs)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        outputs = []
        h = images
        for conv in self.convs:
            h = conv(h)
            outputs.append(h)
        # outputs: size, size/2, ..., 4, 1 -> skip features 8 ... size (the 4 x 4 and 1 x 1 maps are not skips).
        return h.flatten(1), tuple(reversed(outputs[:-2]))


class MotionEncoder(nn.Module):
    """``net_app`` (trunk) and ``fc`` (coefficient head) — FLOAT's ``motion_autoencoder.enc``."""

    def __init__(self, config: RendererConfig) -> None:
        super().__init__()
        self.net_app = EncoderApp(config)
        dim = config.latent_dim
        heads = [EqualLinear(dim, dim) for _ in range(config.encoder_fc_layers - 1)]
        self.fc = nn.Sequential(*heads, EqualLinear(dim, config.motion_dim))

    def forward(self, images: torch.Tensor) -> EncoderOutput:
        """``images`` ``(B, 3, S, S)`` in ``[-1, 1]`` -> identity, coefficients and skip features."""
        identity, features = self.net_app(images)
        return EncoderOutput(identity, self.fc(identity), features)
