"""The mouth's interior: what the pixels between the inner lips show when the mouth opens.

Teeth that the photo shows stay attached to their jaw: a pixel of the open mouth first looks for the photo's own
interior at its position moved back by the upper lip's displacement (upper teeth), then by the lower lip's (lower
teeth). Elsewhere it is synthesized: the lip colour darkened to ``interior_darkness`` at the centre and lighter
towards the lips, ``colour = lip * (d + (1 - d) * r^2 / 2)`` with ``r`` the elliptical radius in the opening
(0 at the centre, 1 at the corners and the lip centres).
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

LIGHTEN = 0.5
"""Share of the way back to the lip colour that the interior reaches at the lips (``r = 1``)."""


@dataclass(frozen=True)
class MouthInterior:
    """Per-portrait data of the interior: the lip colour ``(3, 1)`` (image units) and the photo's own open-mouth
    pixels ``(H * W,)`` bool."""

    lip_colour: torch.Tensor
    source_hole: torch.Tensor

    @classmethod
    def build(cls, image: torch.Tensor, mesh: ControlMesh, triangle_map: np.ndarray) -> MouthInterior:
        inner = np.array([*LIPS_INNER_UPPER[1:-1], *LIPS_INNER_LOWER])
        outer = np.array([*LIPS_OUTER_UPPER, *LIPS_OUTER_LOWER])
        middles = 0.5 * (mesh.points[inner, :2] + mesh.points[outer, :2])
        colours = sample(image, torch.as_tensor(middles, dtype=torch.float32, device=image.device))
        lip = colours.median(dim=1).values[:, None]
        hole_triangles = np.flatnonzero(mesh.hole)
        source_hole = np.isin(triangle_map.ravel(), hole_triangles) & (triangle_map.ravel() >= 0)
        return cls(lip_colour=lip, source_hole=torch.as_tensor(source_hole, device=image.device))


def _own_interior(interior: MouthInterior, plan: WarpPlan, points: torch.Tensor) -> torch.Tensor:
    """``(N,)`` whether ``points`` fall on the photo's own open mouth."""
    col = points[:, 0].floor().long()
    row = points[:, 1].floor().long()
    inside = (col >= 0) & (col < plan.width) & (row >= 0) & (row < plan.height)
    flat = (row.clamp(0, plan.height - 1) * plan.width + col.clamp(0, plan.width - 1)).long()
    return inside & interior.source_hole[flat]


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
    own_upper = _own_interior(interior, plan, upper)
    own_lower = _own_interior(interior, plan, lower) & ~own_upper
    out = synthesized
    if bool(own_upper.any()):
        out[:, own_upper] = sample(image, upper[own_upper])
    if bool(own_lower.any()):
        out[:, own_lower] = sample(image, lower[own_lower])
    return out
