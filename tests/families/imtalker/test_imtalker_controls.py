"""IMTalker's per-frame controls from motionkit's side: strict checks of given constants and tracks, track files, the
head pose and camera measured by the face stack in SMIRK's units, ``Pipeline.generate(controls=..., driving=...)``
and the command line's --pose / --cam / --gaze options; a model without controls refuses them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.spatial.transform import Rotation

from motionkit import Pipeline
from motionkit.assets import demo_portrait_path
from motionkit.cli.controls import pose_from_degrees
from motionkit.data.synthetic.geometry import rotation_matrices
from motionkit.errors import ConfigError, NonFiniteError, ShapeError
from motionkit.eval import pearson
from motionkit.face import FaceStack, FaceStackConfig
from motionkit.face.canonical import canonical_face
from motionkit.face.landmarks import FaceLandmarks
from motionkit.face.pose import CAMERA_FROM_IMAGE
from motionkit.families.imtalker.controls import check_control, read_control_track, with_controls
from motionkit.families.imtalker.face_controls import EYEBALL_RADIUS, EYES, FLAME_EYE_CORNERS, measure_controls
from motionkit.families.imtalker.generator import IMTalkerMotion
from motionkit.families.imtalker.presets import tiny_motion
from motionkit.geometric import AXIS_NAMES
from motionkit.io import VideoReader
from motionkit.pipeline.driving import FaceCounts, FaceFollower, extended_indices, read_driving_controls
from motionkit.testing.models import random_model_folder
from motionkit.testing.signals import speech_like
from motionkit.testing.videos import write_photo_video
from motionkit.types import MotionTrack
from tests.cli.cli_helpers import one_error_line, run

FPS = 25.0
DRIVING_FRAMES = 16
SPEECH_SECONDS = 0.8  # 20 frames: the 16-frame driving video is played back and forth
YAW_DEGREES = 15.0


# --------------------------------------------------------------------------------------------- checks and files


def test_a_constant_is_repeated_and_a_longer_track_is_cut() -> None:
    constant = check_control([0.1, -0.2, 0.3], 5, "pose", 3)
    assert constant.shape == (1, 5, 3)
    torch.testing.assert_close(constant[0], torch.tensor([[0.1, -0.2, 0.3]]).expand(5, 3))
    track = np.arange(24, dtype=np.float32).reshape(8, 3)
    torch.testing.assert_close(check_control(track, 5, "cam", 3)[0], torch.from_numpy(track[:5]))


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        ([0.1, 0.2], ShapeError, r"shape \(2,\), but IMTalker's pose takes 3 values per frame"),
        (np.zeros((10, 4)), ShapeError, r"shape \(10, 4\), but IMTalker's pose takes 3 values per frame"),
        (np.zeros((3, 3)), ShapeError, "the pose track has 3 frames but the clip has 5; give at least 5 rows"),
        (np.zeros((0, 3)), ShapeError, "the pose track has 0 frames"),
        (np.array([[0, 0, 0], [0, 0, 0], [0, np.nan, 0]] + [[0, 0, 0]] * 3), NonFiniteError, "first at row 2"),
        ("left", ShapeError, "the pose control must be numbers"),
    ],
)
def test_malformed_controls_are_refused_with_the_fix(values: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        check_control(values, 5, "pose", 3)  # type: ignore[arg-type]


def test_track_files(tmp_path: Path) -> None:
    csv = tmp_path / "pose.csv"
    csv.write_text("x,y,z\n0.1,0.2,0.3\n\n-0.1,0,0.5\n")
    np.testing.assert_array_equal(read_control_track(csv, "pose"), np.float32([[0.1, 0.2, 0.3], [-0.1, 0, 0.5]]))
    npy = tmp_path / "gaze.npy"
    np.save(npy, np.float64([[0.1, 0.2]] * 4))
    assert read_control_track(npy, "gaze").shape == (4, 2)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("0.1,0.2,0.3\n0.1,0.2\n")
    with pytest.raises(ConfigError, match="different numbers of values; give one row of numbers per frame"):
        read_control_track(ragged, "pose")
    text = tmp_path / "words.csv"
    text.write_text("yaw,pitch\nleft,up\n")
    with pytest.raises(ConfigError, match="cannot read the pose track"):
        read_control_track(text, "pose")
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"pose": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ConfigError, match="cannot read the pose track"):
        read_control_track(objects, "pose")
    with pytest.raises(ConfigError, match=r"must be a \.csv or \.npy file"):
        read_control_track(tmp_path / "pose.txt", "pose")
    with pytest.raises(ConfigError, match="does not exist"):
        read_control_track(tmp_path / "missing.csv", "pose")


# ----------------------------------------------------------------------------------------- measured controls


def test_pose_and_camera_are_smirks_rotation_vector_and_weak_perspective_camera() -> None:
    """A face placed with a known rotation, size and position: SMIRK's projection of the head (in metres) with the
    measured camera lands on the face's landmarks, and the rotation vector is the known one."""
    canonical = canonical_face().points
    rotation_vector = np.array([0.15, -0.3, 0.05])
    rotation = Rotation.from_rotvec(rotation_vector).as_matrix()
    height, width, scale = 480, 640, 70.0
    camera = scale * canonical @ rotation.T + np.array([300.0, -260.0, 5.0])  # origin at pixel (300, 260)
    points = camera * CAMERA_FROM_IMAGE
    face = FaceStack.describe(FaceLandmarks(points, 1.0, None))  # type: ignore[arg-type]
    controls = measure_controls(face, (height, width))
    np.testing.assert_allclose(controls["pose"], rotation_vector, atol=1e-9)
    s, tx, ty = controls["cam"]
    # the origin (the mesh centroid) lands on its pixel in any frame; one s serves both axes of a square frame
    np.testing.assert_allclose((s * tx, -s * ty), (2 * 300 / width - 1, 2 * 260 / height - 1), atol=1e-9)
    s, tx, ty = measure_controls(face, (width, width))["cam"]
    head = canonical @ rotation.T * FLAME_EYE_CORNERS  # the head in metres, rotated
    np.testing.assert_allclose(s * (head[:, 0] + tx), 2 * points[:, 0] / width - 1, atol=1e-9)
    np.testing.assert_allclose(-s * (head[:, 1] + ty), 2 * points[:, 1] / width - 1, atol=1e-9)


