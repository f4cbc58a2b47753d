"""Accuracy of the geometric renderer, measured by a landmarker on its frames.

For a portrait and requested parameter vectors, the frames are rendered and a landmarker (motionkit's face stack,
:class:`motionkit.face.FaceStack`, through :class:`~motionkit.eval.face.LandmarkFaceAnalyzer`; any callable from
``(T, H, W, 3)`` uint8 frames to ``(T, 468+, 3)`` landmarks in pixels works) reads them back:

- **head pose**, read two ways over the rigid upper face (landmarks above the mouth, outside the eyes and brows),
  each rotation decomposed as ``R = R_roll R_yaw R_pitch`` in the renderer's conventions
  (:mod:`motionkit.geometric.motion`): ``yaw = asin(R_20)``, ``pitch = atan2(-R_21, R_22)``,
  ``roll = atan2(R_10, R_00)``.

  - *projected* (:func:`projected_pose`, the headline figure): the rigid rotation of the photo's own 3-D mesh (the
    landmarker's ``x, y, z`` on the unmoved photo, measured once) whose scaled orthographic projection best fits the
    frame's 2-D landmarks (least squares over rotation, scale and shift: perspective-n-point with the weak-perspective
    camera the landmark network assumes). It reads the frame's geometry, where the landmarks are, and none of the
    landmarker's depth guess for the frame.
  - *3-D* (:func:`relative_pose`): the rotation between the photo's and the frame's 3-D landmarks (Kabsch, with
    scale). The frame's depths are the network's inference from appearance, which a warp does not change as a real
    turn does (no occlusion, no new shading), so this reading also measures how far the appearance convinces the
    network.
- **mouth**: the inner-lip gap over the mouth width, ``|p13 - p14| / |p61 - p291|``, minus the photo's own.
- **eyes**: the eye aspect ratio per eye, ``|p159 - p145| / |p33 - p133|`` (image-left) and
  ``|p386 - p374| / |p362 - p263|`` (image-right).
- **jitter**: the RMS distance of each landmark from its mean over frames of one still request (pixels), read
  three ways: as a video (the landmarker tracks the frames: each frame's region comes from the previous frame's
  landmarks), frame by frame (a fresh detection per frame, as every other reading here), and the tracker on the
  photo itself repeated. A still request draws the photo bit for bit, so the frame-by-frame jitter is 0 and the
  tracked one equals the photo's: what remains is the tracker's own region feedback settling over the first frames
  (0.4-0.8 px on these photos), not flicker of the renderer.

Mirroring (:func:`mirror_landmarks`, :func:`mirror_request`): a photo flipped left-right is the same face, so the
renderer draws its frames as the flipped frames of the photo's when it gets the flipped landmarks and the flipped
request; what differs between a photo's and its mirror image's readings is then the landmarker's, not the renderer's
(docs/geometric.md, Accuracy, mouth).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from motionkit.errors import ShapeError, require
from motionkit.eval.metrics import pearson
from motionkit.face.canonical import canonical_face
from motionkit.geometric import GeometricPortrait, GeometricRenderer
from motionkit.geometric.axes import BLINK_LEFT, BLINK_RIGHT, MOUTH, PARAMETERS, PITCH, ROLL, YAW
from motionkit.geometric.frame import face_frame
from motionkit.geometric.topology import (
    BROW_LEFT,
    BROW_RIGHT,
    EYE_LEFT_CORNERS,
    EYE_LEFT_LOWER,
    EYE_LEFT_UPPER,
    EYE_RIGHT_CORNERS,
    EYE_RIGHT_LOWER,
    EYE_RIGHT_UPPER,
    LOWER_LIP_CENTRE,
    MESH_POINTS,
    MOUTH_CORNERS,
    UPPER_LIP_CENTRE,
)

Landmarker = Callable[[np.ndarray], np.ndarray]
"""``(T, H, W, 3)`` uint8 frames -> ``(T, >=468, 3)`` landmarks in pixels (NaN rows where no face was found)."""

POSE_TOLERANCE = 0.15
POSE_FLOOR_DEGREES = 1.5
"""The issue's pose target: within 15 % of the request or 1.5 degrees, whichever is larger."""

CLOSED_EAR = 0.1
"""An eye counts as closed below this eye aspect ratio (open eyes measure about 0.25-0.35) by a landmarker that
follows lids (MediaPipe's refined, attention mesh)."""

