"""Expressions as displacement fields: how each mesh point moves per unit of ``mouth``, blink and ``brows``.

Every expression axis moves points linearly in its value, so a portrait's expressions are one precomputed basis
``B`` of shape ``(4, N, 3)`` (mouth, blink_left, blink_right, brows) and a frame's displacement is
``sum_k value_k * B_k``. Fields are built in the face frame (``u`` across, ``v`` down, pixels):

- **mouth**: the lower inner lip moves down by ``mouth * mouth_width`` at its centre (flat over
  ``lip_corner_flat`` of the half-width, then a cosine to 0 at the corners). Points below the lip contour follow with
  a weight that blends from the lip's profile to the jaw's (1 across the mouth, a cosine to 0 over ``jaw_reach``
  half-widths beyond the corners) with depth below the lip, so the mandible moves as one piece and the cheeks
  stretch. The upper lip and everything above the lower-lip contour stay.
  As the jaw opens the lips' ring narrows: each mouth corner moves towards the other by ``lip_corner_pull`` mouth
  widths per unit of opening, the skin around it following with a cosine fade over an ellipse of half the mouth
  width across and a quarter of it up and down (the lips near the corners, not the nose's wings or the lip's middle).
- **blink**: upper-lid point ``i`` moves ``lid_meeting * (1 - closed_gap)`` of the way to lower-lid point ``i``,
  and the lower lid rises to meet it; lid skin between the lid and the brow follows, fading linearly to 0 at
  ``lid_skin`` of the lid-to-brow distance, and below the lower lid over half an eye width.
- **brows**: brow points move up by ``brows * face_width``; the forehead above fades over ``brow_reach`` face widths
  and the skin down to the upper lid fades linearly to 0 at the lid.
"""

from __future__ import annotations

import numpy as np

from motionkit.geometric.config import GeometricConfig
from motionkit.geometric.frame import FaceFrame
from motionkit.geometric.topology import (
    BROW_LEFT,
    BROW_RIGHT,
    EYE_LEFT_CORNERS,
    EYE_LEFT_LOWER,
    EYE_LEFT_UPPER,
    EYE_RIGHT_CORNERS,
    EYE_RIGHT_LOWER,
    EYE_RIGHT_UPPER,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    MOUTH_CORNERS,
)

EXPRESSIONS = 4
"""mouth, blink_left, blink_right, brows: the expression axes, in the order of the parameter vector."""

_ON_CONTOUR = 1e-6
"""Points this close to a contour (share of its length) count as on it: a contour evaluated at its own points."""

_PULL_HEIGHT = 0.5
"""The corner pull's region reaches this share of its width (half the mouth width) up and down from a corner."""

_BROW_LOWER_EDGE = 5
"""The last five points of ``BROW_LEFT`` / ``BROW_RIGHT`` are the brows' lower edges."""


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _cosine_fade(distance: np.ndarray, flat: float, reach: float) -> np.ndarray:
    """1 for ``distance <= flat``, a half cosine down to 0 at ``flat + reach``, 0 beyond."""
    x = np.clip((distance - flat) / max(reach, 1e-9), 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x))


def _contour(u: np.ndarray, contour_u: np.ndarray, contour_v: np.ndarray) -> np.ndarray:
    """The contour's ``v`` at ``u`` (linear between points, constant beyond the ends)."""
    order = np.argsort(contour_u)
    return np.interp(u, contour_u[order], contour_v[order])


def _mouth_field(points: np.ndarray, marks: np.ndarray, config: GeometricConfig) -> np.ndarray:
    """``(N,)`` share of the lower lip's drop each point (face coords ``(N, 3)``) follows."""
    corners = marks[list(MOUTH_CORNERS)]
    centre_u = 0.5 * (corners[0, 0] + corners[1, 0])
    half = 0.5 * abs(corners[1, 0] - corners[0, 0])
    lower = marks[[LIPS_INNER_UPPER[0], *LIPS_INNER_LOWER, LIPS_INNER_UPPER[-1]]]
    across = np.abs(points[:, 0] - centre_u) / half
    depth = points[:, 1] - _contour(points[:, 0], lower[:, 0], lower[:, 1])
    lip = _cosine_fade(across, config.lip_corner_flat, 1.0 - config.lip_corner_flat)
    jaw = _cosine_fade(across, 1.0, config.jaw_reach)
    blend = _smoothstep(depth / half)
    return np.where(depth >= -_ON_CONTOUR * half, lip + (jaw - lip) * blend, 0.0)


