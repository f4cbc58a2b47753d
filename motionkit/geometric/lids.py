"""Drawn eyelids: lid skin that slides over the eye as it blinks, so that a closed eye shows no white and no iris.

The FaceMesh lid points sit inside the visible eye: the white and the iris reach past them by about
``lid_margin`` eye widths, and the warp carries that strip along with the lid skin, so moved landmarks alone leave
it squeezed under the lash line. Each eye is therefore drawn again after the warp, in the frame of its deformed
corners (``u`` along the eye from the outer corner, 0 .. 1, ``v`` across it, down, in pixels):

- the visible opening is the lid contours ``U(u)`` (upper) and ``L(u)`` (lower) grown by the margin
  ``m(u) = lid_margin * w * sqrt(1 - x^2)`` (``w`` the eye width, ``x`` the position between the grown corners,
  -1 .. 1): an almond a little larger than the landmarks';
- at blink ``b`` the upper lid's edge comes down to ``E = U - m + b * (m + t * (L - U) + sag)`` and the lower
  lid's rises to ``F = L + m - b * (m + (1 - t) * (L - U) - sag)`` (``t = lid_meeting``), so at ``b = 1`` they meet
  and cover the grown opening;
- the lid skin is the skin band of height ``h = lid_band * w`` above the opening (below it for the lower lid),
  stretched over the band and the covered strip: a pixel at ``v`` in ``[U - m - h, E]`` shows the warped frame at
  ``U - m - h + (v - (U - m - h)) * h / (E - (U - m - h))``, the lid's own texture pulled down as a real lid
  slides over the eyeball. At ``b = 0``, at the eye's ends and at the band's far edge this is the identity, so the
  drawing has no seam;
- the skin over the covered strip is shaded by ``1 - lid_shading * b * s^2`` (``s`` 0 at the open eye's edge, 1 at
  the lid's edge: the lid curves away from the light as it covers the eyeball) and the upper edge carries a lash
  line, a darkening ``lash_darkness * b * exp(-(d / (lash_width * w))^2)`` at distance ``d`` from ``E``;
- closed lids meet ``lid_sag`` eye widths (scaled by the margin's profile) below the landmarks' meeting line at the
  eye's middle (``sag``): a closed lid's edge curves down over the eyeball (a straight meeting line read as a
  narrowed eye in the refined mesh, 0.13-0.23 on Grace Hopper against 0.10-0.16).

Only the two eye boxes are read and written, and only pixels whose value changes are written (the identity map is
skipped), so a frame without a blink is untouched.
"""

from __future__ import annotations

import numpy as np
import torch

from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.topology import (
    EYE_LEFT_CORNERS,
    EYE_LEFT_LOWER,
    EYE_LEFT_UPPER,
    EYE_RIGHT_CORNERS,
    EYE_RIGHT_LOWER,
    EYE_RIGHT_UPPER,
)
from motionkit.geometric.warp import sample

EYES = (
    (EYE_LEFT_UPPER, EYE_LEFT_LOWER, EYE_LEFT_CORNERS),
    (EYE_RIGHT_UPPER, EYE_RIGHT_LOWER, EYE_RIGHT_CORNERS),
)
"""Upper lid, lower lid and (outer, inner) corners of the image-left and image-right eyes, in the order of the
``blink_left`` and ``blink_right`` axes."""

_STILL = 1e-3
"""Pixels whose sample point moves less than this (pixels) and whose shading is below it are left as they are."""


def _profile(u: np.ndarray, contour_u: np.ndarray, contour_v: np.ndarray) -> np.ndarray:
    """A lid contour's ``v`` at ``u`` in [0, 1] (linear between its points and the corners)."""
    order = np.argsort(contour_u)
    return np.interp(u, contour_u[order], contour_v[order])


