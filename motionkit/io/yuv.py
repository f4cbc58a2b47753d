"""RGB frames to YUV 4:2:0 planes in torch, on the frames' own device, as libswscale converts them for the encoder.

H.264 in ``yuv420p`` stores a luma plane ``Y`` (H, W) and two chroma planes ``U``, ``V`` (H/2, W/2). The writer
used to hand ``rgb24`` frames to PyAV, whose encoder converts them with libswscale (``sws_scale_frame`` with
``SWS_BILINEAR``, the source's colorspace and range unspecified). :func:`rgb_to_yuv420` computes the same planes
with torch, so that a GPU converts its frames before the copy to the host (half the bytes of RGB) and the encoder
thread only encodes. What libswscale does there was measured (PyAV 18.1, libswscale 9.5; ``tests/io/test_yuv.py``
re-measures it on every run):

* **Matrix and range**: ITU-R BT.601 in limited ("TV") range, ``Y = 16 + 219 (Kr R + Kg G + Kb B) / 255`` with
  ``Kr = 0.299``, ``Kb = 0.114``, ``U = 128 + 224 (B - Y') / (1.772 * 255)``,
  ``V = 128 + 224 (R - Y') / (1.402 * 255)``, in 15-bit fixed point (:data:`LUMA_WEIGHTS`, :data:`U_WEIGHTS`,
  :data:`V_WEIGHTS`, ``round(K * 2**15)``).
* **Luma**: rounded twice, first to 1/64 of a level, then to a level. This reproduces libswscale's luma bit for
  bit: all 2**24 colours give the same ``Y``.
* **Chroma siting and filter**: the two pixels of a column pair are summed (libswscale's "half" input), the result
  rounded to 1/64 of a level; rows are then filtered with the bilinear taps ``(1, 3, 3, 1) / 8`` over rows
  ``2i-1 .. 2i+2`` (the chroma sample sits between rows ``2i`` and ``2i+1``; the first and last rows are repeated
  at the edges) and rounded to a level. The result differs from libswscale's by at most 1 level, in about 7 % of
  the chroma samples of random frames (0.5-1 % against its bit-exact C path, ``SWS_ACCURATE_RND | SWS_BITEXACT``):
  its default vertical filter on x86 rounds partial products in SIMD (``pmulhw``), and its horizontal stage
  differs from this one by one level where a value is within 0.05 of a half. Luma, the plane that carries
  most of the detail, is exact.
* **Small frames**: below :data:`MIN_MATCHED_HEIGHT` rows libswscale builds its vertical chroma filter otherwise
  (2 rows: the bottom row alone; 4 rows: two-row averages; 6 rows: renormalized taps at the top), so the writer
  leaves such frames to it.

Every step is integer arithmetic in int32 (the largest intermediate is below ``2**24``), so the planes are the same
bits on every device and CPU kind. The output of an 8-bit input stays inside the limited range (Y in 16..235, U and
V in 16..240), so nothing needs clamping.
"""

from __future__ import annotations

import torch

from motionkit.errors import ShapeError

FIXED_POINT_BITS = 15
"""The conversion weights are ``round(K * 2**15)`` (libswscale's ``RGB2YUV_SHIFT``)."""
STAGE_BITS = 6
"""Intermediate values carry 6 fractional bits (1/64 of a level) before the final rounding."""
LUMA_OFFSET = 16
"""Limited range: black is Y = 16."""
CHROMA_OFFSET = 128
"""Chroma zero."""
LUMA_WEIGHTS = (8414, 16519, 3208)
"""``round(K * 219 / 255 * 2**15)`` for ``(Kr, Kg, Kb) = (0.299, 0.587, 0.114)`` (BT.601, limited range)."""
U_WEIGHTS = (-4857, -9535, 14392)
"""``round(c * 224 / 255 * 2**15)`` for U's ``(-Kr, -Kg, 1 - Kb) / (2 (1 - Kb))``."""
V_WEIGHTS = (14392, -12052, -2341)
"""``round(c * 224 / 255 * 2**15)`` for V's ``(1 - Kr, -Kg, -Kb) / (2 (1 - Kr))``."""
VERTICAL_TAPS = (1, 3, 3, 1)
"""Bilinear taps of the 2:1 vertical chroma filter over rows ``2i-1 .. 2i+2`` (sum 8)."""
VERTICAL_TAPS_BITS = 3
"""``log2(sum(VERTICAL_TAPS))``."""
MIN_MATCHED_HEIGHT = 8
"""The smallest (even) height at which the planes match libswscale's within 1 level (measured from 2 rows up)."""


