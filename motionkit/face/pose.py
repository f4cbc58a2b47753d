"""Head pose: a similarity fit of the canonical 3-D face (:mod:`motionkit.face.canonical`) to a face's landmarks.

Frames. The landmarks are image pixels ``(x right, y down, z away from the camera)``; the fit works in the camera
frame of :mod:`motionkit.data.synthetic.geometry` (``x`` right, ``y`` up, ``z`` towards the viewer), so each
landmark becomes ``(x, -y, -z)``. The fit is Umeyama's least-squares similarity
``landmark ~ scale * R @ canonical + translation`` (a weak-perspective camera, the landmark network's model).

Angles (degrees). ``R = R_z(roll) R_x(pitch) R_y(yaw)`` with the synthetic world's signs: yaw > 0 turns the nose to
the image's right, pitch > 0 raises it, roll > 0 turns the top of the head to the image's right (clockwise on
screen). Zero is the canonical face: symmetric (no yaw or roll) with its forehead-chin line in the image plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CAMERA_FROM_IMAGE = np.array([1.0, -1.0, -1.0])
"""Image pixels (x right, y down, z away) -> the camera frame (x right, y up, z towards the viewer)."""


@dataclass(frozen=True)
class HeadPose:
    """A face's pose from its landmarks.

    Attributes:
        yaw, pitch, roll: degrees (see the module docstring for the signs).
        scale: pixels per canonical unit (the canonical outer eye-corner distance is 1).
        rotation: (3, 3) canonical -> camera frame.
        translation: (3,) camera-frame pixels of the canonical origin.
        rms: root-mean-square residual of the fit, in pixels.
    """

    yaw: float
    pitch: float
    roll: float
    scale: float
    rotation: np.ndarray
    translation: np.ndarray
    rms: float

    def transform(self, points: np.ndarray) -> np.ndarray:
        """Canonical points (N, 3) -> image pixels (N, 3) through the fitted similarity."""
        camera = self.scale * points @ self.rotation.T + self.translation
        return camera * CAMERA_FROM_IMAGE


def similarity_fit(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Umeyama's least-squares ``target ~ scale * R @ source + t`` for (N, 3) point sets, ``R`` a proper rotation."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s / len(source))
    flip = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ flip @ vt
    scale = float(np.trace(np.diag(sigma) @ flip) / (s**2).sum(axis=1).mean())
    return scale, rotation, mu_t - scale * rotation @ mu_s


def euler_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of ``rotation = R_z(roll) R_x(pitch) R_y(yaw)``.

    The last row of the product is ``(-cos p sin y, -sin p, cos p cos y)``; the second column's first two entries
    are ``(sin r cos p, cos r cos p)``.
    """
    pitch = math.asin(float(np.clip(-rotation[2, 1], -1.0, 1.0)))
    yaw = math.atan2(-rotation[2, 0], rotation[2, 2])
    roll = math.atan2(rotation[0, 1], rotation[1, 1])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)


def head_pose(landmarks: np.ndarray, canonical: np.ndarray) -> HeadPose:
    """The pose of (468, 3) pixel ``landmarks`` relative to the (468, 3) ``canonical`` face."""
    camera = landmarks * CAMERA_FROM_IMAGE
    scale, rotation, translation = similarity_fit(canonical, camera)
    residual = camera - (scale * canonical @ rotation.T + translation)
    yaw, pitch, roll = euler_angles(rotation)
    rms = float(np.sqrt((residual**2).sum(axis=1).mean()))
    return HeadPose(yaw, pitch, roll, scale, rotation, translation, rms)
