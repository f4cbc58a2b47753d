"""The flow-warping synthesis network (LIA/FLOAT decoder ``Synthesis``).

One global latent ``w`` (B, D) modulates every layer. From a learned 4 x 4 constant, each level ``l`` (resolution
``r = 8 * 2^l`` up to ``size``) runs::

    x            = StyledConv(x, w, upsample)  ->  StyledConv(x, w)
    warp, x, o, g = ToFlow(x, w, feature_l, o)          # warp the encoder skip feature of resolution r
    img          = ToRGB(warp, img)                     # RGB accumulated from the warped features

The output image is not squashed (no tanh): values are roughly in [-1, 1] and only clamped when saved. The
decoder also returns the sampling grid of the 64 x 64 level, as FLOAT does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from motionkit.config import RendererConfig
from motionkit.renderer.layers import ConstantInput, Direction, StyledConv, ToFlow, ToRGB

FIRST_LEVEL_RESOLUTION = 8
"""The first warping level; the constant input is half of it."""

GRID_RESOLUTION = 64
"""Resolution of the sampling grid the decoder returns (FLOAT returns the 64 x 64 level's grid)."""


def level_resolutions(config: RendererConfig) -> list[int]:
    """Resolutions of the warping levels: 8, 16, ..., size."""
    return [2**k for k in range(FIRST_LEVEL_RESOLUTION.bit_length() - 1, config.log_size + 1)]


class Synthesis(nn.Module):
    """FLOAT's ``motion_autoencoder.dec``: the motion basis ``direction`` and the warping decoder.

    ``to_rgb1`` is part of the official layout (and checkpoint) but is never used in the forward pass.
    """

    def __init__(self, config: RendererConfig) -> None:
        super().__init__()
        taps = config.blur_kernel
        style = config.latent_dim
        self.direction = Direction(config.latent_dim, config.motion_dim)
        base = config.channels(FIRST_LEVEL_RESOLUTION // 2)
        self.input = ConstantInput(base, FIRST_LEVEL_RESOLUTION // 2)
        self.conv1 = StyledConv(base, base, 3, style, taps=taps)
        self.to_rgb1 = ToRGB(base, upsample=False, taps=taps)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.to_flows = nn.ModuleList()
        in_channels = base
        for resolution in level_resolutions(config):
            out_channels = config.channels(resolution)
            self.convs.append(StyledConv(in_channels, out_channels, 3, style, upsample=True, taps=taps))
            self.convs.append(StyledConv(out_channels, out_channels, 3, style, taps=taps))
            self.to_rgbs.append(ToRGB(out_channels, taps=taps))
            self.to_flows.append(ToFlow(out_channels, style, resolution, taps=taps))
            in_channels = out_channels

    def forward(
        self, latent: torch.Tensor, features: Sequence[torch.Tensor], channels_last: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode latents with the encoder's skip features.

        Args:
            latent: ``(N, D)`` decoder latents (FLOAT: ``s_r + r_d[t]``).
            features: skip features coarse to fine, ``(N or 1, c_r, r, r)`` for ``r = 8 ... size``; a batch of 1
                is shared by all ``N`` latents without copying.
            channels_last: start from a channels-last constant so that the convolutions run in that layout.

        Returns:
            ``(images (N, 3, size, size), grid (N, 64, 64, 2))``.
        """
        out = self.input(latent.shape[0])
        if channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        out = self.conv1(out, latent)
        image: torch.Tensor | None = None
        skip_flow: torch.Tensor | None = None
        grid_64: torch.Tensor | None = None
        last = len(features) - 1
        for level, feature in enumerate(features):
            out = self.convs[2 * level](out, latent)
            out = self.convs[2 * level + 1](out, latent)
            warp, blended, skip_flow, grid = self.to_flows[level](out, latent, feature, skip_flow, blend=level < last)
            if blended is not None:
                out = blended
            image = self.to_rgbs[level](warp, image)
            if grid.shape[1] == GRID_RESOLUTION:
                grid_64 = grid
        assert image is not None, "the decoder has at least one level"
        assert grid_64 is not None, "the decoder has a 64 x 64 level (size >= 64)"
        return image.contiguous(), grid_64
