"""Depth the renderer can turn without folds: the landmarks' depth with its steepest slopes flattened.

Turning a surface by ``theta`` about an image axis and projecting it orthographically folds it where its depth slope
along that axis exceeds ``cot(theta)`` (it turns away from the camera: the far cheek in a turn, the sides of the nose).
A photo cannot show what is hidden, so those surfaces must shrink instead. Per triangle, the 2-D gradient ``g_t`` of
the linearly interpolated depth is clamped to ``|g_t| <= slope`` and the depth is refit to the clamped gradients by
area-weighted least squares, anchored weakly to the original depth::

    z' = argmin  sum_t area_t |grad_t z - clamp(g_t)|^2 + anchor * mean(area) * |z - z0|^2

A flatter nose shows less parallax when turned, so the renderer steepens its turns by the share of the nose's depth
the refit kept (:attr:`ControlMesh.parallax`); the fold check below is made on the plain turns (steepened ones may
need the fold guard at the ends of the range). The slope starts at ``cot`` of the largest fold-free angle and
shrinks until no triangle folds at the corners of the fold-free ranges (``GeometricConfig.fold_free``). Only
triangles of landmarks count: those with fall-off-ring vertices fold by the rings' follow shares whatever the depth,
and are left to the fold guard. The nose and the middle of the face, whose slopes are gentle, keep most of their
depth.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.mesh import ControlMesh
from motionkit.geometric.topology import EYE_CORNERS, MESH_POINTS, NOSE_TIP

ANCHOR = 1e-3
"""Weight of the original depth in the refit (relative to the mean triangle area): just enough to fix the offset."""

SLOPE_SHRINK = 0.8
"""Factor on the allowed slope after a refit that still folds."""

SLOPE_ROUNDS = 12
"""Refits tried; the flattest is kept when none is fold-free."""

MIN_PARALLAX = 0.5
"""Smallest share of the nose's depth a refit may keep and still count (a flatter face would need turns too steep
to make up for it)."""


def _gradient_operator(xy: np.ndarray, triangles: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """``(2F, V)`` operator from vertex depths to per-triangle gradients ``(dz/dx, dz/dy)``, and ``(F,)`` areas."""
    a, b, c = xy[triangles[:, 0]], xy[triangles[:, 1]], xy[triangles[:, 2]]
    e1, e2 = b - a, c - a
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    safe = np.where(np.abs(det) > 1e-12, det, 1.0)
    # grad z = [e1 e2]^-T [z_b - z_a, z_c - z_a]
    inv = np.stack([np.stack([e2[:, 1], -e1[:, 1]], 1), np.stack([-e2[:, 0], e1[:, 0]], 1)], 1) / safe[:, None, None]
    count = len(triangles)
    rows, cols, vals = [], [], []
    for k in range(2):
        for j, vertex in enumerate((1, 2)):
            rows += [2 * np.arange(count) + k] * 2
            cols += [triangles[:, vertex], triangles[:, 0]]
            vals += [inv[:, k, j], -inv[:, k, j]]
    operator = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(2 * count, len(xy))
    )
    return operator, 0.5 * np.abs(det)


def _extreme_poses(config: GeometricConfig) -> np.ndarray:
    """``(P, 7)`` parameter vectors at the corners and edges of the fold-free yaw/pitch/roll ranges."""
    yaw_limit, pitch_limit, roll_limit = config.fold_free
    poses = [
        (yaw, pitch, roll)
        for yaw in (-yaw_limit, 0.0, yaw_limit)
        for pitch in (-pitch_limit, 0.0, pitch_limit)
        for roll in (-roll_limit, roll_limit)
    ]
    out = np.zeros((len(poses), 7))
    out[:, :3] = poses
    return out


def turnable_depth(mesh: ControlMesh, config: GeometricConfig) -> ControlMesh:
    """The mesh with depth refit so that no triangle folds anywhere in the configured pose ranges."""
    from motionkit.geometric.motion import deform, folds  # motion imports this module's callers

    xy, depth = mesh.points[:, :2], mesh.points[:, 2]
    operator, area = _gradient_operator(xy, mesh.triangles)
    weight = sparse.diags(np.repeat(area, 2))
    anchor = ANCHOR * float(area.mean())
    system = (operator.T @ weight @ operator + anchor * sparse.identity(len(xy))).tocsc()
    gradient = (operator @ depth).reshape(-1, 2)
    slope = 1.0 / math.tan(math.radians(max(config.fold_free)))
    poses = _extreme_poses(config)
    face = (mesh.triangles < MESH_POINTS).all(axis=1)  # folds the depth can cause (rings fold by their follow shares)
    for _ in range(SLOPE_ROUNDS):
        norm = np.linalg.norm(gradient, axis=1, keepdims=True)
        clamped = gradient * np.minimum(1.0, slope / np.maximum(norm, 1e-12))
        refit = spsolve(system, operator.T @ (weight @ clamped.ravel()) + anchor * depth)
        points = mesh.points.copy()
        points[:, 2] = refit
        candidate = dataclasses.replace(mesh, points=points)
        if not any((folds(candidate, deform(candidate, pose), config) & face).any() for pose in poses):
            return dataclasses.replace(candidate, parallax=nose_parallax(mesh.points, points))
        slope *= SLOPE_SHRINK
    return dataclasses.replace(candidate, parallax=nose_parallax(mesh.points, candidate.points))


def nose_parallax(original: np.ndarray, refit: np.ndarray) -> float:
    """Share of the nose tip's depth in front of the eye corners kept by ``refit`` (clipped to
    ``[MIN_PARALLAX, 1]``): what a viewer reads a turn from, so the turn is steepened by it."""

    def protrusion(points: np.ndarray) -> float:
        return float(points[list(EYE_CORNERS), 2].mean() - points[NOSE_TIP, 2])

    return float(np.clip(protrusion(refit) / max(protrusion(original), 1e-9), MIN_PARALLAX, 1.0))
