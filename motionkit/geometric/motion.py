"""Where the control mesh's vertices go for one parameter vector: expressions, the head's rotation, the fold guard.

For source vertices ``P`` ``(V, 3)``, expression basis ``B`` ``(4, V, 3)``, follow shares ``f`` ``(V,)`` and the
rotation ``R = R_roll R_yaw R_pitch`` about the pivot ``c``::

    P'  = P + sum_k e_k B_k                 expressions (mouth, blinks, brows; B is already scaled by f)
    Q   = R (P' - c) + c                    the head turned as a rigid body
    dst = P'_xy + f * (Q_xy - P'_xy)        each vertex follows its share of the turn

projected orthographically (the photo's depth is small against the camera distance). Yaw and pitch are steepened
by the depth's parallax (:func:`steepened`): the depth was flattened where the face turns away
(:mod:`~motionkit.geometric.depth`), and the nose's shift against the eyes is what shows a turn. The rotations, in image
coordinates (``x`` right, ``y`` down, ``z`` into the picture): yaw turns about ``y`` (nose to the image right for
yaw > 0), pitch about ``x`` (chin towards the camera and up for pitch > 0), roll about ``z`` (clockwise in the image
for roll > 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from motionkit.errors import EditError
from motionkit.geometric.axes import AXIS_NAMES, BROWS, MOUTH, PITCH, ROLL, YAW
from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.mesh import ControlMesh, signed_areas
from motionkit.geometric.topology import MESH_POINTS

GUARD_GROWTHS = 4
"""The fold guard's neighbourhood doubles this many times (``guard_rings``, twice that, ...) before it scales the
whole deformation back."""

GUARD_STEPS = 12
"""Bisection steps of the fold guard: the kept share of a folding deformation is exact to 2^-12."""

BLINK_RANGE = (-0.5, 1.0)
"""Blink values accepted: 1 closes the eye, negative values open it wider than photographed."""


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``(3, 3)`` rotation ``R_roll R_yaw R_pitch`` (degrees; conventions of the module docstring)."""
    y, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    r_yaw = np.array([[math.cos(y), 0.0, -math.sin(y)], [0.0, 1.0, 0.0], [math.sin(y), 0.0, math.cos(y)]])
    r_pitch = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(p), math.sin(p)], [0.0, -math.sin(p), math.cos(p)]])
    r_roll = np.array([[math.cos(r), -math.sin(r), 0.0], [math.sin(r), math.cos(r), 0.0], [0.0, 0.0, 1.0]])
    return r_roll @ r_yaw @ r_pitch


def check_parameters(values: np.ndarray, mesh: ControlMesh, config: GeometricConfig) -> None:
    """Raise :class:`EditError` naming the frame, the axis and its range for a value the renderer cannot draw."""
    limits = {
        "yaw": (-config.max_yaw, config.max_yaw),
        "pitch": (-config.max_pitch, config.max_pitch),
        "roll": (-config.max_roll, config.max_roll),
        "mouth": (-mesh.mouth_opening, config.max_mouth),
        "blink_left": BLINK_RANGE,
        "blink_right": BLINK_RANGE,
        "brows": (-config.max_brows, config.max_brows),
    }
    if not np.isfinite(values).all():
        frame = int(np.flatnonzero(~np.isfinite(values).all(axis=-1))[0])
        raise EditError(f"geometric parameters of frame {frame} are NaN or inf.")
    for index, name in enumerate(AXIS_NAMES):
        low, high = limits[name]
        bad = (values[:, index] < low - 1e-6) | (values[:, index] > high + 1e-6)
        if bad.any():
            frame = int(np.flatnonzero(bad)[0])
            raise EditError(
                f"{name} = {values[frame, index]:.4g} in frame {frame} is outside the geometric renderer's range "
                f"[{low:.4g}, {high:.4g}] for this portrait; scale the motion down (e.g. EditProgram Scale) or clip it."
            )


def steepened(angle: float, parallax: float) -> float:
    """The turn (degrees) whose parallax on a face with ``parallax`` of its depth equals ``angle``'s on the full
    depth: ``asin(sin(angle) / parallax)`` (clipped to 90 degrees)."""
    return math.degrees(math.asin(max(-1.0, min(1.0, math.sin(math.radians(angle)) / parallax))))


