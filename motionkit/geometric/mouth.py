"""The mouth's interior: what the pixels between the inner lips show when the mouth opens.

A real mouth opens at the jaw: the upper teeth stay under the upper lip, the lower teeth drop with the lower lip,
and the mouth's dark inside shows between them. The photo's own open mouth (the pixels inside its inner-lip
contour, teeth where the photo shows them) is split at a *bite line*: a pixel at ``v`` between the upper inner lip
``U(u)`` and the lower one ``L(u)`` (face coordinates, ``u`` across, ``v`` down) belongs to the upper teeth if
``(v - U) / (L - U) < upper_teeth``, to the lower teeth otherwise. Per frame:

- the upper jaw's map ``A`` (photo -> frame) is the least-squares affine map of the points that only the head moves
  (:data:`UPPER_JAW`), so the teeth turn and tilt with the head; the jaw's drop ``j(u)`` at ``u`` across the mouth
  is how far the lower inner lip lies there from where ``A`` alone puts it (linear between its points);
- a pixel ``p`` of the open mouth shows the photo's upper teeth at ``q = A^-1(p)`` if that point is one, else the
  lower teeth at ``q - A_lin^-1 j(u_q)`` (each column of teeth moves with the lower lip above it, as the lip drapes
  over them: the row curves with the lip but no tooth is stretched), else the synthesized inside: the lip colour
  darkened to ``interior_darkness`` at the centre and lighter towards the lips,
  ``colour = lip * (d + (1 - d) * interior_lighten * r^2)`` with ``r`` the elliptical radius in the opening (0 at
  the centre, 1 at the corners and the lip centres).

The defaults (``upper_teeth`` 0: all of the photo's teeth drop with the jaw) are the ones the face stack's
468-point mesh reads best on a smile that shows teeth (docs/geometric.md, Accuracy, has the readings of the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.mesh import ControlMesh, inside_polygon
from motionkit.geometric.topology import (
    EYE_LEFT_CORNERS,
    EYE_RIGHT_CORNERS,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
    LOWER_LIP_CENTRE,
    MOUTH_CORNERS,
    NOSE_BASE,
    UPPER_LIP_CENTRE,
)
from motionkit.geometric.warp import WarpField, WarpPlan, sample

UPPER_JAW = (NOSE_BASE, UPPER_LIP_CENTRE, EYE_LEFT_CORNERS[1], EYE_RIGHT_CORNERS[1])
"""Points that only the head moves (no expression reaches the nose's base or the inner eye corners, and the mouth
corners' pull fades out before the upper lip's middle): their affine fit is the upper jaw's map from the photo to a
frame."""

LOWER_LIP = (LIPS_INNER_UPPER[0], *LIPS_INNER_LOWER, LIPS_INNER_UPPER[-1])
"""The lower inner lip between the inner mouth corners: the lower teeth drop with it (:func:`draw_interior`)."""

_MOUTH_LOOP = (*LIPS_INNER_UPPER, *LIPS_INNER_LOWER[::-1])


@dataclass(frozen=True)
class MouthInterior:
    """Per-portrait data of the interior: the lip colour ``(3, 1)`` (image units), the photo's own open-mouth pixels
    of the upper and the lower teeth, each ``(H * W,)`` bool, ``upper_jaw_pinv`` ``(3, J)``, the pseudo-inverse of
    the photo's :data:`UPPER_JAW` points with a column of ones (the affine fit's design matrix; computed once, so a
    frame's fit is a product: LAPACK's least squares varies in its last bits with the memory alignment of its
    inputs, which made identical requests draw different frames), the lower lip contour
    (:data:`LOWER_LIP`, ordered across the mouth: vertex indices ``lower_lip_index`` ``(K,)``) ``lower_lip``
    ``(K, 3)`` the same way, and ``lower_lip_u`` ``(K,)`` its positions across the face,
    ``u = x @ across[:2] + across[2]``."""

    lip_colour: torch.Tensor
    upper_hole: torch.Tensor
    lower_hole: torch.Tensor
    upper_jaw_pinv: torch.Tensor
    lower_lip: torch.Tensor
    lower_lip_index: torch.Tensor
    lower_lip_u: torch.Tensor
    across: torch.Tensor

    @classmethod
    def build(
        cls, image: torch.Tensor, mesh: ControlMesh, height: int, width: int, config: GeometricConfig
    ) -> MouthInterior:
        inner = np.array([*LIPS_INNER_UPPER[1:-1], *LIPS_INNER_LOWER])
        outer = np.array([*LIPS_OUTER_UPPER, *LIPS_OUTER_LOWER])
        middles = 0.5 * (mesh.points[inner, :2] + mesh.points[outer, :2])
        device = image.device
        colours = sample(image, torch.as_tensor(middles, dtype=torch.float32, device=device))
        lip = colours.median(dim=1).values[:, None]
        upper, lower = _split_at_bite(mesh, height, width, config.upper_teeth)
        jaw = np.concatenate([mesh.points[list(UPPER_JAW), :2], np.ones((len(UPPER_JAW), 1))], axis=1)
        e_x = mesh.frame.axes[0, :2] / np.linalg.norm(mesh.frame.axes[0, :2])
        across = np.append(e_x, -mesh.frame.origin[:2] @ e_x)
        contour = mesh.points[list(LOWER_LIP), :2]
        order = np.argsort(contour @ e_x)
        lower_lip = np.concatenate([contour, np.ones((len(contour), 1))], axis=1)[order]

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32, device=device)

        return cls(
            lip_colour=lip,
            upper_hole=torch.as_tensor(upper.ravel(), device=device),
            lower_hole=torch.as_tensor(lower.ravel(), device=device),
            upper_jaw_pinv=tensor(np.linalg.pinv(jaw)),
            lower_lip=tensor(lower_lip),
            lower_lip_index=torch.as_tensor(np.asarray(LOWER_LIP)[order], device=device),
            lower_lip_u=tensor(lower_lip @ across),
            across=tensor(across),
        )


def _split_at_bite(mesh: ControlMesh, height: int, width: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W)`` bool masks of the photo's own open mouth above and below its bite line, ``share`` of the lip gap
    below the upper inner lip (module docstring)."""
    loop = mesh.points[list(_MOUTH_LOOP), :2]
    low = np.maximum(np.floor(loop.min(axis=0)).astype(int), 0)
    high = np.minimum(np.ceil(loop.max(axis=0)).astype(int) + 1, [width, height])
    upper = np.zeros((height, width), dtype=bool)
    lower = np.zeros((height, width), dtype=bool)
    if (high <= low).any():
        return upper, lower
    cols, rows = np.meshgrid(np.arange(low[0], high[0]), np.arange(low[1], high[1]))
    centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
    inside = inside_polygon(centres, loop)
    corners = (LIPS_INNER_UPPER[0], LIPS_INNER_UPPER[-1])
    local = mesh.frame.coords(np.concatenate([centres, np.zeros((len(centres), 1))], axis=1))
    upper_lip = mesh.frame.coords(mesh.points[list(LIPS_INNER_UPPER)])
    lower_lip = mesh.frame.coords(mesh.points[[corners[0], *LIPS_INNER_LOWER, corners[1]]])
    top = _along(local[:, 0], upper_lip)
    gap = np.maximum(_along(local[:, 0], lower_lip) - top, 1e-6)
    above = (local[:, 1] - top) / gap < share
    upper[rows.ravel()[inside & above], cols.ravel()[inside & above]] = True
    lower[rows.ravel()[inside & ~above], cols.ravel()[inside & ~above]] = True
    return upper, lower


