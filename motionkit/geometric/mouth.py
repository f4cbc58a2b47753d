"""The mouth's interior: what the pixels between the inner lips show when the mouth opens.

Teeth that the photo shows stay attached to their jaw: the photo's own open mouth is split into the part nearer the
upper lip (upper teeth: barycentric weight on the upper inner-lip points at least ``1 - UPPER_TEETH``) and the rest
(lower teeth). A pixel of the open mouth first looks for the upper part at its position moved back by the upper
lip's displacement, then for the lower part moved back by the lower lip's. Elsewhere it is synthesized: the lip
colour darkened to ``interior_darkness`` at the centre and lighter towards the lips,
``colour = lip * (d + (1 - d) * r^2 / 2)`` with ``r`` the elliptical radius in the opening (0 at the centre, 1 at
the corners and the lip centres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.mesh import ControlMesh
from motionkit.geometric.topology import (
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
    LOWER_LIP_CENTRE,
    MOUTH_CORNERS,
    UPPER_LIP_CENTRE,
)
from motionkit.geometric.warp import WarpField, WarpPlan, sample

UPPER_TEETH = 0.5
"""Share of the photo's open mouth, from the upper lip down, that moves with the upper jaw (0.7, closer to where a
smile's teeth meet, made FaceMesh lose the astronaut's lips at wide openings: r 0.15 against 0.81)."""

LIGHTEN = 0.5
"""Share of the way back to the lip colour that the interior reaches at the lips (``r = 1``)."""


@dataclass(frozen=True)
class MouthInterior:
    """Per-portrait data of the interior: the lip colour ``(3, 1)`` (image units) and the photo's own open-mouth
    pixels nearer the upper and the lower lip, each ``(H * W,)`` bool."""

    lip_colour: torch.Tensor
    upper_hole: torch.Tensor
    lower_hole: torch.Tensor

    @classmethod
    def build(cls, image: torch.Tensor, mesh: ControlMesh, triangle_map: np.ndarray) -> MouthInterior:
        inner = np.array([*LIPS_INNER_UPPER[1:-1], *LIPS_INNER_LOWER])
        outer = np.array([*LIPS_OUTER_UPPER, *LIPS_OUTER_LOWER])
        middles = 0.5 * (mesh.points[inner, :2] + mesh.points[outer, :2])
        colours = sample(image, torch.as_tensor(middles, dtype=torch.float32, device=image.device))
        lip = colours.median(dim=1).values[:, None]
        flat = triangle_map.ravel()
        pixels = np.flatnonzero((flat >= 0) & mesh.hole[np.maximum(flat, 0)])
        width = triangle_map.shape[1]
        centres = np.stack([pixels % width + 0.5, pixels // width + 0.5], axis=1)
        corners = mesh.triangles[flat[pixels]]
        upper_share = np.isin(corners, LIPS_INNER_UPPER[1:-1]) + 0.5 * np.isin(corners, _CORNERS)
        weights = np.stack([_barycentric(c, mesh.points[k, :2]) for c, k in zip(centres, corners, strict=True)])
        upper = (weights * upper_share).sum(axis=1) >= 1.0 - UPPER_TEETH
        masks = []
        for part in (upper, ~upper):
            mask = np.zeros(flat.shape, dtype=bool)
            mask[pixels[part]] = True
            masks.append(torch.as_tensor(mask, device=image.device))
        return cls(lip_colour=lip, upper_hole=masks[0], lower_hole=masks[1])


_CORNERS = (LIPS_INNER_UPPER[0], LIPS_INNER_UPPER[-1])
"""The inner-lip corners belong half to each lip."""


def _barycentric(point: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """``(3,)`` barycentric coordinates of ``point`` ``(2,)`` in the triangle ``corners`` ``(3, 2)``."""
    matrix = np.stack([corners[1] - corners[0], corners[2] - corners[0]], axis=1)
    l1, l2 = np.linalg.solve(matrix, point - corners[0])
    return np.array([1.0 - l1 - l2, l1, l2])


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
    moved = deformed - plan.source
    upper = points - moved[UPPER_LIP_CENTRE]
    lower = points - moved[LOWER_LIP_CENTRE]
    left, right = deformed[MOUTH_CORNERS[0]], deformed[MOUTH_CORNERS[1]]
    across = right - left
    half_width = 0.5 * across.norm().clamp_min(1.0)
    along = across / (2.0 * half_width)
    normal = torch.stack([-along[1], along[0]])
    centre = 0.5 * (deformed[UPPER_LIP_CENTRE] + deformed[LOWER_LIP_CENTRE])
    half_gap = 0.5 * (deformed[LOWER_LIP_CENTRE] - deformed[UPPER_LIP_CENTRE]).norm().clamp_min(1.0)
    offset = points - centre
    radius2 = ((offset @ along) / half_width) ** 2 + ((offset @ normal) / half_gap) ** 2
    shade = config.interior_darkness + (1.0 - config.interior_darkness) * LIGHTEN * radius2.clamp(max=1.0)
    synthesized = (interior.lip_colour + 1.0) * shade[None] - 1.0
    own_upper = _own_interior(interior.upper_hole, plan, upper)
    own_lower = _own_interior(interior.lower_hole, plan, lower) & ~own_upper
    out = synthesized
    if bool(own_upper.any()):
        out[:, own_upper] = sample(image, upper[own_upper])
    if bool(own_lower.any()):
        out[:, own_lower] = sample(image, lower[own_lower])
    return out
