"""The accuracy measurement (exact on known rotations) and the renderer's accuracy on real photos, as FaceMesh
reads it back (docs/geometric.md has the table for six portraits; these are the figures that hold on every one)."""

from __future__ import annotations

import numpy as np
import pytest

from motionkit.errors import ShapeError
from motionkit.eval.face import LandmarkFaceAnalyzer
from motionkit.eval.geometric import (
    CLOSED_SHARE,
    POSE_SWEEP,
    GeometricAccuracy,
    PoseAccuracy,
    eye_aspect_ratios,
    measure_accuracy,
    mouth_opening,
    projected_pose,
    ramp,
    relative_pose,
)
from motionkit.geometric import GeometricPortrait, GeometricRenderer, PortraitGeometry
from motionkit.geometric.axes import BLINK_LEFT, BLINK_RIGHT, PARAMETERS, PITCH, YAW
from motionkit.geometric.motion import deform, folds, guarded_positions, rotation
from motionkit.geometric.topology import CHIN, EYE_LEFT_UPPER, EYE_RIGHT_UPPER, MESH_POINTS, MOUTH_CORNERS, NOSE_TIP

PITCH_GAIN_FLOOR = 0.65
"""The least gain of the projected pitch reading on the astronaut and Grace Hopper (fresh detections): it reads 0.74
and 0.91 of the request; a renderer whose pitch is scaled by 0.7 reads 0.45 and 0.58 (docs/geometric.md, Accuracy,
pitch: the network, not its region, under-follows the warp, so no reading meets the issue's 15 %)."""


def test_relative_pose_recovers_a_known_rotation_scale_and_shift(astronaut_geometry: PortraitGeometry) -> None:
    reference = astronaut_geometry.landmarks
    turns = [(20.0, 0.0, 0.0), (0.0, -15.0, 0.0), (0.0, 0.0, 15.0), (-12.0, 9.0, -7.0)]
    moved = []
    for yaw, pitch, roll in turns:
        centre = reference.mean(axis=0)
        moved.append(1.3 * (reference - centre) @ rotation(yaw, pitch, roll).T + centre + np.array([5.0, -3.0, 2.0]))
    measured = relative_pose(reference, np.stack(moved))
    np.testing.assert_allclose(measured, np.array(turns), atol=1e-9)


def test_projected_pose_recovers_a_known_rotation_from_2d_points_alone(astronaut_geometry: PortraitGeometry) -> None:
    reference = astronaut_geometry.landmarks
    turns = [(20.0, 0.0, 0.0), (0.0, -15.0, 0.0), (0.0, 0.0, 15.0), (-12.0, 9.0, -7.0), (0.0, 0.0, 0.0)]
    moved = []
    for yaw, pitch, roll in turns:
        centre = reference.mean(axis=0)
        frame = 0.8 * (reference - centre) @ rotation(yaw, pitch, roll).T + centre + np.array([-7.0, 4.0, 0.0])
        frame[:, 2] = np.nan  # no depth: the fit reads the 2-D positions only
        moved.append(frame)
    np.testing.assert_allclose(projected_pose(reference, np.stack(moved)), np.array(turns), atol=1e-6)
    missing = np.full((1, *reference.shape), np.nan)
    assert np.isnan(projected_pose(reference, missing)).all()


def test_a_ramp_eases_from_the_photo_to_the_request() -> None:
    request = np.array([20.0, -15.0, 7.5, 0.3, 1.0, 0.0, -0.05])
    values = ramp(request, 12)
    assert values.shape == (12, PARAMETERS)
    assert (values[0] == 0.0).all()
    np.testing.assert_allclose(values[-1], request, rtol=1e-15)
    steps = np.diff(values[:, 0])
    assert (steps > 0).all()  # monotone towards the request
    assert steps[0] < steps[5]  # starts smoothly
    assert steps[-1] < steps[5]  # and stops smoothly
    np.testing.assert_allclose(values + values[::-1], np.repeat(request[None], 12, axis=0), rtol=1e-12)
    with pytest.raises(ShapeError, match="at least 2 frames"):
        ramp(request, 1)


def test_mouth_and_eye_ratios_follow_their_formulas(astronaut_geometry: PortraitGeometry) -> None:
    points = astronaut_geometry.landmarks[None]
    gap = np.linalg.norm(points[0, 13, :2] - points[0, 14, :2]) / np.linalg.norm(points[0, 61, :2] - points[0, 291, :2])
    assert mouth_opening(points)[0] == pytest.approx(gap)
    ears = eye_aspect_ratios(points)[0]
    left = np.linalg.norm(points[0, 159, :2] - points[0, 145, :2]) / np.linalg.norm(
        points[0, 33, :2] - points[0, 133, :2]
    )
    assert ears[0] == pytest.approx(left)
    assert ears.min() > 0.2  # open eyes
    assert ears.max() < 0.5