def test_gaze_is_l2cs_angles_of_the_eyes_direction_from_the_irises() -> None:
    """Irises placed where eyes turned along a known head-frame direction put them: the measured gaze is that
    direction, rotated by the head, in L2CS-Net's angles; a face without irises has no gaze."""
    canonical = canonical_face().points
    looking = np.array([0.3, -0.2, np.sqrt(1 - 0.3**2 - 0.2**2)])  # to the head's right and down
    irises = []
    for corners, _ in EYES.values():
        rest = canonical[list(corners)].mean(axis=0)
        irises.append(rest + EYEBALL_RADIUS * np.array([looking[0], looking[1], 0.0]))
    head = np.concatenate([canonical, np.repeat(irises[:1], 5, axis=0), np.repeat(irises[1:], 5, axis=0)])
    rotation = Rotation.from_rotvec([0.1, 0.25, -0.05]).as_matrix()
    points = (80.0 * head @ rotation.T + np.array([256.0, -256.0, 0.0])) * CAMERA_FROM_IMAGE
    face = FaceStack.describe(FaceLandmarks(points, 1.0, None))  # type: ignore[arg-type]
    gaze = measure_controls(face, (512, 512))["gaze"]
    g = rotation @ looking  # camera frame: x right, y up, z towards the viewer
    np.testing.assert_allclose(gaze, [np.arctan2(-g[0], g[2]), np.arcsin(g[1])], atol=1e-6)
    assert gaze[0] < 0 < g[0]  # L2CS: a positive first angle looks towards the image's left
    assert "gaze" not in measure_controls(FaceStack.describe(FaceLandmarks(points[:468], 1.0, None)), (512, 512))  # type: ignore[arg-type]


