"""The dense backward warp: for every output pixel, the source point it shows.

A pixel ``p`` of the output lies in some deformed triangle ``t``; with its barycentric coordinates ``l`` in the
deformed triangle, it shows the source point ``s = sum_i l_i P_i`` of the source triangle (piecewise-affine warp). The
triangle is found per pixel by a *walk*: start from the source triangle under ``s = p - d(p)``, one fixed-point step
towards the pixel's source with ``d`` the vertex shifts interpolated over the source mesh (each pixel's source
triangle and barycentric coordinates are precomputed once per portrait), then step to the neighbour across the edge
of the most negative barycentric coordinate until all are non-negative (``walk_steps`` at most). Only the pixels of
the region of influence are computed; every other pixel is copied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from motionkit.geometric.mesh import ControlMesh

INSIDE_TOLERANCE = 1e-4
"""Barycentric coordinates above ``-INSIDE_TOLERANCE`` count as inside (pixels on shared edges stop walking)."""

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
        source: ``(V, 2)`` source vertex positions.
        start_vertices, start_weights: ``(N, 3)`` each pixel's source triangle corners and its barycentric
            coordinates in it (the per-pixel structure precomputed once per portrait).
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
    start_vertices: torch.Tensor
    start_weights: torch.Tensor
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
        triangles = tensor(mesh.triangles, torch.int64)
        start = tensor(flat[pixels], torch.int64)
        centres_t = tensor(centres, torch.float32)
        start_weights = _weights(centres_t, _table(source, source, triangles)[start])
        return cls(
            pixels=tensor(pixels, torch.int64),
            centres=centres_t,
            start=start,
            triangle_map=tensor(flat, torch.int64),
            triangles=triangles,
            neighbours=tensor(neighbours, torch.int64),
            hole=tensor(mesh.hole, torch.bool),
            source=source,
            start_vertices=triangles[start],
            start_weights=start_weights,
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


def _table(deformed: torch.Tensor, source: torch.Tensor, triangles: torch.Tensor) -> torch.Tensor:
    """``(F, 12)`` per-triangle rows ``[a (2), inverse (4), source corners (6)]`` of one frame: one gather per pixel
    fetches everything its barycentric coordinates and its source point need."""
    a, inverse = _barycentric_maps(deformed[triangles])
    return torch.cat([a, inverse.reshape(-1, 4), source[triangles].reshape(-1, 6)], dim=1)


def _coordinates(points: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Barycentric coordinates ``(l0, l1, l2)``, each ``(N,)``, of ``points`` ``(N, 2)`` in the triangles of gathered
    ``rows`` ``(N, >= 6)`` (corner and inverse first)."""
    dx, dy = points[:, 0] - rows[:, 0], points[:, 1] - rows[:, 1]
    l1 = rows[:, 2] * dx + rows[:, 3] * dy
    l2 = rows[:, 4] * dx + rows[:, 5] * dy
    return 1.0 - l1 - l2, l1, l2


def _weights(points: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``(N, 3)`` barycentric coordinates of ``points`` ``(N, 2)`` in the triangles of gathered ``rows``."""
    return torch.stack(_coordinates(points, rows), 1)


def _gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[index]`` for an integer ``index`` of any shape, by ``index_select`` on the first dimension: the same
    elements, 2.5-4.5 times faster than advanced indexing on a CPU at a frame's 200 000 pixels."""
    return values.index_select(0, index.reshape(-1)).view(*index.shape, *values.shape[1:])


def _combine(weights: Sequence[torch.Tensor], values: torch.Tensor) -> torch.Tensor:
    """``(N, 2)``: ``sum_i weights[i] * values[:, i]`` for three ``(N,)`` weights and ``values`` ``(N, 3, 2)``
    (three fused multiply-adds: a reduction over the size-3 axis is several times slower on a CPU)."""
    out = weights[0][:, None] * values[:, 0]
    out = torch.addcmul(out, weights[1][:, None], values[:, 1])
    return torch.addcmul(out, weights[2][:, None], values[:, 2])


def warp_field(plan: WarpPlan, deformed: torch.Tensor, steps: int) -> WarpField:
    """Source points of the region's pixels for deformed vertex positions ``(V, 2)`` (float32, on the plan's device)."""
    table = _table(deformed, plan.source, plan.triangles)
    walk = table[:, :6].contiguous()  # the rows a step reads: corner and inverse
    p = plan.centres
    shift = deformed - plan.source
    # one fixed-point step from the pixel itself: its source barycentric coordinates are precomputed
    guess = p - _combine(plan.start_weights.unbind(1), _gather(shift, plan.start_vertices))
    col = guess[:, 0].floor().clamp(0, plan.width - 1).long()
    row = guess[:, 1].floor().clamp(0, plan.height - 1).long()
    under = _gather(plan.triangle_map, row * plan.width + col)
    triangle = torch.where(under >= 0, under, plan.start)
    neighbours = plan.neighbours.reshape(-1)  # triangle t's neighbour across edge e at 3 t + e
    active: torch.Tensor | None = None  # the first step reads every pixel in place (no index gather)
    current, points = triangle, p
    for _ in range(steps):
        l0, l1, l2 = _coordinates(points, _gather(walk, current))
        outside = (torch.minimum(torch.minimum(l0, l1), l2) < -INSIDE_TOLERANCE).nonzero().squeeze(1)
        active = outside if active is None else active.index_select(0, outside)
        current = current.index_select(0, outside)
        if active.numel() == 0:
            break
        # only the pixels still outside pick the edge to cross (the most negative coordinate's)
        edge = torch.stack([lk.index_select(0, outside) for lk in (l0, l1, l2)], 1).argmin(1)
        current = neighbours.index_select(0, current * 3 + edge)
        triangle.index_copy_(0, active, current)
        points = p.index_select(0, active)
    rows = _gather(table, triangle)
    l0, l1, l2 = _coordinates(p, rows)
    sources = _combine((l0, l1, l2), rows[:, 6:].view(-1, 3, 2))
    converged = torch.minimum(torch.minimum(l0, l1), l2) >= -INSIDE_TOLERANCE
    in_hole = plan.hole.index_select(0, triangle) & converged
    return WarpField(sources=sources, triangle=triangle, in_hole=in_hole, converged=converged)


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