@pytest.mark.parametrize("photo", ["astronaut", "hopper"])
def test_the_renderers_vertices_turn_by_the_request(renderer: GeometricRenderer, photo: str, request) -> None:  # type: ignore[no-untyped-def]
    """The warp's geometry, read as a perfect 2-D landmarker would read it: the deformed vertices fitted with the
    photo's own 3-D mesh (projected_pose) turn within the issue's tolerance on every axis, although the renderer
    turns a flattened depth by a steepened angle (docs/geometric.md, Accuracy)."""
    image, geometry = request.getfixturevalue(photo), request.getfixturevalue(f"{photo}_geometry")
    portrait = renderer.encode_portrait(image, geometry=geometry)
    for axis, sweep in POSE_SWEEP.items():
        drawn = np.repeat(geometry.landmarks[None], len(sweep), axis=0)
        for k, angle in enumerate(sweep):
            values = np.zeros(PARAMETERS)
            values[axis] = angle
            drawn[k, :MESH_POINTS, :2] = guarded_positions(portrait.mesh, values, renderer.config)[0][:MESH_POINTS]
        pose = PoseAccuracy("turn", np.asarray(sweep), projected_pose(geometry.landmarks, drawn)[:, axis])
        assert pose.within.all(), (axis, pose.measured)


def test_a_blink_that_folds_at_the_lids_does_not_hold_back_the_turn(
    renderer: GeometricRenderer, astronaut_portrait: GeometricPortrait
) -> None:
    """On the astronaut the lids meeting at blink 1 fold two small triangles near the inner corner; the guard holds
    back the expressions there only, so the head's turn (every vertex away from the eyes) is the same with and
    without the blink (it used to scale the whole frame back: the nose tip jumped 5.5 px at yaw 15)."""
    mesh, config = astronaut_portrait.mesh, renderer.config
    turn = np.zeros(PARAMETERS)
    turn[YAW] = 15.0
    blink = turn.copy()
    blink[[BLINK_LEFT, BLINK_RIGHT]] = 1.0
    assert folds(mesh, deform(mesh, blink), config).any()  # the case the guard is for
    open_eyes, _ = guarded_positions(mesh, turn, config)
    closed, share = guarded_positions(mesh, blink, config)
    assert not folds(mesh, closed, config).any()
    moved = np.abs(closed - open_eyes).max(axis=1) > 0
    assert 0.0 < share < 1.0
    assert not moved[[NOSE_TIP, *MOUTH_CORNERS, CHIN]].any()
    assert moved[[*EYE_LEFT_UPPER, *EYE_RIGHT_UPPER]].all()  # the lids still close, partly near the folds


@pytest.fixture(scope="module")
def astronaut_accuracy(renderer: GeometricRenderer, astronaut: np.ndarray, astronaut_geometry: PortraitGeometry) -> (
    GeometricAccuracy
):  # fmt: skip
    portrait = renderer.encode_portrait(astronaut, geometry=astronaut_geometry)
    return measure_accuracy(renderer, portrait, astronaut, LandmarkFaceAnalyzer().landmarks)


@pytest.mark.slow
def test_roll_blink_and_jitter_meet_the_targets(astronaut_accuracy: GeometricAccuracy) -> None:
    for roll in (p for p in (*astronaut_accuracy.poses, *astronaut_accuracy.poses_3d) if p.axis == "roll"):
        assert roll.within.all()
    # the face stack's 468-point mesh (no attention model's refined eyes) reads closed lids as a narrowed eye:
    # about 0.8 of the open ratio on the astronaut (MediaPipe's refined mesh read < 0.3); docs/geometric.md
    assert astronaut_accuracy.closed_ear.max() < CLOSED_SHARE * astronaut_accuracy.open_ear.min()
    assert astronaut_accuracy.jitter < 0.5
    # a still request draws the photo bit for bit: read frame by frame nothing moves, and tracked as a video the
    # landmarks move exactly as they do when the tracker follows the photo itself (its own region feedback)
    assert astronaut_accuracy.frame_jitter < 1e-9  # 0 up to the rounding of the mean over the frames
    assert astronaut_accuracy.jitter == astronaut_accuracy.photo_jitter