def test_pose_in_degrees_is_the_rotation_vector_of_the_face_stacks_angles() -> None:
    """``--pose-degrees``: a face turned by those angles reads them back from the face stack, and its measured pose
    control is the converted constant."""
    angles = [12.0, -7.0, 4.0]
    rotation = rotation_matrices(*(np.float64(a) for a in angles))
    points = (70.0 * canonical_face().points @ rotation.T + np.array([256.0, -256.0, 0.0])) * CAMERA_FROM_IMAGE
    face = FaceStack.describe(FaceLandmarks(points, 1.0, None))  # type: ignore[arg-type]
    np.testing.assert_allclose((face.pose.yaw, face.pose.pitch, face.pose.roll), angles, atol=1e-9)
    np.testing.assert_allclose(pose_from_degrees(angles), measure_controls(face, (512, 512))["pose"], atol=1e-12)
    np.testing.assert_allclose(pose_from_degrees([10, 0, 0]), [0, np.radians(10), 0], atol=1e-12)  # about y
    with pytest.raises(ConfigError, match="--pose-degrees takes three angles YAW,PITCH,ROLL in degrees, got 2"):
        pose_from_degrees([10.0, 0.0])


@pytest.fixture(scope="module")
def driving(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """Grace Hopper drawn by the geometric renderer turning her head (known yaw in degrees per frame)."""
    values = np.zeros((DRIVING_FRAMES, len(AXIS_NAMES)), np.float32)
    yaw = YAW_DEGREES * np.sin(2 * np.pi * np.arange(DRIVING_FRAMES) / DRIVING_FRAMES)
    values[:, AXIS_NAMES.index("yaw")] = yaw
    return write_photo_video(tmp_path_factory.mktemp("driving") / "turn.mp4", values, FPS), yaw


def measured_controls(path: Path, refined: bool = True) -> dict[str, np.ndarray]:
    reader = VideoReader(path, fps=FPS)
    counts = FaceCounts()
    stack = FaceStack(config=FaceStackConfig(refined=refined))
    controls = read_driving_controls(
        IMTalkerMotion(tiny_motion()), reader.frames(), follower=FaceFollower(reader.fps, stack=stack), counts=counts
    )
    assert (counts.frames, counts.missing) == (DRIVING_FRAMES, 0)
    return controls


def test_head_pose_and_camera_measured_on_a_video(driving: tuple[Path, np.ndarray]) -> None:
    path, yaw = driving
    assert set(measured_controls(path, refined=False)) == {"pose", "cam"}  # the 468-point mesh has no irises
    controls = measured_controls(path)
    assert set(controls) == {"pose", "cam", "gaze"}
    assert controls["pose"].shape == controls["cam"].shape == (DRIVING_FRAMES, 3)
    assert controls["gaze"].shape == (DRIVING_FRAMES, 2)
    # the drawn eyes turn with the head, so the gaze (in the camera frame) follows the turn: L2CS's first angle is
    # positive towards the image's left; measured correlation -0.976, slope -0.75, mean (0.02, 0.04) rad
    assert pearson(controls["gaze"][:, 0], yaw) <= -0.95
    assert -1.3 < np.polyfit(np.radians(yaw), controls["gaze"][:, 0], 1)[0] < -0.5
    assert np.abs(controls["gaze"].mean(axis=0)).max() < 0.15
    # a turn to the image's right is a positive rotation about y; measured: correlation 0.976, slope 0.65 (the face
    # stack reads the turn the geometric renderer draws as about two thirds of its angle)
    turn = controls["pose"][:, 1]
    assert pearson(turn, yaw) >= 0.95
    slope = np.polyfit(np.radians(yaw), turn, 1)[0]
    assert 0.5 < slope < 1.3
    scale = controls["cam"][:, 0]
    assert scale.std() < 0.05 * scale.mean()  # the head stays at its distance


# ------------------------------------------------------------------------------------------------ the pipeline


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, speech_like(SPEECH_SECONDS), 16000, subtype="PCM_16")
    return path


def sampled(pipeline: Pipeline, speech: Path, **options: object) -> torch.Tensor:
    video = pipeline.generate(demo_portrait_path(), speech, "neutral", seed=3, crop=False, **options)  # type: ignore[arg-type]
    return video.sampled_track.latents