def _eye_box(
    image: torch.Tensor, positions: np.ndarray, eye: tuple[tuple[int, ...], ...], blink: float,
    config: GeometricConfig,
) -> None:  # fmt: skip
    """Draw one eye's lids at ``blink`` (> 0) into ``image`` ``(3, H, W)`` (in place) for deformed vertex
    ``positions`` ``(V, 2)``."""
    upper, lower, corners = eye
    outer, inner = positions[corners[0]], positions[corners[1]]
    width = float(np.linalg.norm(inner - outer))
    if width < 1.0:
        return
    along = (inner - outer) / width
    normal = np.array([-along[1], along[0]])
    if normal[1] < 0.0:
        normal = -normal  # v points down the face
    ends_u, ends_v = np.array([0.0, 1.0]), np.zeros(2)
    up = (positions[list(upper)] - outer) @ np.stack([along / width, normal], axis=1)
    low = (positions[list(lower)] - outer) @ np.stack([along / width, normal], axis=1)
    grow = config.lid_corner_reach
    band = config.lid_band * width
    # the box: the grown eye and the bands above and below it, in image pixels
    top_v = min(float(up[:, 1].min()), 0.0) - config.lid_margin * width - band
    bottom_v = max(float(low[:, 1].max()), 0.0) + config.lid_margin * width + band
    frame = np.array([[u * width, v] for u in (-grow, 1.0 + grow) for v in (top_v, bottom_v)])
    box = outer + frame[:, :1] * along + frame[:, 1:] * normal
    _, height, image_width = image.shape
    col0, row0 = (max(int(np.floor(box[:, k].min())), 0) for k in (0, 1))
    col1 = min(int(np.ceil(box[:, 0].max())) + 1, image_width)
    row1 = min(int(np.ceil(box[:, 1].max())) + 1, height)
    if col1 <= col0 or row1 <= row0:
        return
    cols, rows = np.meshgrid(np.arange(col0, col1) + 0.5, np.arange(row0, row1) + 0.5)
    centres = np.stack([cols.ravel(), rows.ravel()], axis=1)
    offset = centres - outer
    u = offset @ along / width
    v = offset @ normal
    x = (2.0 * u - 1.0) / (1.0 + 2.0 * grow)
    margin = config.lid_margin * width * np.sqrt(np.clip(1.0 - x * x, 0.0, 1.0))
    between = np.clip(u, 0.0, 1.0)  # the lids meet at the corners: beyond them the contours are the corners'
    upper_v = _profile(between, np.concatenate([ends_u, up[:, 0]]), np.concatenate([ends_v, up[:, 1]]))
    lower_v = _profile(between, np.concatenate([ends_u, low[:, 0]]), np.concatenate([ends_v, low[:, 1]]))
    gap = np.maximum(lower_v - upper_v, 0.0)
    meeting = config.lid_meeting
    sag = config.lid_sag / config.lid_margin * margin
    edge_up = upper_v - margin + blink * (margin + meeting * gap + sag)
    edge_low = lower_v + margin - blink * (margin + (1.0 - meeting) * gap - sag)
    far_up, far_low = upper_v - margin - band, lower_v + margin + band
    source_v = v.copy()
    covered = np.zeros_like(v)  # s: 0 at the open eye's edge, 1 at the lid's edge (only over the covered strip)
    in_up = (v >= far_up) & (v < edge_up)
    in_low = (v <= far_low) & (v > edge_low) & ~in_up
    source_v[in_up] = far_up[in_up] + (v - far_up)[in_up] * band / (edge_up - far_up)[in_up]
    source_v[in_low] = far_low[in_low] - (far_low - v)[in_low] * band / (far_low - edge_low)[in_low]
    open_up, open_low = upper_v - margin, lower_v + margin
    slid_up = in_up & (v > open_up)
    slid_low = in_low & (v < open_low)
    covered[slid_up] = (v - open_up)[slid_up] / (edge_up - open_up)[slid_up]
    covered[slid_low] = (open_low - v)[slid_low] / (open_low - edge_low)[slid_low]
    lash = config.lash_width * width
    # the lash line lies along the upper lid's edge, only where the lid covers the eye (not beyond its corners)
    darkening = config.lash_darkness * np.exp(-(((v - edge_up) / lash) ** 2)) * (margin > 0.0)
    factor = (1.0 - config.lid_shading * covered**2) * (1.0 - darkening)
    factor = 1.0 - blink * (1.0 - factor)
    change = (np.abs(source_v - v) > _STILL) | (1.0 - factor > _STILL)
    if not change.any():
        return
    pick = np.flatnonzero(change)
    points = outer + u[pick, None] * width * along + source_v[pick, None] * normal
    device = image.device
    colours = sample(image, torch.as_tensor(points, dtype=torch.float32, device=device))
    shade = torch.as_tensor(factor[pick], dtype=torch.float32, device=device)
    colours = (colours + 1.0) * shade[None] - 1.0
    flat = torch.as_tensor((rows.ravel()[pick] - 0.5) * image_width + cols.ravel()[pick] - 0.5, device=device)
    image.view(3, -1).index_copy_(1, flat.round().long(), colours)


def draw_lids(image: torch.Tensor, positions: np.ndarray, blinks: tuple[float, float], config: GeometricConfig) -> None:
    """Draw the lids of both eyes into the warped frame ``image`` ``(3, H, W)`` in [-1, 1] (in place), for deformed
    vertex ``positions`` ``(V, 2)`` and the ``(blink_left, blink_right)`` values (an eye at ``<= 0`` is left as the
    warp drew it: an eye opened wider shows its own white)."""
    for eye, blink in zip(EYES, blinks, strict=True):
        if blink > 0.0:
            _eye_box(image, positions, eye, min(blink, 1.0), config)
