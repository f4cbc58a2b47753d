"""IMTalker's frame decoder (``frame_decoder``, the official ``SynthesisNetwork``; spec 2.6).

From the aligned features ``a_0 .. a_5`` (coarse 8 px to fine 256 px)::

    x = a_0
    for i in 0..4:  x = stage_i(resblock_i([upconv_i(x) | a_{i+1}]))     # 16, 32, 64, 128, 256 px
    frame = sigmoid(pixel_shuffle_2(conv3x3(leaky_relu(x, 0.2))))        # (N, 3, 512, 512) in (0, 1)

``stage_i`` is one :class:`~motionkit.families.imtalker.renderer_attention.GlobalBlock` below
:data:`SWIN_FROM` px and two :class:`~motionkit.families.imtalker.renderer_attention.SwinBlock` (shift 0, then
:data:`~motionkit.families.imtalker.renderer_attention.SHIFT`) from there.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from motionkit.families.imtalker.renderer_attention import SHIFT, GlobalBlock, Stage, SwinBlock
from motionkit.families.imtalker.renderer_blocks import ConvResBlock
from motionkit.families.imtalker.renderer_encoders import FEATURE_WIDTHS
from motionkit.renderer.ops import LEAKY_RELU_SLOPE

SWIN_FROM = 128
"""Resolution from which the decoder's attention is windowed (the official ``swin_res_threshold``)."""

COARSEST = 8
"""Resolution of the first aligned feature."""

UPSCALE = 2
"""The final pixel shuffle's factor: 12 channels at 256 px -> RGB at 512 px."""

RGB = 3


class FrameDecoder(nn.Module):
    """See the module docstring. Widths: :data:`~motionkit.families.imtalker.renderer_encoders.FEATURE_WIDTHS`."""

    def __init__(self) -> None:
        super().__init__()
        widths = tuple(reversed(FEATURE_WIDTHS))  # 512 (8 px), 512, 256, 128, 64, 32 (256 px)
        sizes = [COARSEST * 2**i for i in range(1, len(widths))]
        self.upconv_blocks = nn.ModuleList(ConvResBlock(a, b, "up") for a, b in itertools.pairwise(widths))
        self.resblocks = nn.ModuleList(ConvResBlock(2 * c, c) for c in widths[1:])
        self.transformer_blocks = nn.ModuleList(
            Stage([GlobalBlock(c, size)] if size < SWIN_FROM else [SwinBlock(c, size, 0), SwinBlock(c, size, SHIFT)])
            for c, size in zip(widths[1:], sizes)
        )
        self.final_conv = nn.Sequential(
            nn.LeakyReLU(LEAKY_RELU_SLOPE), nn.Conv2d(widths[-1], RGB * UPSCALE**2, 3, padding=1)
        )

    def forward(self, aligned: Sequence[torch.Tensor]) -> torch.Tensor:
        """``aligned`` coarse to fine (6 maps) -> frames ``(N, 3, 512, 512)`` in ``(0, 1)``."""
        x = aligned[0]
        for up, res, stage, skip in zip(self.upconv_blocks, self.resblocks, self.transformer_blocks, aligned[1:]):
            x = stage(res(torch.cat([up(x), skip.to(x.dtype)], dim=1)))
        return torch.sigmoid(F.pixel_shuffle(self.final_conv(x), UPSCALE))