CLOSED_SHARE = 0.9
"""With the face stack's 468-point mesh, which has no refined eyes and reads a shut eye as a narrowed one (0.7-0.85
of its open ratio on a visibly closed rendered eye), an eye counts as closing below this share of its open ratio."""

CLOSED_SHARE_DRAWN = 0.5
"""With the refined mesh on drawn lids over small eyes (Grace Hopper: about 35 px wide, behind glasses), an eye
counts as closed below this share of its open ratio: there the mesh reads the closed lids' dark band, the lash line
over the lower lid's own margin, about 4 px across (0.09-0.13 on Hopper's frames, docs/geometric.md), not below
``CLOSED_EAR``."""

EAR_POINTS = ((159, 145, 33, 133), (386, 374, 362, 263))
"""(upper lid, lower lid, corner, corner) of the image-left and image-right eyes."""

POSE_SWEEP = {YAW: (-20.0, -10.0, 10.0, 20.0), PITCH: (-15.0, -7.5, 7.5, 15.0), ROLL: (-15.0, -7.5, 7.5, 15.0)}
MOUTH_SWEEP = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
STILL_FRAMES = 10
RAMP_FRAMES = 12
"""Frames of the video reading's ramp from the photo to a request: about half a second at 25 frames/s, the pace of a
brisk nod or turn (each frame then moves the head by at most 2.6 degrees of a 20-degree turn)."""


def rigid_points(landmarks: np.ndarray) -> np.ndarray:
    """Indices of the rigid upper face of ``(468, 3)`` landmarks: above the mouth corners, not on lids or brows."""
    frame = face_frame(landmarks[:MESH_POINTS])
    v = frame.coords(landmarks[:MESH_POINTS])[:, 1]
    mouth_v = float(v[list(MOUTH_CORNERS)].min())
    moving = {
        *EYE_LEFT_UPPER, *EYE_LEFT_LOWER, *EYE_RIGHT_UPPER, *EYE_RIGHT_LOWER, *BROW_LEFT, *BROW_RIGHT,
        *EYE_LEFT_CORNERS, *EYE_RIGHT_CORNERS,
    }  # fmt: skip
    keep = [i for i in range(MESH_POINTS) if v[i] < mouth_v and i not in moving]
    return np.asarray(keep)


def mirror_landmarks(landmarks: np.ndarray, width: int) -> np.ndarray:
    """``(468+, 3)`` pixel landmarks of a ``width``-pixel-wide photo -> where they lie on the photo flipped
    left-right: ``x -> width - x`` and each point relabelled by its mirror twin (the canonical face's permutation,
    :func:`motionkit.face.canonical.canonical_face`; refined points beyond the 468 are dropped)."""
    out = np.array(landmarks[:MESH_POINTS][canonical_face().mirror], dtype=np.float64)
    out[:, 0] = width - out[:, 0]
    return out


def mirror_request(values: np.ndarray) -> np.ndarray:
    """``(T, 7)`` parameters -> the same motion of the flipped photo: yaw and roll change sign, the blinks swap
    eyes (image-left becomes image-right); pitch, mouth and brows stay."""
    out = np.array(values, dtype=np.float64)
    out[:, [YAW, ROLL]] *= -1.0
    out[:, [BLINK_LEFT, BLINK_RIGHT]] = out[:, [BLINK_RIGHT, BLINK_LEFT]]
    return out