def yuv420_shape(height: int, width: int) -> tuple[int, int]:
    """``(rows, columns)`` of one packed yuv420p frame of ``height x width`` (both even): Y's ``height`` rows, then
    U and V, ``height * width / 4`` bytes each, in ``width``-byte rows."""
    return height * 3 // 2, width


def _weighted(r: torch.Tensor, g: torch.Tensor, b: torch.Tensor, weights: tuple[int, int, int]) -> torch.Tensor:
    """``wr r + wg g + wb b`` in int32."""
    return r * weights[0] + g * weights[1] + b * weights[2]


def _round_shift(x: torch.Tensor, bits: int) -> torch.Tensor:
    """``x / 2**bits`` rounded half up (arithmetic shift: floor)."""
    return (x + (1 << (bits - 1))) >> bits


def rgb_to_yuv420(rgb: torch.Tensor) -> torch.Tensor:
    """``(n, 3, H, W)`` uint8 RGB (H, W even) -> ``(n, 3H/2, W)`` uint8 packed yuv420p planes (module docstring).

    Each frame's bytes are ``Y (H, W)``, ``U (H/2, W/2)``, ``V (H/2, W/2)`` one after the other, the layout
    ``av.VideoFrame.from_ndarray(frame, format="yuv420p")`` takes. Computed on ``rgb``'s device.

    Math, with ``s = 2**15`` and ``q = 2**6``:
    ``Y = floor((floor((w_Y . rgb + 16 s + s / 2q) / (s / q)) + q / 2) / q)``;
    for chroma, ``h = floor((w . (rgb[2j] + rgb[2j+1]) + 256 s + s / q) / (2 s / q))`` per row, then
    ``C_i = floor((h[2i-1] + 3 h[2i] + 3 h[2i+1] + h[2i+2] + 4 q) / (8 q))`` with the edge rows repeated.
    """
    if rgb.dtype != torch.uint8 or rgb.ndim != 4 or rgb.shape[1] != 3 or rgb.shape[2] % 2 or rgb.shape[3] % 2:
        raise ShapeError(
            f"rgb_to_yuv420 takes (n, 3, H, W) uint8 RGB with even H and W, got {rgb.dtype} of shape "
            f"{tuple(rgb.shape)}; pad odd sizes first (VideoWriter does)."
        )
    count, _, height, width = rgb.shape
    x = rgb.to(torch.int32)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    luma_shift = FIXED_POINT_BITS - STAGE_BITS
    y = _round_shift(
        _round_shift(_weighted(r, g, b, LUMA_WEIGHTS) + (LUMA_OFFSET << FIXED_POINT_BITS), luma_shift), STAGE_BITS
    )
    # column pairs summed: one more bit in the sums, so one more bit of shift back to 1/64 of a level
    r2, g2, b2 = (c[..., 0::2] + c[..., 1::2] for c in (r, g, b))
    planes = [y.reshape(count, -1)]
    for weights in (U_WEIGHTS, V_WEIGHTS):
        rows = _round_shift(_weighted(r2, g2, b2, weights) + (CHROMA_OFFSET << (FIXED_POINT_BITS + 1)), luma_shift + 1)
        padded = torch.cat([rows[:, :1], rows, rows[:, -1:]], dim=1)  # rows -1 and H repeat the edge rows
        filtered = torch.zeros_like(rows[:, ::2])
        for offset, tap in enumerate(VERTICAL_TAPS):
            filtered += tap * padded[:, offset : offset + height : 2]
        planes.append(_round_shift(filtered, STAGE_BITS + VERTICAL_TAPS_BITS).reshape(count, -1))
    return torch.cat(planes, dim=1).to(torch.uint8).reshape(count, *yuv420_shape(height, width))
