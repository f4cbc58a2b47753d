"""The dense backward warp: for every output pixel, the source point it shows.

A pixel ``p`` of the output lies in some deformed triangle ``t``; with its barycentric coordinates ``l`` in the
deformed triangle, it shows the source point ``s = sum_i l_i P_i`` of the source triangle (piecewise-affine warp). The
triangle is found per pixel by a *walk*: start from the source triangle under a fixed-point estimate of the pixel's
source, ``s <- p - d(s)`` with ``d`` the vertex shifts interpolated over the source mesh (its triangles' barycentric
maps are precomputed once per portrait), then step to the neighbour across the edge of the most negative
barycentric coordinate until all are non-negative (``walk_steps`` at most). Only the pixels of the region of
influence are computed; every other pixel is copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from motionkit.geometric.mesh import ControlMesh

INSIDE_TOLERANCE = 1e-4
"""Barycentric coordinates above ``-INSIDE_TOLERANCE`` count as inside (pixels on shared edges stop walking)."""

FIXED_POINT_STEPS = 2
"""Steps of ``s <- p - d(s)`` (``d``: the vertex shifts interpolated over the source mesh) that start the walk near
the pixel's source: exact where the warp is a translation, and good wherever it is smooth."""

DEGENERATE_AREA = 1e-9
"""Deformed triangles with ``|2 * area|`` below this (pixels^2) contain no pixel."""


