"""How visible the seam of a pasted-back face is: gradient energy along the blend mask's border against its
surroundings.

For a frame ``I`` (luminance ``Y``, the mean of R, G and B) and a blend mask ``m`` in ``[0, 1]``::

    E(x)    = |grad Y(x)|^2                                   central differences
    border  = pixels within BORDER_WIDTH of the m = 1/2 contour
    near    = pixels within reach = NEAR_SHARE * sqrt(area(m >= 1/2)) of the contour, outside ``border``
    ratio   = mean_border E / mean_near E

A pasted face whose colour or brightness differs from the photo leaves a step along the contour, which a hard mask
shows as a line of high gradient (ratio >> 1); a feathered, colour-matched paste-back reads like the content around
it (ratio near 1). Comparing with the pixels on both sides of the border, not with the whole face, keeps the measure
free of the face's own edges (eyes, mouth) and of a flat background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from motionkit.errors import ShapeError, require

BORDER_WIDTH = 1
"""Half-width in pixels of the band along the contour whose gradient energy is measured."""

NEAR_SHARE = 0.15
"""Reach of the comparison ring on both sides of the contour, as a share of the square root of the mask's area."""


@dataclass(frozen=True)
class BlendSeam:
    """Result of :func:`blend_seam`.

    Attributes:
        border: mean gradient energy along the mask's border (``(levels / pixel)^2``, 8-bit levels).
        near: mean gradient energy of the pixels near the border on both sides.
        ratio: ``border / near`` (about 1: no visible seam).
    """

    border: float
    near: float
    ratio: float


def blend_seam(frame: np.ndarray, mask: np.ndarray) -> BlendSeam:
    """The seam measure of the module docstring.

    Args:
        frame: ``(H, W, 3)`` uint8 (or float in 8-bit levels) RGB, a frame after paste-back.
        mask: ``(H, W)`` the blend mask used, in ``[0, 1]``.

    Raises:
        ShapeError: mismatched shapes, or a mask with no border inside the frame.
    """
    pixels = np.asarray(frame, dtype=np.float64)
    weights = np.asarray(mask, dtype=np.float64)
    require(
        pixels.ndim == 3 and pixels.shape[2] == 3 and weights.shape == pixels.shape[:2],
        ShapeError,
        f"frame must be (H, W, 3) and mask (H, W) of the same size, got {pixels.shape} and {weights.shape}.",
    )
    luminance = pixels.mean(axis=2)
    dy, dx = np.gradient(luminance)
    energy = dx * dx + dy * dy
    inside = weights >= 0.5
    contour = inside & ~ndimage.binary_erosion(inside, border_value=1)
    require(
        bool(contour.any()) and not bool(inside.all()),
        ShapeError,
        "the mask has no border inside the frame (it is empty or covers everything); nothing to measure.",
    )
    distance = ndimage.distance_transform_edt(~contour)
    reach = max(NEAR_SHARE * math.sqrt(float(inside.sum())), 2.0 * BORDER_WIDTH + 1)
    border = distance <= BORDER_WIDTH
    near = (distance > BORDER_WIDTH) & (distance <= reach)
    border_energy = float(energy[border].mean())
    near_energy = float(energy[near].mean())
    return BlendSeam(border=border_energy, near=near_energy, ratio=border_energy / max(near_energy, 1e-12))