def relative_pose(reference: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``(T, 3)`` yaw, pitch, roll (degrees) turning ``reference`` ``(468, 3)`` into each of ``landmarks``
    ``(T, 468, 3)`` (NaN where a frame has no face)."""
    points = rigid_points(reference)
    a = reference[points] - reference[points].mean(axis=0)
    out = np.full((len(landmarks), 3), np.nan)
    for t, frame in enumerate(landmarks):
        if not np.isfinite(frame[points]).all():
            continue
        b = frame[points] - frame[points].mean(axis=0)
        u, _, vt = np.linalg.svd(a.T @ b)
        d = np.sign(np.linalg.det(vt.T @ u.T))
        out[t] = _euler(vt.T @ np.diag([1.0, 1.0, d]) @ u.T)
    return out


def _euler(r: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) degrees of ``r = R_roll R_yaw R_pitch`` (the module docstring)."""
    return np.degrees(
        [np.arcsin(np.clip(r[2, 0], -1.0, 1.0)), np.arctan2(-r[2, 1], r[2, 2]), np.arctan2(r[1, 0], r[0, 0])]
    )


def projected_pose(reference: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``(T, 3)`` yaw, pitch, roll (degrees) of the rigid turn of ``reference`` ``(468+, 3)`` whose projection best
    fits each frame's 2-D ``landmarks`` ``(T, 468+, 2+)`` (NaN where a frame has no face).

    With ``X_i`` the reference's rigid points (:func:`rigid_points`) and ``x_i`` the frame's, both centred, it
    minimises ``sum_i |s P R X_i - x_i|^2`` over the rotation ``R`` and the scale ``s`` (``P`` keeps ``x, y``; the
    shift is the centroids' difference). For a given ``R`` the best scale is ``s = <x, P R X> / |P R X|^2``; ``R``
    (a rotation vector) is found by nonlinear least squares from no turn. Only the frame's 2-D landmarks enter: its
    depth output is not read.
    """
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    points = rigid_points(reference)
    a = reference[points] - reference[points].mean(axis=0)
    out = np.full((len(landmarks), 3), np.nan)
    for t, frame in enumerate(landmarks):
        if not np.isfinite(frame[points, :2]).all():
            continue
        b = frame[points, :2] - frame[points, :2].mean(axis=0)

        def residual(vector: np.ndarray, b: np.ndarray = b) -> np.ndarray:
            projected = (a @ Rotation.from_rotvec(vector).as_matrix().T)[:, :2]
            scale = float((projected * b).sum() / (projected**2).sum())
            return np.asarray((scale * projected - b).ravel())

        fit = least_squares(residual, np.zeros(3), xtol=1e-12, ftol=1e-12, gtol=1e-12)
        out[t] = _euler(Rotation.from_rotvec(fit.x).as_matrix())
    return out


def ramp(request: np.ndarray, frames: int = RAMP_FRAMES) -> np.ndarray:
    """``(frames, 7)`` parameters easing from zero (the photo) to ``request`` ``(7,)``: frame ``t`` is
    ``request * (1 - cos(pi t / (frames - 1))) / 2``, so the first frame is the photo, the last the request, and the
    motion starts and stops smoothly as a head's does."""
    require(frames >= 2, ShapeError, f"a ramp needs at least 2 frames (the photo and the request), got {frames}.")
    share = (1.0 - np.cos(np.pi * np.arange(frames) / (frames - 1))) / 2.0
    return np.asarray(share[:, None] * np.asarray(request, dtype=np.float64)[None, :])


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """``(T,)`` inner-lip gap over mouth width."""
    gap = np.linalg.norm(landmarks[:, UPPER_LIP_CENTRE, :2] - landmarks[:, LOWER_LIP_CENTRE, :2], axis=1)
    width = np.linalg.norm(landmarks[:, MOUTH_CORNERS[0], :2] - landmarks[:, MOUTH_CORNERS[1], :2], axis=1)
    return np.asarray(gap / width)


def eye_aspect_ratios(landmarks: np.ndarray) -> np.ndarray:
    """``(T, 2)`` eye aspect ratio of the image-left and image-right eyes."""
    out = []
    for upper, lower, a, b in EAR_POINTS:
        lid = np.linalg.norm(landmarks[:, upper, :2] - landmarks[:, lower, :2], axis=1)
        out.append(lid / np.linalg.norm(landmarks[:, a, :2] - landmarks[:, b, :2], axis=1))
    return np.stack(out, axis=1)


@dataclass(frozen=True)
class PoseAccuracy:
    """One head-pose axis: ``requested`` and ``measured`` ``(K,)`` degrees; ``within`` the issue's tolerance."""

    axis: str
    requested: np.ndarray
    measured: np.ndarray

    @property
    def ratio(self) -> np.ndarray:
        """Measured over requested (1 is exact)."""
        return np.asarray(self.measured / self.requested)

    @property
    def gain(self) -> float:
        """Least-squares slope through the origin of measured over requested, ``<m, r> / <r, r>`` (1 is exact)."""
        return float(self.measured @ self.requested / (self.requested @ self.requested))

    @property
    def within(self) -> np.ndarray:
        allowed = np.maximum(POSE_TOLERANCE * np.abs(self.requested), POSE_FLOOR_DEGREES)
        return np.asarray(np.abs(self.measured - self.requested) <= allowed)


@dataclass(frozen=True)
class GeometricAccuracy:
    """What the landmarker reads back from one portrait's frames (see the module docstring): ``poses`` projected,
    ``poses_3d`` by the 3-D fit."""

    poses: tuple[PoseAccuracy, ...]
    poses_3d: tuple[PoseAccuracy, ...]
    mouth_requested: np.ndarray
    mouth_measured: np.ndarray
    open_ear: np.ndarray
    closed_ear: np.ndarray
    jitter: float
    frame_jitter: float
    photo_jitter: float

    @property
    def mouth_r(self) -> float:
        return float(pearson(self.mouth_requested, self.mouth_measured))

    @property
    def mouth_slope(self) -> float:
        """Least-squares slope of measured over requested opening (1 is exact)."""
        return float(np.polyfit(self.mouth_requested, self.mouth_measured, 1)[0])

    def summary(self) -> dict[str, float]:
        """One row of the accuracy table."""
        row: dict[str, float] = {}
        for suffix, poses in (("", self.poses), (" 3d", self.poses_3d)):
            for pose in poses:
                row[f"{pose.axis}{suffix} worst ratio"] = float(pose.ratio[np.argmax(np.abs(pose.ratio - 1.0))])
                row[f"{pose.axis}{suffix} within"] = float(pose.within.mean())
        row.update(
            mouth_r=self.mouth_r,
            mouth_slope=self.mouth_slope,
            open_ear=float(self.open_ear.max()),
            closed_ear=float(self.closed_ear.max()),
            jitter_px=self.jitter,
            frame_jitter_px=self.frame_jitter,
            photo_jitter_px=self.photo_jitter,
        )
        return row


def _frames(values: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64)
    require(out.ndim == 2 and out.shape[1] == PARAMETERS, ShapeError, f"expected (T, {PARAMETERS}) parameters.")
    return out


def measure_accuracy(
    renderer: GeometricRenderer, portrait: GeometricPortrait, photo: np.ndarray, landmarker: Landmarker
) -> GeometricAccuracy:
    """Render the issue's sweeps of ``portrait`` (from ``photo`` ``(H, W, 3)`` uint8) and read them back.

    Sweeps: yaw +/-10, +/-20 degrees; pitch and roll +/-7.5, +/-15; mouth 0 .. 0.5; both eyes closed; and
    :data:`STILL_FRAMES` frames of the zero request (jitter, read as a video, frame by frame, and beside it the
    photo itself repeated as a video). Every
    other frame is read on its own, from a fresh detection, so no tracking prior (the photo's landmarks or the
    previous request's) pulls its reading towards another pose.
    """
    reference = landmarker(photo[None])[0]
    require(bool(np.isfinite(reference).all()), ShapeError, "the landmarker finds no face in the photo.")

    def read(values: np.ndarray) -> np.ndarray:
        frames = renderer.render_frames(portrait, values)
        return np.stack([landmarker(frame[None])[0] for frame in frames])

    poses, poses_3d = [], []
    for axis, sweep in POSE_SWEEP.items():
        values = np.zeros((len(sweep), PARAMETERS))
        values[:, axis] = sweep
        landmarks = read(values)
        name = ("yaw", "pitch", "roll")[axis]
        poses.append(PoseAccuracy(name, np.asarray(sweep), projected_pose(reference, landmarks)[:, axis]))
        poses_3d.append(PoseAccuracy(name, np.asarray(sweep), relative_pose(reference, landmarks)[:, axis]))
    mouth = np.zeros((len(MOUTH_SWEEP), PARAMETERS))
    mouth[:, MOUTH] = MOUTH_SWEEP
    opening = mouth_opening(read(mouth)) - mouth_opening(reference[None])[0]
    eyes = np.zeros((2, PARAMETERS))
    eyes[1, [BLINK_LEFT, BLINK_RIGHT]] = 1.0
    ears = eye_aspect_ratios(read(eyes))
    still = renderer.render_frames(portrait, np.zeros((STILL_FRAMES, PARAMETERS)))
    return GeometricAccuracy(
        poses=tuple(poses),
        poses_3d=tuple(poses_3d),
        mouth_requested=np.asarray(MOUTH_SWEEP),
        mouth_measured=opening,
        open_ear=ears[0],
        closed_ear=ears[1],
        jitter=_jitter(landmarker(still)),
        frame_jitter=_jitter(np.stack([landmarker(frame[None])[0] for frame in still])),
        photo_jitter=_jitter(landmarker(np.repeat(photo[None], STILL_FRAMES, axis=0))),
    )


def _jitter(landmarks: np.ndarray) -> float:
    """RMS distance (pixels) of each of ``(T, >=468, 2+)`` landmarks from its mean over the frames."""
    points = landmarks[:, :MESH_POINTS, :2]
    return float(np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=-1).mean()))