@pytest.mark.slow
def test_turns_read_back_from_the_frames(astronaut_accuracy: GeometricAccuracy) -> None:
    # projected (the frame's 2-D landmarks fitted with the photo's mesh), yaw meets the target here (92-107 %);
    # the 3-D reading, whose frame depths the network infers from appearance, reads 77-88 % (docs/geometric.md)
    yaw = next(p for p in astronaut_accuracy.poses if p.axis == "yaw")
    assert yaw.within.all()
    yaw_3d = next(p for p in astronaut_accuracy.poses_3d if p.axis == "yaw")
    assert (yaw_3d.ratio > 0.7).all()
    assert (yaw_3d.ratio < 1.15).all()
    # pitch reads short projected (the landmarks follow 72-79 % of the warp's vertical relief here) and long in
    # 3-D on chin-down (the network deepens the relief); both keep the direction
    for pitch in (p for p in (*astronaut_accuracy.poses, *astronaut_accuracy.poses_3d) if p.axis == "pitch"):
        assert (np.sign(pitch.measured) == np.sign(pitch.requested)).all()
    assert next(p for p in astronaut_accuracy.poses if p.axis == "pitch").gain > PITCH_GAIN_FLOOR


@pytest.fixture(scope="module")
def hopper_accuracy(renderer: GeometricRenderer, hopper: np.ndarray, hopper_geometry: PortraitGeometry) -> (
    GeometricAccuracy
):  # fmt: skip
    portrait = renderer.encode_portrait(hopper, geometry=hopper_geometry)
    return measure_accuracy(renderer, portrait, hopper, LandmarkFaceAnalyzer().landmarks)


@pytest.mark.slow
def test_pitch_reads_back_above_its_floor_on_grace_hopper(hopper_accuracy: GeometricAccuracy) -> None:
    pitch = next(p for p in hopper_accuracy.poses if p.axis == "pitch")
    assert (np.sign(pitch.measured) == np.sign(pitch.requested)).all()
    assert pitch.gain > PITCH_GAIN_FLOOR


@pytest.mark.slow
@pytest.mark.parametrize("photo", ["astronaut", "hopper"])
def test_a_pitch_scaled_by_0_7_reads_below_the_floor(renderer: GeometricRenderer, photo: str, request) -> None:  # type: ignore[no-untyped-def]
    """The pitch floor catches a broken renderer: requesting 0.7 of the sweep (what a renderer whose pitch gain
    were 0.7 would draw for the sweep) reads a gain below it."""
    image, geometry = request.getfixturevalue(photo), request.getfixturevalue(f"{photo}_geometry")
    portrait = renderer.encode_portrait(image, geometry=geometry)
    sweep = np.asarray(POSE_SWEEP[PITCH])
    values = np.zeros((len(sweep), PARAMETERS))
    values[:, PITCH] = 0.7 * sweep
    analyzer = LandmarkFaceAnalyzer()
    frames = renderer.render_frames(portrait, values)
    read = np.stack([analyzer.landmarks(frame[None])[0] for frame in frames])
    pitch = PoseAccuracy("pitch", sweep, projected_pose(geometry.landmarks, read)[:, PITCH])
    assert pitch.gain < PITCH_GAIN_FLOOR


@pytest.mark.slow
def test_mouth_opening_follows_the_request_on_closed_lips(hopper_accuracy: GeometricAccuracy) -> None:
    accuracy = hopper_accuracy
    assert accuracy.mouth_r >= 0.95
    # the mesh opens by the request (slope 1.07 in the renderer's own landmarks, whose corners come in as the jaw
    # opens); the face stack reads the drawn interior as 0.88 of it here, MediaPipe's refined mesh 1.24
    # (docs/geometric.md)
    assert 0.7 < accuracy.mouth_slope < 1.3


@pytest.mark.slow
def test_mouth_opening_follows_the_request_on_a_smile_showing_teeth(astronaut_accuracy: GeometricAccuracy) -> None:
    """The astronaut's smile shows both rows of teeth: the lower teeth drop with the lower lip above them and the
    mouth corners come in as the jaw opens, so the face stack reads the opening (docs/geometric.md: r 0.99 here; the
    mirrored photo, 0.78, is the portrait that still misses the target)."""
    assert astronaut_accuracy.mouth_r >= 0.95
    # the mesh opens by the request; the face stack reads about half of it on this smile
    assert 0.25 < astronaut_accuracy.mouth_slope < 1.3
