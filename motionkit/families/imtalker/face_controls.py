"""IMTalker's head-pose and camera controls measured by motionkit's face stack, in the units IMTalker was trained on.

IMTalker reads SMIRK's per-frame ``pose_params`` and ``cam`` (spec section 3.3). SMIRK regresses FLAME: ``pose_params``
is FLAME's global head rotation as an axis-angle vector (radians: the direction is the axis, the norm the angle) in
FLAME's frame (``x`` towards the subject's left, i.e. the image's right for a frontal face, ``y`` up, ``z`` towards the
camera); ``cam = [s, tx, ty]`` is DECA's weak-perspective camera (``batch_orth_proj``): a FLAME point ``X`` (metres)
lands at normalised image coordinates ``u = s (X_x + tx)``, ``v = -s (X_y + ty)`` (``u``, ``v`` in ``[-1, 1]`` across
the frame, ``v`` down; SMIRK flips ``y`` after projecting), SMIRK's initial ``s`` being 7.

The face stack's head pose (:mod:`motionkit.face.pose`) fits ``landmark = scale R canonical + t`` in the same camera
axes (``x`` right, ``y`` up, ``z`` towards the viewer), ``R`` canonical -> camera, ``scale`` in pixels per canonical
unit (the outer eye-corner distance), ``t`` the canonical origin (the face mesh's centroid) in pixels. For a frame of
``W x H`` pixels (IMTalker's frames are 512 x 512)::

    pose = rotvec(R)                                            radians, SMIRK's order (x, y, z)
    s    = scale (1/W + 1/H) / FLAME_EYE_CORNERS                normalised units per metre (2 scale / W for a square)
    tx   =  u0 / s,   ty = -v0 / s                              u0 = 2 x0 / W - 1, v0 = 2 y0 / H - 1

with ``(x0, y0)`` the image pixel of the canonical origin. Three things are matched by definition rather than measured
(no FLAME model ships with motionkit): the zero rotation is the canonical face's (symmetric, chin-forehead line
upright) where SMIRK's is FLAME's template, the metre is :data:`FLAME_EYE_CORNERS` outer eye-corner distances, and
FLAME's origin is put at the mesh centroid. Each is a constant offset or factor, the same for every frame.

**Gaze is not measured.** IMTalker's gaze is L2CS-Net's ``(pitch, yaw)`` of the eyes; the face stack's 468-point mesh
has no iris points (MediaPipe's iris variant is not converted, :mod:`motionkit.face.landmarks`) and its eye contours
do not show where the pupils point, so a video gives no gaze: give it as a constant or a track.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from motionkit.face.pose import CAMERA_FROM_IMAGE, HeadPose
from motionkit.face.stack import Face

FLAME_EYE_CORNERS = 0.09
"""Outer eye-corner distance of FLAME's mean head, metres: the adult mean biocular width (exocanthion to exocanthion,
88-91 mm in anthropometric surveys), which a mean-shape head model reproduces."""

MEASURED_CONTROLS = ("pose", "cam")
"""The controls a face measures (gaze cannot be: see the module docstring)."""


def smirk_pose(pose: HeadPose) -> np.ndarray:
    """``(3,)`` SMIRK ``pose_params``: the axis-angle vector (radians) of the face's rotation."""
    return np.asarray(Rotation.from_matrix(pose.rotation).as_rotvec(), dtype=np.float64)


def smirk_cam(pose: HeadPose, shape: tuple[int, int]) -> np.ndarray:
    """``(3,)`` SMIRK ``cam`` ``[s, tx, ty]`` of a face in a frame of ``shape = (H, W)`` pixels."""
    height, width = shape
    x0, y0, _ = pose.translation * CAMERA_FROM_IMAGE  # camera frame -> image pixels (y down)
    s = pose.scale * (1.0 / width + 1.0 / height) / FLAME_EYE_CORNERS
    u0, v0 = 2.0 * x0 / width - 1.0, 2.0 * y0 / height - 1.0
    return np.array([s, u0 / s, -v0 / s], dtype=np.float64)


def measure_controls(face: Face, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The :data:`MEASURED_CONTROLS` of ``face`` in a frame of ``shape = (H, W)``: ``{"pose": (3,), "cam": (3,)}``."""
    return {"pose": smirk_pose(face.pose), "cam": smirk_cam(face.pose, shape)}
