"""Video-driven reenactment with ground truth: a synthetic face driven by another's video (synthetic-demo model,
measured by the synthetic analyzer), a real photo driven by a video the geometric renderer drew with known
parameters (photo family, measured by the face stack), axis choice, mixed driving and bad driving videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from motionkit.assets import bundled_model_path, demo_model_path, demo_photo_path
from motionkit.data.synthetic import FaceParams, SyntheticWorld, close_up
from motionkit.errors import ConfigError, EditError, FaceNotFoundError, ImageError
from motionkit.eval import pearson
from motionkit.eval.face import SyntheticFaceAnalyzer
from motionkit.eval.geometric import mouth_opening, relative_pose
from motionkit.face import FaceStack
from motionkit.geometric import AXIS_NAMES
from motionkit.io import VideoWriter, load_image
from motionkit.pipeline import Pipeline
from motionkit.pipeline.driving import extended_indices, resolve_axes, transfer_program
from motionkit.testing.videos import talking_params, write_photo_video, write_world_video
from motionkit.types import MotionTrack

FPS = 25.0
FRAMES = 75
SIZE = 64


def driving_params(frames: int = FRAMES) -> FaceParams:
    """A turn, a nod and a talking mouth at different rates (so each axis can be told from the others)."""
    return talking_params(frames, FPS, yaw=12, pitch=8, mouth=1.0)


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return SyntheticWorld(close_up(), size=SIZE)


@pytest.fixture(scope="module")
def demo() -> Pipeline:
    return Pipeline.from_pretrained(demo_model_path())


@pytest.fixture(scope="module")
def synthetic_driving(world: SyntheticWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Face 11 of the synthetic world following :func:`driving_params`, with speech-like audio."""
    audio = 0.1 * np.sin(2 * np.pi * 220 * np.arange(FRAMES * 640) / 16000).astype(np.float32)
    path = tmp_path_factory.mktemp("driving") / "driving.mp4"
    return write_world_video(path, world, 11, driving_params(), FPS, audio=audio)


def measure(frames: np.ndarray, world: SyntheticWorld, identity_seed: int) -> dict[str, np.ndarray]:
    measured = SyntheticFaceAnalyzer(close_up(), identity=world.identity(identity_seed)).measure(frames)
    return {"yaw": measured.yaw, "pitch": measured.pitch, "mouth_open": measured.mouth_open}


def test_a_synthetic_face_follows_another_faces_video(
    demo: Pipeline, world: SyntheticWorld, synthetic_driving: Path, one_thread: None
) -> None:
    video = demo.drive(world.portrait(world.identity(12)), synthetic_driving, crop=False, driving_crop=False)
    assert (len(video), video.fps) == (FRAMES, FPS)
    assert video.audio is not None  # the driving video's audio is muxed
    measured = measure(np.stack(list(video.frames())), world, 12)
    truth = driving_params()
    assert pearson(measured["yaw"], truth.yaw) >= 0.9
    assert pearson(measured["pitch"], truth.pitch) >= 0.9
    assert pearson(measured["mouth_open"], truth.mouth_open) >= 0.8


def test_only_the_chosen_axes_are_transferred(
    demo: Pipeline, world: SyntheticWorld, synthetic_driving: Path, one_thread: None
) -> None:
    portrait = world.portrait(world.identity(12))
    truth = driving_params()
    pose = measure(
        np.stack(list(demo.drive(portrait, synthetic_driving, crop=False, driving_crop=False, axes="pose").frames())),
        world,
        12,
    )
    assert pearson(pose["yaw"], truth.yaw) >= 0.9
    # the mouth stays as in the portrait (what is left is the analyzer's error on a turning head)
    assert np.nanstd(pose["mouth_open"]) < 0.2 * np.std(truth.mouth_open)
    assert abs(pearson(pose["mouth_open"], truth.mouth_open)) < 0.5
    mouth = measure(
        np.stack(list(demo.drive(portrait, synthetic_driving, crop=False, driving_crop=False, axes="mouth").frames())),
        world,
        12,
    )
    assert pearson(mouth["mouth_open"], truth.mouth_open) >= 0.8
    assert np.nanstd(mouth["yaw"]) < 0.2 * np.std(truth.yaw)  # the head stays still


