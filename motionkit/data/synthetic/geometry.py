"""Head rotations and analytic ray casting of ellipsoids under an orthographic camera.

Camera frame: x to the image right, y up, z towards the viewer; rays travel along -z. An ellipsoid with centre
``c`` and quadric ``Q`` (``(p - c)^T Q (p - c) = 1``) is hit by the ray through ``(x, y)`` where ``w = z - c_z``
solves ``q w^2 + 2 (b . d) w + d^T A d - 1 = 0`` with ``d = (x, y) - c_xy``, ``A = Q[:2, :2]``, ``b = Q[:2, 2]``,
``q = Q[2, 2]``. Its discriminant is ``q (1 - d^T M d)`` with ``M = A - b b^T / q`` (the Schur complement), so the
silhouette is the ellipse ``e(d) = d^T M d = 1`` and the front hit is ``w = (-(b . d) + sqrt(q (1 - e))) / q``.
Anti-aliasing uses the first-order signed distance to the silhouette, ``(e - 1) / |grad e| = (e - 1) / (2 |M d|)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FloatArray = np.ndarray


def rotation_matrices(yaw: FloatArray, pitch: FloatArray, roll: FloatArray) -> FloatArray:
    """``(T, 3, 3)`` head-to-camera rotations ``R = R_z(roll) R_x(pitch) R_y(yaw)`` from angles in degrees.

    Signs follow :mod:`motionkit.data.synthetic.params`: yaw > 0 moves the nose ``(0, 0, 1)`` to +x (image right),
    pitch > 0 moves it to +y (up), roll > 0 moves the head top ``(0, 1, 0)`` to +x (clockwise on screen).
    """
    y, p, r = (np.deg2rad(np.asarray(a, np.float64)) for a in (yaw, pitch, roll))
    cy, sy, cp, sp, cr, sr = np.cos(y), np.sin(y), np.cos(p), np.sin(p), np.cos(r), np.sin(r)
    zero, one = np.zeros_like(y), np.ones_like(y)
    ry = np.stack([np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, cp, sp], -1), np.stack([zero, -sp, cp], -1)], -2)
    rz = np.stack([np.stack([cr, sr, zero], -1), np.stack([-sr, cr, zero], -1), np.stack([zero, zero, one], -1)], -2)
    return rz @ rx @ ry


@dataclass(frozen=True)
class Hit:
    """Rays of a pixel grid cast at a batch of posed ellipsoids; arrays broadcast to ``(T, H, W)``.

    Attributes:
        coverage: anti-aliased silhouette coverage in [0, 1].
        depth_front, depth_back: camera z of the front and back hits (the rim depth outside the silhouette).
    """

    coverage: FloatArray
    depth_front: FloatArray
    depth_back: FloatArray
    _offset_xy: tuple[FloatArray, FloatArray]
    _w_front: FloatArray
    _w_back: FloatArray
    _inverse: FloatArray
    _quadric: FloatArray
    _centre: FloatArray

    def point(self, front: bool = True) -> FloatArray:
        """``(3, T, H, W)`` hit points in the object frame (before the pose)."""
        offset = (*self._offset_xy, self._w_front if front else self._w_back)
        return np.stack([_row_dot(self._inverse[:, i], offset) + np.float32(self._centre[i]) for i in range(3)])

    def normal(self, front: bool = True) -> FloatArray:
        """``(3, T, H, W)`` unit outward normals at the hits, in camera space."""
        offset = (*self._offset_xy, self._w_front if front else self._w_back)
        n = np.stack([_row_dot(self._quadric[:, i], offset) for i in range(3)])
        return n / np.maximum(np.sqrt(np.sum(n * n, axis=0)), 1e-6)


def _row_dot(rows: FloatArray, offset: tuple[FloatArray, FloatArray, FloatArray]) -> FloatArray:
    """``sum_j rows[:, j] * offset[j]`` with ``rows`` of shape ``(T, 3)`` broadcast over pixels."""
    T = rows.shape[0]
    return (
        rows[:, 0].reshape(T, 1, 1) * offset[0]
        + rows[:, 1].reshape(T, 1, 1) * offset[1]
        + rows[:, 2].reshape(T, 1, 1) * offset[2]
    )


def cast(
    centre: FloatArray,
    semi_axes: FloatArray,
    rotation: FloatArray,
    pivot: FloatArray,
    xs: FloatArray,
    ys: FloatArray,
    pixel: float,
    edge: float,
) -> Hit:
    """Cast orthographic rays at an ellipsoid posed by ``rotation`` about ``pivot``.

    Args:
        centre: ``(3,)`` centre in the object frame.
        semi_axes: ``(3,)`` semi-axes along the object frame's axes.
        rotation: ``(T, 3, 3)`` object-to-camera rotations; a point ``p`` maps to ``R (p - pivot) + pivot``.
        pivot: ``(3,)`` rotation pivot (the same point in both frames).
        xs, ys: ``(W,)`` and ``(H,)`` camera coordinates of the pixel centres.
        pixel: size of one pixel in the same units.
        edge: width of the anti-aliasing ramp in pixels.
    """
    T = rotation.shape[0]
    centre_cam = np.einsum("tij,j->ti", rotation, centre - pivot) + pivot  # (T, 3)
    quadric = np.einsum("tij,j,tkj->tik", rotation, 1.0 / np.square(semi_axes), rotation)  # R diag(1/a^2) R^T
    a, b, q = quadric[:, :2, :2], quadric[:, :2, 2], quadric[:, 2, 2]
    schur = a - b[:, :, None] * b[:, None, :] / q[:, None, None]

    def per_frame(v: FloatArray) -> FloatArray:
        return v.reshape(T, 1, 1).astype(np.float32)

    dx = xs[None, None, :].astype(np.float32) - per_frame(centre_cam[:, 0])
    dy = ys[None, :, None].astype(np.float32) - per_frame(centre_cam[:, 1])
    m00, m01, m11 = per_frame(schur[:, 0, 0]), per_frame(schur[:, 0, 1]), per_frame(schur[:, 1, 1])
    gx = m00 * dx + m01 * dy
    gy = m01 * dx + m11 * dy
    e = dx * gx + dy * gy
    distance = (e - 1.0) / np.maximum(2.0 * np.sqrt(gx * gx + gy * gy), 1e-6)
    coverage = np.clip(0.5 - distance / (pixel * edge), 0.0, 1.0)
    qf = per_frame(q)
    bd = per_frame(b[:, 0]) * dx + per_frame(b[:, 1]) * dy
    root = np.sqrt(np.maximum(qf * (1.0 - e), 0.0))
    w_front = (root - bd) / qf
    w_back = (-root - bd) / qf
    cz = per_frame(centre_cam[:, 2])
    return Hit(
        coverage=coverage,
        depth_front=cz + w_front,
        depth_back=cz + w_back,
        _offset_xy=(dx, dy),
        _w_front=w_front,
        _w_back=w_back,
        _inverse=np.transpose(rotation, (0, 2, 1)).astype(np.float32),
        _quadric=quadric.astype(np.float32),
        _centre=np.asarray(centre, np.float64),
    )