def _along(u: np.ndarray, contour: np.ndarray) -> np.ndarray:
    """A lip contour's ``v`` at ``u`` (face coordinates ``(K, 3)``; linear between points, constant beyond)."""
    order = np.argsort(contour[:, 0])
    return np.interp(u, contour[order, 0], contour[order, 1])


def _interpolate(x: torch.Tensor, knots: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``(N, 2)``: ``values`` ``(K, 2)`` at increasing ``knots`` ``(K,)`` linearly interpolated at ``x`` ``(N,)``
    (constant beyond the ends)."""
    right = torch.searchsorted(knots, x.contiguous()).clamp(1, len(knots) - 1)
    left = right - 1
    share = ((x - knots[left]) / (knots[right] - knots[left]).clamp_min(1e-6)).clamp(0.0, 1.0)
    return values[left] + share[:, None] * (values[right] - values[left])


def _own_interior(hole: torch.Tensor, plan: WarpPlan, points: torch.Tensor) -> torch.Tensor:
    """``(N,)`` whether ``points`` fall on the part ``hole`` ``(H * W,)`` of the photo's own open mouth."""
    col = points[:, 0].floor().long()
    row = points[:, 1].floor().long()
    inside = (col >= 0) & (col < plan.width) & (row >= 0) & (row < plan.height)
    flat = (row.clamp(0, plan.height - 1) * plan.width + col.clamp(0, plan.width - 1)).long()
    return inside & hole[flat]


def draw_interior(
    image: torch.Tensor,
    interior: MouthInterior,
    plan: WarpPlan,
    field: WarpField,
    deformed: torch.Tensor,
    config: GeometricConfig,
) -> torch.Tensor:
    """``(3, K)`` colours of the ``K`` region pixels in the mouth hole (``field.in_hole``), for deformed vertices
    ``(V, 2)``."""
    points = plan.centres[field.in_hole]
    # the upper jaw's affine map photo -> frame, least squares over points only the head moves: frame = X @ M
    moved_jaw = deformed[list(UPPER_JAW)]
    fit = interior.upper_jaw_pinv @ moved_jaw  # (3, 2)
    linear, shift = fit[:2], fit[2]
    inverse = torch.linalg.inv(linear)
    drops = deformed[interior.lower_lip_index] - interior.lower_lip @ fit  # (K, 2): the jaw's, beyond the head's
    upper = (points - shift) @ inverse
    u = upper @ interior.across[:2] + interior.across[2]
    lower = upper - _interpolate(u, interior.lower_lip_u, drops) @ inverse
    left, right = deformed[MOUTH_CORNERS[0]], deformed[MOUTH_CORNERS[1]]
    across = right - left
    half_width = 0.5 * across.norm().clamp_min(1.0)
    along = across / (2.0 * half_width)
    normal = torch.stack([-along[1], along[0]])
    centre = 0.5 * (deformed[UPPER_LIP_CENTRE] + deformed[LOWER_LIP_CENTRE])
    half_gap = 0.5 * (deformed[LOWER_LIP_CENTRE] - deformed[UPPER_LIP_CENTRE]).norm().clamp_min(1.0)
    offset = points - centre
    radius2 = ((offset @ along) / half_width) ** 2 + ((offset @ normal) / half_gap) ** 2
    dark = config.interior_darkness
    shade = dark + (1.0 - dark) * config.interior_lighten * radius2.clamp(max=1.0)
    synthesized = (interior.lip_colour + 1.0) * shade[None] - 1.0
    own_upper = _own_interior(interior.upper_hole, plan, upper)
    own_lower = _own_interior(interior.lower_hole, plan, lower) & ~own_upper
    out = synthesized
    if bool(own_upper.any()):
        out[:, own_upper] = sample(image, upper[own_upper])
    if bool(own_lower.any()):
        out[:, own_lower] = sample(image, lower[own_lower])
    return out