def deform(mesh: ControlMesh, values: np.ndarray, *, flat: bool = False) -> np.ndarray:
    """``(V, 2)`` vertex positions for one ``(7,)`` parameter vector, before the fold guard.

    ``flat=True`` turns the face as if all its points lay at the landmarks' mean depth: an affine map of the plane
    per follow share, which cannot fold by itself (the fold guard's fallback).
    """
    expression = np.tensordot(values[MOUTH : BROWS + 1], mesh.basis, axes=1)
    moved = mesh.points + expression
    if flat:
        moved[:, 2] = mesh.points[:MESH_POINTS, 2].mean()
    yaw, pitch = (steepened(float(values[axis]), mesh.parallax) for axis in (YAW, PITCH))
    turn = rotation(yaw, pitch, values[ROLL])
    head = ((moved - mesh.pivot) @ (turn - np.eye(3)).T)[:, :2]  # R(P' - c) + c - P', exactly 0 when R = I
    return np.asarray(mesh.points[:, :2] + expression[:, :2] + mesh.follow[:, None] * head)


def folds(mesh: ControlMesh, xy: np.ndarray, config: GeometricConfig) -> np.ndarray:
    """``(F,)`` triangles folded at positions ``xy``: turned over, or (outside lids and lips) shrunk below
    ``fold_area`` of their source area. Triangles already turned over in the photo (slivers of crowded landmarks,
    :data:`~motionkit.geometric.mesh.PHOTO_SLIVER`, or closed lids) may turn either way: they cover about no pixel."""
    area = signed_areas(xy, mesh.triangles)
    keep = np.where(mesh.collapsible, 0.0, config.fold_area * mesh.area)
    return np.asarray(~mesh.hole & (mesh.area > 0.0) & (area <= keep))


def _bisect(folding: Callable[[float], bool]) -> float:
    """The largest ``s`` in [0, 1] (to 2^-GUARD_STEPS) with ``folding(s)`` false, given ``folding(0)`` is false."""
    if not folding(1.0):
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(GUARD_STEPS):
        middle = 0.5 * (low + high)
        if folding(middle):
            high = middle
        else:
            low = middle
    return low


def guarded_positions(mesh: ControlMesh, values: np.ndarray, config: GeometricConfig) -> tuple[np.ndarray, float]:
    """Vertex positions ``(V, 2)`` with no fold, and the share of the motion kept where it folded.

    The fold guard: where the turned depth folds triangles (surfaces the turn hides, which a photo cannot show),
    vertices near the folds (``guard_rings`` rings of neighbours around them, doubled up to ``GUARD_GROWTHS - 1``
    times until the blend unfolds them, tapered by one smoothing pass) blend towards a target that cannot fold
    there, ``dst = target + a_v (full - target)`` with ``a_v = 1 - w_v (1 - s)``, and ``s`` is the largest share
    (bisection) with no fold. The first target is the flat turn of :func:`deform`. Folds it cannot undo come from the
    expressions (lids meeting at a blink's end, say): the second target is the same turn without expressions
    (itself guarded), so only the expressions near the folds are held back and the head keeps its turn. If neither
    unfolds them, the whole deformation is scaled back towards the photo the same way (``P_xy + s (dst - P_xy)``).
    The share is 1 when nothing folded.
    """
    full = deform(mesh, values)
    if not folds(mesh, full, config).any():
        return full, 1.0
    targets = [deform(mesh, values, flat=True)]
    if np.any(values[MOUTH : BROWS + 1]):
        bare = np.array(values, dtype=np.float64)
        bare[MOUTH : BROWS + 1] = 0.0
        targets.append(guarded_positions(mesh, bare, config)[0])
    seeds = np.zeros(len(full))
    seeds[mesh.triangles[folds(mesh, full, config)].ravel()] = 1.0
    degree = np.asarray(mesh.adjacency.sum(axis=1)).ravel()
    for target in targets:
        for growth in range(GUARD_GROWTHS):
            near = seeds
            for _ in range(config.guard_rings << growth):
                near = np.minimum(mesh.adjacency @ near, 1.0)
            taper = (mesh.adjacency @ near) / degree

            def blended(share: float, taper: np.ndarray = taper, target: np.ndarray = target) -> np.ndarray:
                return np.asarray(target + (1.0 - taper * (1.0 - share))[:, None] * (full - target))

            if not folds(mesh, blended(0.0), config).any():
                share = _bisect(lambda s: bool(folds(mesh, blended(s), config).any()))
                return blended(share), share
    source = mesh.points[:, :2]
    share = _bisect(lambda s: bool(folds(mesh, source + s * (full - source), config).any()))
    return source + share * (full - source), share