@dataclass(frozen=True)
class WarpPlan:
    """Per-portrait tensors of the walk (all on one device).

    Attributes:
        pixels: ``(N,)`` flat indices ``row * W + col`` of the region's pixels.
        centres: ``(N, 2)`` their centres ``(col + 0.5, row + 0.5)``.
        start: ``(N,)`` the source triangle at each pixel.
        triangle_map: ``(H * W,)`` source triangle of every pixel (``-1`` outside the region).
        triangles: ``(F, 3)``; neighbours: ``(F, 3)`` with ``-1`` replaced by the triangle itself; hole: ``(F,)``.
        source: ``(V, 2)`` source vertex positions; source_a ``(F, 2)`` and source_inverse ``(F, 2, 2)``: each source
            triangle's first corner and inverse edge matrix (barycentric coordinates in the source).
        height, width: the portrait's size.
    """

    pixels: torch.Tensor
    centres: torch.Tensor
    start: torch.Tensor
    triangle_map: torch.Tensor
    triangles: torch.Tensor
    neighbours: torch.Tensor
    hole: torch.Tensor
    source: torch.Tensor
    source_a: torch.Tensor
    source_inverse: torch.Tensor
    height: int
    width: int

    @classmethod
    def build(cls, mesh: ControlMesh, triangle_map: np.ndarray, device: torch.device) -> WarpPlan:
        height, width = triangle_map.shape
        flat = triangle_map.ravel()
        pixels = np.flatnonzero(flat >= 0)
        centres = np.stack([pixels % width + 0.5, pixels // width + 0.5], axis=1)
        neighbours = mesh.neighbours.copy()
        missing = neighbours < 0
        neighbours[missing] = np.broadcast_to(np.arange(len(neighbours))[:, None], neighbours.shape)[missing]

        def tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(array)).to(device=device, dtype=dtype)

        source = tensor(mesh.points[:, :2], torch.float32)
        source_a, source_inverse = _barycentric_maps(source[tensor(mesh.triangles, torch.int64)])
        return cls(
            pixels=tensor(pixels, torch.int64),
            centres=tensor(centres, torch.float32),
            start=tensor(flat[pixels], torch.int64),
            triangle_map=tensor(flat, torch.int64),
            triangles=tensor(mesh.triangles, torch.int64),
            neighbours=tensor(neighbours, torch.int64),
            hole=tensor(mesh.hole, torch.bool),
            source=source,
            source_a=source_a,
            source_inverse=source_inverse,
            height=height,
            width=width,
        )


@dataclass(frozen=True)
class WarpField:
    """Where each region pixel samples the source: ``sources`` ``(N, 2)`` in pixel coordinates, the deformed
    triangle it lies in ``(N,)``, whether that is the mouth hole ``(N,)`` and whether the walk reached it ``(N,)``
    (else ``sources`` extends the last triangle's affine map)."""

    sources: torch.Tensor
    triangle: torch.Tensor
    in_hole: torch.Tensor
    converged: torch.Tensor


def _barycentric_maps(corners: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per triangle ``(F, 3, 2)`` corners: the first corner ``(F, 2)`` and ``(F, 2, 2)`` inverse edge matrices."""
    a = corners[:, 0]
    e1, e2 = corners[:, 1] - a, corners[:, 2] - a
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    degenerate = det.abs() < DEGENERATE_AREA
    det = torch.where(degenerate, torch.ones_like(det), det)
    inverse = torch.stack([torch.stack([e2[:, 1], -e2[:, 0]], 1), torch.stack([-e1[:, 1], e1[:, 0]], 1)], 1)
    inverse = inverse / det[:, None, None]
    return a, torch.where(degenerate[:, None, None], torch.zeros_like(inverse), inverse)


def _weights(points: torch.Tensor, a: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """``(N, 3)`` barycentric coordinates of ``points`` in triangles with corner ``a`` and ``inverse`` (gathered)."""
    d = points - a
    l1 = inverse[:, 0, 0] * d[:, 0] + inverse[:, 0, 1] * d[:, 1]
    l2 = inverse[:, 1, 0] * d[:, 0] + inverse[:, 1, 1] * d[:, 1]
    return torch.stack([1.0 - l1 - l2, l1, l2], 1)


def warp_field(plan: WarpPlan, deformed: torch.Tensor, steps: int) -> WarpField:
    """Source points of the region's pixels for deformed vertex positions ``(V, 2)`` (float32, on the plan's device)."""
    a, inverse = _barycentric_maps(deformed[plan.triangles])
    source_corners = plan.source[plan.triangles]
    p = plan.centres
    triangle = plan.start
    shift = deformed - plan.source
    guess = p
    for _ in range(FIXED_POINT_STEPS):
        col = guess[:, 0].floor().clamp(0, plan.width - 1).long()
        row = guess[:, 1].floor().clamp(0, plan.height - 1).long()
        under = plan.triangle_map[row * plan.width + col]
        found = under >= 0
        under = torch.where(found, under, triangle)
        weights = _weights(guess, plan.source_a[under], plan.source_inverse[under])
        moved = (weights[:, :, None] * shift[plan.triangles[under]]).sum(1)
        guess = p - torch.where(found[:, None], moved, torch.zeros_like(moved))
        triangle = torch.where(found, under, triangle)
    active = torch.arange(len(p), device=p.device)
    for _ in range(steps):
        current = triangle[active]
        weights = _weights(p[active], a[current], inverse[current])
        lowest, edge = weights.min(1)
        outside = lowest < -INSIDE_TOLERANCE
        active, current, edge = active[outside], current[outside], edge[outside]
        if active.numel() == 0:
            break
        triangle[active] = plan.neighbours[current, edge]
    weights = _weights(p, a[triangle], inverse[triangle])
    sources = (weights[:, :, None] * source_corners[triangle]).sum(1)
    converged = weights.min(1).values >= -INSIDE_TOLERANCE
    return WarpField(sources=sources, triangle=triangle, in_hole=plan.hole[triangle] & converged, converged=converged)


def sample(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear samples ``(C, N)`` of ``image`` ``(C, H, W)`` at pixel coordinates ``points`` ``(N, 2)`` (centres at
    ``+0.5``; edge pixels repeat beyond the border)."""
    _, height, width = image.shape
    scale = torch.tensor([2.0 / width, 2.0 / height], dtype=points.dtype, device=points.device)
    grid = (points * scale - 1.0).to(image.dtype)[None, None]
    out = torch.nn.functional.grid_sample(
        image[None], grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return out[0, :, 0]
