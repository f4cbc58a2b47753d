"""Where the control mesh's vertices go for one parameter vector: expressions, the head's rotation, the fold guard.

For source vertices ``P`` ``(V, 3)``, expression basis ``B`` ``(4, V, 3)``, follow shares ``f`` ``(V,)`` and the
rotation ``R = R_roll R_yaw R_pitch`` about the pivot ``c``::

    P'  = P + sum_k e_k B_k                 expressions (mouth, blinks, brows; B is already scaled by f)
    Q   = R (P' - c) + c                    the head turned as a rigid body
    dst = P'_xy + f * (Q_xy - P'_xy)        each vertex follows its share of the turn

projected orthographically (the photo's depth is small against the camera distance). The rotations, in image
coordinates (``x`` right, ``y`` down, ``z`` into the picture): yaw turns about ``y`` (nose to the image right for
yaw > 0), pitch about ``x`` (chin towards the camera and up for pitch > 0), roll about ``z`` (clockwise in the image
for roll > 0).
"""

from __future__ import annotations

import math

import numpy as np

from motionkit.errors import EditError
from motionkit.geometric.axes import AXIS_NAMES, BROWS, MOUTH, PITCH, ROLL, YAW
from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.mesh import ControlMesh, signed_areas

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


def deform(mesh: ControlMesh, values: np.ndarray) -> np.ndarray:
    """``(V, 2)`` vertex positions for one ``(7,)`` parameter vector, before the fold guard."""
    expression = np.tensordot(values[MOUTH : BROWS + 1], mesh.basis, axes=1)
    moved = mesh.points + expression
    turn = rotation(values[YAW], values[PITCH], values[ROLL])
    head = ((moved - mesh.pivot) @ (turn - np.eye(3)).T)[:, :2]  # R(P' - c) + c - P', exactly 0 when R = I
    return np.asarray(mesh.points[:, :2] + expression[:, :2] + mesh.follow[:, None] * head)


def folds(mesh: ControlMesh, xy: np.ndarray, config: GeometricConfig) -> np.ndarray:
    """``(F,)`` triangles folded at positions ``xy``: turned over, or (outside lids and lips) shrunk below
    ``fold_area`` of their source area."""
    area = signed_areas(xy, mesh.triangles)
    keep = np.where(mesh.collapsible, 0.0, config.fold_area * mesh.area)
    return np.asarray(~mesh.hole & (area <= keep))


def relax(mesh: ControlMesh, xy: np.ndarray, config: GeometricConfig) -> np.ndarray:
    """Unfold by smoothing the displacement where triangles fold (surfaces the turn hides: the far side of the face).

    Each pass replaces the displacement of every vertex of a folded triangle and of its neighbours by the mean over
    its neighbourhood (itself included), ``relax_passes`` passes at most; vertices elsewhere keep theirs exactly.
    """
    source = mesh.points[:, :2]
    shift = xy - source
    for _ in range(config.relax_passes):
        folded = folds(mesh, source + shift, config)
        if not folded.any():
            break
        touched = np.zeros(len(source), dtype=bool)
        touched[mesh.triangles[folded].ravel()] = True
        touched = np.asarray(mesh.adjacency @ touched.astype(np.float64) > 0.0) & (mesh.follow > 0.0)
        mean = (mesh.adjacency @ shift) / mesh.adjacency.sum(axis=1).A
        shift[touched] = mean[touched]
    return np.asarray(source + shift)


def guarded_positions(mesh: ControlMesh, values: np.ndarray, config: GeometricConfig) -> tuple[np.ndarray, float]:
    """Vertex positions ``(V, 2)`` with no fold, and the share of the deformation kept (1 unless it still folded).

    Folds are first relaxed locally (:func:`relax`); if any remain, the fold guard keeps the largest share ``s``
    (bisection, :data:`GUARD_STEPS` steps) of the relaxed displacement for which no triangle folds:
    ``P_xy + s * (dst - P_xy)``. Within the configured ranges the global guard does not trigger on a frontal face
    (tests check it); beyond them it trades accuracy for a picture without tears.
    """
    target = deform(mesh, values)
    if not folds(mesh, target, config).any():
        return target, 1.0
    target = relax(mesh, target, config)
    if not folds(mesh, target, config).any():
        return target, 1.0
    source = mesh.points[:, :2]
    low, high = 0.0, 1.0
    for _ in range(GUARD_STEPS):
        middle = 0.5 * (low + high)
        if folds(mesh, source + middle * (target - source), config).any():
            high = middle
        else:
            low = middle
    return source + low * (target - source), low