@pytest.mark.slow
def test_generate_takes_controls_and_measures_them_on_a_driving_video(
    tiny_pipeline: Pipeline, speech: Path, driving: tuple[Path, np.ndarray]
) -> None:
    frames = int(SPEECH_SECONDS * FPS)
    pose = np.stack([np.linspace(-0.3, 0.3, frames + 4)] * 3, axis=1)
    plain = sampled(tiny_pipeline, speech)
    given = sampled(tiny_pipeline, speech, controls={"pose": pose, "gaze": (0.1, -0.2)})
    assert not torch.allclose(plain, given, atol=1e-3)
    # the same as the conditions built by hand (the official alignment of a long track: cut)
    source = tiny_pipeline.encode_portrait(demo_portrait_path(), crop=False)
    conditions = tiny_pipeline.condition(tiny_pipeline.load_audio(speech), "neutral")
    by_hand = tiny_pipeline.sample(with_controls(conditions, pose=pose, gaze=(0.1, -0.2)), source, seed=3)
    torch.testing.assert_close(given, by_hand.latents, atol=0, rtol=0)
    # a driving video gives pose and camera, played back and forth over the speech; a given control replaces one
    measured = measured_controls(driving[0])
    indices = extended_indices(DRIVING_FRAMES, frames, "ping-pong")
    extended = {name: track[indices] for name, track in measured.items()}
    assert set(extended) == {"pose", "cam", "gaze"}
    from_video = sampled(tiny_pipeline, speech, driving=driving[0])
    torch.testing.assert_close(from_video, sampled(tiny_pipeline, speech, controls=extended), atol=0, rtol=0)
    replaced = sampled(tiny_pipeline, speech, driving=driving[0], controls={"pose": pose})
    expected = sampled(tiny_pipeline, speech, controls={**extended, "pose": pose})
    torch.testing.assert_close(replaced, expected, atol=0, rtol=0)
    with pytest.raises(ShapeError, match="the cam track has 3 frames but the clip has 20"):
        sampled(tiny_pipeline, speech, controls={"cam": np.ones((3, 3))})
    with pytest.raises(ConfigError, match="not as axes; drop driving_axes='yaw'"):
        sampled(tiny_pipeline, speech, driving=driving[0], driving_axes="yaw")


def test_a_model_without_controls_refuses_them(
    tmp_path: Path, speech: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = random_model_folder(tmp_path / "float-tiny")
    pipeline = Pipeline.from_pretrained(folder)
    with pytest.raises(ConfigError, match=r"family float\) takes no per-frame pose, cam, gaze controls; only IMTalker"):
        pipeline.generate(demo_portrait_path(), speech, "neutral", controls={"pose": [0.0, 0.0, 0.0]})
    code, _, err = run(
        capsys, "generate", demo_portrait_path(), speech, "-o", tmp_path / "out.mp4", "--model", folder,
        "--pose", "0,0,0", "--quiet",
    )  # fmt: skip
    assert code != 0
    assert "takes no per-frame pose, cam, gaze controls; only IMTalker models do" in one_error_line(err)
    assert "--edits PROGRAM.json" in one_error_line(err)
    assert not (tmp_path / "out.mp4").exists()
    code, _, err = run(
        capsys, "generate", demo_portrait_path(), speech, "-o", tmp_path / "out.mp4", "--model", folder,
        "--pose", "0,0,0", "--pose-degrees", "10,0,0",
    )  # fmt: skip
    assert code == 2  # a usage error: one pose only
    assert "not allowed with argument" in err


@pytest.mark.slow
def test_command_line_controls(tiny_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    speech = tmp_path / "short.wav"
    sf.write(speech, speech_like(0.08), 16000, subtype="PCM_16")  # two frames: each one costs a second to render
    common = ("--model", tiny_folder, "--no-crop", "--quiet")
    pose = tmp_path / "pose.csv"
    pose.write_text("x,y,z\n0.1,0,0\n0.2,0,0,0.3\n")
    code, _, err = run(capsys, "generate", demo_portrait_path(), speech, "-o", tmp_path / "a.mp4", "--pose-track", pose)
    assert code != 0
    assert "cannot read the pose track" in one_error_line(err)  # read before any model is loaded
    pose.write_text("0.1,0,0,1\n0.2,0,0,1\n")
    code, _, err = run(
        capsys, "generate", demo_portrait_path(), speech, "-o", tmp_path / "a.mp4", "--pose-track", pose, *common
    )
    assert code != 0
    assert "IMTalker's pose takes 3 values per frame" in one_error_line(err)
    track = tmp_path / "track.safetensors"
    code, _, err = run(
        capsys, "generate", demo_portrait_path(), speech, "-o", tmp_path / "b.mp4", "--pose=-0.2,0.1,0",
        "--gaze", "0,0.1", "--cam", "7,0,0", "--save-track", track, *common,
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "b.mp4").stat().st_size > 0
    assert MotionTrack.load(track).latents.shape == (1, 2, 32)
