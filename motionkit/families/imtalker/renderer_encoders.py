"""IMTalker's identity encoder, motion encoder, identity-adaptive module and motion decoder (spec section 2.1-2.4).

Module names are the checkpoint's (``dense_feature_encoder``, ``latent_token_encoder``, ``adapt``,
``latent_token_decoder`` below ``gen.``). Images are ``(B, 3, 512, 512)`` RGB in ``[0, 1]``.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from motionkit.families.imtalker.renderer_blocks import ConvResBlock, MotionResBlock
from motionkit.renderer.layers import EqualConv2d, EqualLinear, StyledConv
from motionkit.renderer.ops import LEAKY_RELU_SLOPE

FEATURE_WIDTHS = (32, 64, 128, 256, 512, 512)
"""Channels of the identity feature pyramid, fine (256 px) to coarse (8 px)."""

MOTION_WIDTHS = (64, 128, 256, 512, 512, 512)
"""Channels of the motion encoder's stem and its five downsampling blocks (512 px -> 16 px)."""

MLP_WIDTH = 512
"""Width of the identity vector and of every encoder / adapter MLP."""

MLP_DEPTH = 4
"""Hidden EqualLinear + leaky ReLU (0.2) layers of each MLP (``linear_layers.0..3``)."""

MOTION_DIM = 32
"""Size of a motion latent ``t`` (and of the identity-adapted latent and the motion decoder's style)."""

STEM_KERNEL = 7

DECODER_LAYERS = (
    (MOTION_DIM, 512, False),
    (512, 512, True),
    (512, 512, False),
    (512, 512, False),
    (512, 512, True),
    (512, 512, False),
    (512, 512, False),
    (512, 256, True),
    (256, 256, False),
    (256, 256, False),
    (256, 128, True),
    (128, 128, False),
    (128, 128, False),
)
"""``(in, out, upsample)`` of the motion decoder's 13 styled convolutions (4 px constant -> 64 px)."""

DECODER_OUTPUTS = (3, 6, 9, 12)
"""Layers whose outputs are the motion maps m1..m4 (512x8x8, 512x16x16, 256x32x32, 128x64x64)."""

CONST_SIZE = 4


class MappingMLP(nn.Module):
    """``final_linear(h)`` with ``h = leaky_relu(linear_layers[i](h), 0.2)`` for ``i = 0..3`` (EqualLinear layers)."""

    def __init__(self, out_features: int) -> None:
        super().__init__()
        self.linear_layers = nn.ModuleList(EqualLinear(MLP_WIDTH, MLP_WIDTH) for _ in range(MLP_DEPTH))
        self.final_linear = EqualLinear(MLP_WIDTH, out_features)

    def mlp(self, h: torch.Tensor) -> torch.Tensor:
        for layer in self.linear_layers:
            h = F.leaky_relu(layer(h), LEAKY_RELU_SLOPE)
        return self.final_linear(h)


class IdentityEncoder(MappingMLP):
    """``dense_feature_encoder``: 7x7 stem (conv, BN, ReLU), six downsampling :class:`ConvResBlock`, and the identity
    vector ``g = MLP(mean_{h,w} f_8)``.

    The checkpoint's ``equalconv`` (an unused 3x3 EqualConv) is not part of this module: its loader drops it.
    """

    def __init__(self) -> None:
        super().__init__(MLP_WIDTH)
        self.initial_conv = nn.Sequential(
            nn.Conv2d(3, FEATURE_WIDTHS[0], STEM_KERNEL, padding=STEM_KERNEL // 2),
            nn.BatchNorm2d(FEATURE_WIDTHS[0]),
            nn.ReLU(inplace=True),
        )
        self.down_block_0 = ConvResBlock(FEATURE_WIDTHS[0], FEATURE_WIDTHS[0], "down")
        self.down_blocks = nn.ModuleList(ConvResBlock(a, b, "down") for a, b in itertools.pairwise(FEATURE_WIDTHS))

    def forward(self, images: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """``(features, g)``: features coarse to fine (512x8x8, 512x16x16 ... 32x256x256), ``g`` ``(B, 512)``."""
        x = self.down_block_0(self.initial_conv(images))
        features = [x]
        for block in self.down_blocks:
            x = block(x)
            features.append(x)
        return tuple(reversed(features)), self.mlp(x.mean(dim=(2, 3)))


class MotionEncoder(MappingMLP):
    """``latent_token_encoder``: ``t = MLP(mean_{h,w} equalconv(blocks(leaky_relu(conv1(x), 0.2))))`` ``(B, 32)``."""

    def __init__(self) -> None:
        super().__init__(MOTION_DIM)
        self.conv1 = nn.Conv2d(3, MOTION_WIDTHS[0], 3, padding=1)
        self.res_blocks = nn.ModuleList(MotionResBlock(a, b) for a, b in itertools.pairwise(MOTION_WIDTHS))
        self.equalconv = EqualConv2d(MOTION_WIDTHS[-1], MOTION_WIDTHS[-1], 3, padding=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(images), LEAKY_RELU_SLOPE)
        for block in self.res_blocks:
            x = block(x)
        return self.mlp(self.equalconv(x).mean(dim=(2, 3)))


class IdentityAdaptive(MappingMLP):
    """``adapt``: ``ta = MLP(in_layer([t | g]))`` — a motion latent made specific to the identity ``g``."""

    def __init__(self) -> None:
        super().__init__(MOTION_DIM)
        self.in_layer = EqualLinear(MOTION_DIM + MLP_WIDTH, MLP_WIDTH)

    def forward(self, motion: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """``motion`` ``(N, 32)``, ``identity`` ``(N, 512)`` or ``(1, 512)`` (broadcast) -> ``(N, 32)``."""
        identity = identity.expand(motion.shape[0], -1)
        return self.mlp(self.in_layer(torch.cat([motion, identity.to(motion.dtype)], dim=1)))


class MotionDecoder(nn.Module):
    """``latent_token_decoder``: a learned 4x4 constant through 13 styled convolutions (style = the adapted latent
    ``ta`` at every layer, no noise) -> the motion maps m1..m4 (:data:`DECODER_OUTPUTS`)."""

    def __init__(self) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.randn(1, MOTION_DIM, CONST_SIZE, CONST_SIZE))
        self.style_conv_layers = nn.ModuleList(
            StyledConv(a, b, 3, MOTION_DIM, upsample=up) for a, b, up in DECODER_LAYERS
        )

    def forward(self, style: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``style`` ``(N, 32)`` -> ``(m1, m2, m3, m4)``."""
        x = self.const.expand(style.shape[0], -1, -1, -1)
        maps = []
        for index, layer in enumerate(self.style_conv_layers):
            x = layer(x, style)
            if index in DECODER_OUTPUTS:
                maps.append(x)
        return tuple(maps)


__all__ = [
    "IdentityAdaptive",
    "IdentityEncoder",
    "MappingMLP",
    "MotionDecoder",
    "MotionEncoder",
]