def test_relative_and_absolute_transfer_in_the_motion_space(demo: Pipeline) -> None:
    space = demo.motion_space
    generator = torch.Generator().manual_seed(0)
    # motion of the renderer: latents in the span of its motion basis
    driving = space.compose(torch.randn(1, 6, space.rank, generator=generator))
    source = space.compose(torch.randn(1, space.rank, generator=generator))
    track = MotionTrack(driving, fps=FPS, source=source)
    relative = transfer_program(space, "relative").apply(track, space).latents
    torch.testing.assert_close(relative, source[:, None] + driving - driving[:, :1], atol=1e-5, rtol=1e-5)
    absolute = transfer_program(space, "absolute").apply(track, space).latents
    torch.testing.assert_close(absolute, driving, atol=1e-5, rtol=1e-5)
    # one axis: the coefficients move from the source's only along the yaw direction u, to the driving value
    kept = space.project(transfer_program(space, "absolute", "yaw").apply(track, space).latents[0].double())
    own, driven = space.project(source.double()), space.project(driving[0].double())
    u = space.axis("yaw").vector().double()
    change = kept - own
    torch.testing.assert_close(change, (change @ u)[:, None] * u[None], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(kept @ u, driven @ u, atol=1e-5, rtol=1e-5)


def test_axis_names_and_groups(demo: Pipeline) -> None:
    space = demo.motion_space
    assert resolve_axes(space, "pose") == (("yaw", "pitch", "roll"), False)
    assert resolve_axes(space, "pose,mouth") == (("yaw", "pitch", "roll", "mouth"), False)
    assert resolve_axes(space, "expression") == ((), True)
    with pytest.raises(EditError, match="unknown axis 'nose'; this model's axes are: yaw, pitch"):
        resolve_axes(space, "nose")


def test_extension_orders() -> None:
    assert extended_indices(4, 9, "ping-pong").tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    assert extended_indices(4, 6, "loop").tolist() == [0, 1, 2, 3, 0, 1]
    assert extended_indices(4, 6, "freeze").tolist() == [0, 1, 2, 3, 3, 3]
    assert extended_indices(4, 2, "ping-pong").tolist() == [0, 1]


def test_head_pose_from_a_video_and_lips_from_speech(
    demo: Pipeline, world: SyntheticWorld, synthetic_driving: Path, one_thread: None
) -> None:
    from motionkit.assets import demo_speech_path

    video = demo.generate(
        world.portrait(world.identity(12)), demo_speech_path(), "neutral", crop=False, driving=synthetic_driving,
        driving_crop=False,
    )  # fmt: skip
    measured = measure(np.stack(list(video.frames())), world, 12)
    truth = driving_params()
    index = extended_indices(FRAMES, len(video), "ping-pong")
    assert pearson(measured["yaw"], truth.yaw[index]) >= 0.9
    with pytest.raises(EditError, match="named axes"):
        demo.generate(
            world.portrait(world.identity(12)),
            demo_speech_path(),
            "neutral",
            crop=False,
            driving=synthetic_driving,
            driving_axes="expression",
        )


# ------------------------------------------------------------------------------------------------- photo family

PHOTO_FRAMES = 50


@pytest.fixture(scope="module")
def stack() -> FaceStack:
    return FaceStack()


@pytest.fixture(scope="module")
def photo_driving(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """Grace Hopper drawn by the geometric renderer turning, nodding and talking (known parameters)."""
    t = np.arange(PHOTO_FRAMES) / FPS
    values = np.zeros((PHOTO_FRAMES, len(AXIS_NAMES)), np.float32)
    column = {name: i for i, name in enumerate(AXIS_NAMES)}
    values[:, column["yaw"]] = 15 * np.sin(2 * np.pi * 0.6 * t)
    values[:, column["pitch"]] = 10 * np.sin(2 * np.pi * 0.9 * t + 1)
    values[:, column["mouth"]] = 0.15 * (1 - np.cos(2 * np.pi * 1.2 * t))
    path = write_photo_video(tmp_path_factory.mktemp("photo") / "hopper.mp4", values, FPS)
    return path, values


def test_a_real_photo_follows_a_real_video_without_a_learned_model(
    stack: FaceStack, photo_driving: tuple[Path, np.ndarray], one_thread: None
) -> None:
    path, values = photo_driving
    pipeline = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    astronaut = np.ascontiguousarray(data.astronaut())
    video = pipeline.drive(astronaut, path)
    frames = np.stack(list(video.frames()))
    assert frames.shape == (PHOTO_FRAMES, *astronaut.shape)
    landmarks = np.stack([stack.face(frame).points for frame in frames])
    pose = relative_pose(stack.face(astronaut).points, landmarks)
    column = {name: i for i, name in enumerate(AXIS_NAMES)}
    # two passes of drawing and reading by the face stack (driving video, then result): measured 0.90 / 0.85 / 0.66
    assert pearson(pose[:, 0], values[:, column["yaw"]]) >= 0.85
    assert pearson(pose[:, 1], values[:, column["pitch"]]) >= 0.8
    assert pearson(mouth_opening(landmarks), values[:, column["mouth"]]) >= 0.6


# --------------------------------------------------------------------------------------------------- bad input


def test_a_one_frame_driving_video_is_refused(demo: Pipeline, world: SyntheticWorld, tmp_path: Path) -> None:
    path = write_world_video(tmp_path / "one.mp4", world, 3, driving_params(1), FPS)
    with pytest.raises(ConfigError, match="single frame: there is no motion to transfer"):
        demo.drive(world.portrait(world.identity(12)), path, crop=False, driving_crop=False)


def test_a_silent_driving_video_gives_a_silent_result(
    demo: Pipeline, world: SyntheticWorld, tmp_path: Path, one_thread: None
) -> None:
    path = write_world_video(tmp_path / "silent.mp4", world, 3, driving_params(5), FPS)
    video = demo.drive(world.portrait(world.identity(12)), path, crop=False, driving_crop=False)
    assert video.audio is None
    assert len(video) == 5


def test_damaged_driving_videos_raise_a_clear_error(demo: Pipeline, synthetic_driving: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    with pytest.raises(ImageError, match="not a readable video"):
        demo.drive(demo_photo_path(), broken)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(synthetic_driving.read_bytes()[: synthetic_driving.stat().st_size // 3])
    with pytest.raises(ImageError, match=r"truncated|not a readable|no decodable"):
        list(demo.drive(demo_photo_path(), truncated, driving_crop=False).frames())


def test_too_many_frames_without_a_face_are_refused(demo: Pipeline, tmp_path: Path, one_thread: None) -> None:
    photo = load_image(demo_photo_path())
    blank = np.full_like(photo, 90)
    path = tmp_path / "lost.mp4"
    with VideoWriter(path, fps=FPS) as writer:
        writer.write(np.stack([photo, photo, blank, blank, blank, photo]))
    with pytest.raises(
        FaceNotFoundError, match=r"no face was found in 3 of the 6 frames .*\(50%, more than the 25% allowed\)"
    ):
        demo.drive(demo_photo_path(), path)
    video = demo.drive(demo_photo_path(), path, max_missing=0.5)
    assert len(video) == 6


def test_a_driven_learned_portrait_is_pasted_back_into_its_photo(
    pipeline: Pipeline, tmp_path: Path, one_thread: None
) -> None:
    photo = load_image(demo_photo_path())
    path = tmp_path / "still.mp4"
    with VideoWriter(path, fps=FPS, crf=0) as writer:
        writer.write(np.stack([photo, photo[:, ::-1].copy(), photo]))
    video = pipeline.drive(photo, path, paste_back=True, axes="pose")
    assert video.paste_back is not None
    frames = np.stack(list(video.frames()))
    outside = video.paste_back.mask == 0
    assert frames.shape == (3, *photo.shape)
    assert np.array_equal(frames[:, outside], np.broadcast_to(photo[outside], frames[:, outside].shape))