def _corner_pull(points: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """``(N,)`` share of a unit corner pull along ``e_x`` each point (face coords ``(N, 3)``) follows: towards the
    mouth's middle near each corner (module docstring)."""
    corners = marks[list(MOUTH_CORNERS)]
    half = 0.5 * abs(corners[1, 0] - corners[0, 0])
    out = np.zeros(len(points))
    for corner, inward in zip(corners, (1.0, -1.0), strict=True):
        across = (points[:, 0] - corner[0]) / half
        down = (points[:, 1] - corner[1]) / (_PULL_HEIGHT * half)
        out += inward * _cosine_fade(np.hypot(across, down), 0.0, 1.0)
    return out


def _lid_field(
    points: np.ndarray, marks: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...], corners: tuple[int, ...],
    brow: tuple[int, ...], config: GeometricConfig,
) -> np.ndarray:  # fmt: skip
    """``(N, 3)`` displacement (face coords) of a full blink of one eye."""
    up, low = marks[list(upper)], marks[list(lower)]
    close = (1.0 - config.closed_gap) * (low - up)
    drop_up, rise_low = config.lid_meeting * close, (config.lid_meeting - 1.0) * close
    ends = marks[list(corners)]
    width = float(abs(ends[1, 0] - ends[0, 0]))
    brow_v = float(marks[list(brow), 1].mean())
    out = np.zeros_like(points)
    across = np.abs(points[:, 0] - 0.5 * (ends[0, 0] + ends[1, 0])) / (0.5 * width)
    fade_u = _cosine_fade(across, 1.0, 0.5)
    for contour, move, sign, reach in (
        (up, drop_up, -1.0, config.lid_skin * (float(up[:, 1].mean()) - brow_v)),
        (low, rise_low, 1.0, 0.5 * width),
    ):
        contour_u = np.concatenate([ends[:1, 0], contour[:, 0], ends[1:, 0]])
        contour_v = np.concatenate([ends[:1, 1], contour[:, 1], ends[1:, 1]])
        beyond = sign * (points[:, 1] - _contour(points[:, 0], contour_u, contour_v))
        weight = np.where(beyond >= -_ON_CONTOUR * width, np.clip(1.0 - beyond / reach, 0.0, 1.0), 0.0) * fade_u
        order = np.argsort(contour_u)
        for axis in range(3):
            profile = np.concatenate([[0.0], move[:, axis], [0.0]])[order]
            out[:, axis] += weight * np.interp(points[:, 0], contour_u[order], profile)
    return out


def _brow_field(points: np.ndarray, marks: np.ndarray, brow: tuple[int, ...], upper_lid: tuple[int, ...],
                width: float, config: GeometricConfig) -> np.ndarray:  # fmt: skip
    """``(N,)`` share of a brow raise each point follows (face coords)."""
    edge = marks[list(brow[_BROW_LOWER_EDGE:])]
    lid_v = float(marks[list(upper_lid), 1].mean())
    left, right = float(edge[:, 0].min()), float(edge[:, 0].max())
    half = 0.5 * (right - left)
    across = np.abs(points[:, 0] - 0.5 * (left + right)) / half
    fade_u = _cosine_fade(across, 1.0, 0.6)
    below = points[:, 1] - _contour(points[:, 0], edge[:, 0], edge[:, 1])
    above = _cosine_fade(-below, 0.0, config.brow_reach * width)
    down = np.clip(1.0 - below / max(lid_v - float(edge[:, 1].mean()), 1e-9), 0.0, 1.0)
    return np.where(below <= 0.0, above, down) * fade_u


def expression_basis(
    points: np.ndarray, landmarks: np.ndarray, frame: FaceFrame, config: GeometricConfig
) -> np.ndarray:
    """``(4, N, 3)`` pixel displacements of ``points`` ``(N, 3)`` per unit of mouth, blink_left, blink_right, brows.

    ``landmarks`` ``(468, 3)`` define the fields; ``points`` starts with those landmarks (then the fall-off rings).
    """
    upper_lip = LIPS_INNER_UPPER[1:-1]
    local = frame.coords(points)
    marks = frame.coords(landmarks)
    basis = np.zeros((EXPRESSIONS, *points.shape))
    mouth_width = float(np.linalg.norm(landmarks[MOUTH_CORNERS[1], :2] - landmarks[MOUTH_CORNERS[0], :2]))
    basis[0] = (_mouth_field(local, marks, config) * mouth_width)[:, None] * frame.axes[1]
    basis[0, list(upper_lip)] = 0.0  # closed lips share a contour: the upper one never follows the jaw
    pull = config.lip_corner_pull * mouth_width * _corner_pull(local, marks)
    basis[0] += pull[:, None] * frame.axes[0]  # both lips near the corners alike: the shared contour stays shared
    eyes = (
        (EYE_LEFT_UPPER, EYE_LEFT_LOWER, EYE_LEFT_CORNERS, BROW_LEFT),
        (EYE_RIGHT_UPPER, EYE_RIGHT_LOWER, EYE_RIGHT_CORNERS, BROW_RIGHT),
    )
    brows = np.zeros(len(points))
    for k, (upper, lower, corners, brow) in enumerate(eyes):
        basis[1 + k] = _lid_field(local, marks, upper, lower, corners, brow, config) @ frame.axes
        brows = np.maximum(brows, _brow_field(local, marks, brow, upper, frame.width, config))
    basis[3] = -(brows * frame.width)[:, None] * frame.axes[1]
    return basis
