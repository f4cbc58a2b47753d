"""IMTalker's head-pose, camera and gaze controls measured by motionkit's face stack, in the units IMTalker was
trained on.

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

**Gaze** needs the irises: a refined face stack (``FaceStackConfig(refined=True)``, 478 points, irises last) gives
them, the 468-point mesh does not (then no gaze is measured). IMTalker's gaze is L2CS-Net's per frame: two angles in
radians of the gaze direction in the camera frame, L2CS-Net's ``(pitch, yaw)`` output, whose first angle is the
horizontal one and the second the vertical (L2CS's ``gazeto3d``: ``g = (-cos v sin h, -sin v, -cos v cos h)`` in
OpenCV's camera frame, ``x`` right, ``y`` down, ``z`` into the scene; looking into the camera is ``(0, 0)``). Each eye
is a sphere of radius ``r`` = :data:`EYEBALL_RADIUS` whose pupil rests at the midpoint of the eye corners; the iris
centre's offset ``(dx, dy)`` from there, in the head frame (the inverse of the pose fit), is the pupil's position on
the sphere, so the eye looks along ``(dx, dy, sqrt(r^2 - dx^2 - dy^2)) / r``; the two eyes' directions are averaged,
rotated into the camera frame by ``R`` (``g_cam``, ``x`` right, ``y`` up, ``z`` towards the viewer) and read as
``h = atan2(-g_x, g_z)``, ``v = asin(g_y)``. The eyeball radius and the rest position are anatomical means, not
measured per face; L2CS-Net itself is a learned regressor, so the two agree in sign and order of magnitude, not
value for value.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from motionkit.face.pose import CAMERA_FROM_IMAGE, HeadPose
from motionkit.face.stack import Face

FLAME_EYE_CORNERS = 0.09
"""Outer eye-corner distance of FLAME's mean head, metres: the adult mean biocular width (exocanthion to exocanthion,
88-91 mm in anthropometric surveys), which a mean-shape head model reproduces."""

EYEBALL_RADIUS = 0.012 / FLAME_EYE_CORNERS
"""The adult mean eyeball radius (12 mm) in canonical units (outer eye-corner distances)."""

EYES = {"right": ((33, 133), 468), "left": ((263, 362), 473)}
"""Each eye (the subject's): its corner landmarks and its iris centre in the refined mesh (MediaPipe's indices)."""

REFINED_POINTS = 478
"""Points of a face from a refined stack (the 468 and five per iris): only those have irises."""


def rotation_vector(rotation: np.ndarray) -> np.ndarray:
    """``(3,)`` the axis-angle vector (radians) of a ``(3, 3)`` camera-frame rotation: SMIRK's ``pose_params``."""
    return np.asarray(Rotation.from_matrix(rotation).as_rotvec(), dtype=np.float64)


def smirk_pose(pose: HeadPose) -> np.ndarray:
    """``(3,)`` SMIRK ``pose_params`` of a face: the rotation vector of its head pose."""
    return rotation_vector(pose.rotation)


def smirk_cam(pose: HeadPose, shape: tuple[int, int]) -> np.ndarray:
    """``(3,)`` SMIRK ``cam`` ``[s, tx, ty]`` of a face in a frame of ``shape = (H, W)`` pixels."""
    height, width = shape
    x0, y0, _ = pose.translation * CAMERA_FROM_IMAGE  # camera frame -> image pixels (y down)
    s = pose.scale * (1.0 / width + 1.0 / height) / FLAME_EYE_CORNERS
    u0, v0 = 2.0 * x0 / width - 1.0, 2.0 * y0 / height - 1.0
    return np.array([s, u0 / s, -v0 / s], dtype=np.float64)


def l2cs_gaze(face: Face) -> np.ndarray | None:
    """``(2,)`` L2CS-Net's gaze (horizontal, vertical angle in radians) of a face with irises (``None`` without)."""
    points = face.points
    if points.shape[0] < REFINED_POINTS:
        return None
    pose = face.pose
    head = ((points * CAMERA_FROM_IMAGE - pose.translation) @ pose.rotation) / pose.scale  # camera -> head frame
    directions = []
    for corners, iris in EYES.values():
        planar = (head[iris, :2] - head[list(corners), :2].mean(axis=0)) / EYEBALL_RADIUS
        planar /= max(1.0, float(np.linalg.norm(planar)))  # a pupil beyond the sphere's rim looks sideways
        directions.append(np.array([planar[0], planar[1], np.sqrt(max(0.0, 1.0 - float(planar @ planar)))]))
    gaze = pose.rotation @ np.mean(directions, axis=0)
    gaze /= np.linalg.norm(gaze)
    return np.array([np.arctan2(-gaze[0], gaze[2]), np.arcsin(np.clip(gaze[1], -1.0, 1.0))])


def measure_controls(face: Face, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The controls of ``face`` in a frame of ``shape = (H, W)``: ``{"pose": (3,), "cam": (3,)}``, and ``"gaze": (2,)``
    when the face has irises (a refined stack)."""
    controls = {"pose": smirk_pose(face.pose), "cam": smirk_cam(face.pose, shape)}
    gaze = l2cs_gaze(face)
    if gaze is not None:
        controls["gaze"] = gaze
    return controls
