"""The synthetic world: determinism, shapes and ranges, and rendering that responds to each parameter."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from motionkit.data.synthetic import (
    HAIR_STYLES,
    FaceIdentity,
    FaceParams,
    SyntheticWorld,
    SyntheticWorldConfig,
)
from motionkit.data.synthetic.identity import FACE_RANGES, sample_face
from motionkit.errors import ConfigError, ShapeError

SIZE = 64


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return SyntheticWorld(size=SIZE)


@pytest.fixture(scope="module")
def clip(world: SyntheticWorld):  # type: ignore[no-untyped-def]
    return world.clip(seed=11, seconds=3.0)


def _changed(a: np.ndarray, b: np.ndarray, tolerance: int = 2) -> np.ndarray:
    """(H, W) bool: pixels that differ by more than ``tolerance`` in any channel."""
    return (np.abs(a.astype(int) - b.astype(int)) > tolerance).any(axis=-1)


def _cavity(frame: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of the dark red mouth cavity (MOUTH_INTERIOR under shading)."""
    red, green = frame[..., 0].astype(int), frame[..., 1].astype(int)
    return (green < 30) & (red > green + 15) & (red < 100)


def _centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    return np.array([rows.mean(), cols.mean()])


def test_same_seed_same_clip(world: SyntheticWorld, clip) -> None:  # type: ignore[no-untyped-def]
    again = world.clip(seed=11, seconds=3.0)
    assert np.array_equal(again.frames, clip.frames)
    assert np.array_equal(again.audio, clip.audio)
    assert np.array_equal(again.params.as_array(), clip.params.as_array())
    assert again.identity == clip.identity
    assert again.voice == clip.voice


def test_different_seeds_differ(world: SyntheticWorld, clip) -> None:  # type: ignore[no-untyped-def]
    other = world.clip(seed=12, seconds=3.0)
    assert other.identity != clip.identity
    assert not np.array_equal(other.audio, clip.audio)
    assert not np.array_equal(other.params.mouth_open, clip.params.mouth_open)


def test_clip_shapes_and_ranges(world: SyntheticWorld, clip) -> None:  # type: ignore[no-untyped-def]
    assert clip.frames.shape == (75, SIZE, SIZE, 3)
    assert clip.frames.dtype == np.uint8
    assert clip.audio.shape == (75 * 640,)
    assert clip.audio.dtype == np.float32
    assert np.isfinite(clip.audio).all()
    assert np.abs(clip.audio).max() <= world.config.speech.peak_limit
    motion = world.config.motion
    assert np.abs(clip.params.yaw).max() < motion.yaw_limit
    assert np.abs(clip.params.pitch).max() < motion.pitch_limit
    assert np.abs(clip.params.roll).max() < motion.roll_limit
    for name in ("mouth_open", "mouth_width", "blink", "brows"):
        values = getattr(clip.params, name)
        assert values.min() >= 0.0
        assert values.max() <= 1.0
    assert clip.params.mouth_open.max() > 0.4, "speech should open the mouth"
    assert clip.seconds == pytest.approx(3.0)


def test_render_without_frames_is_cheap_and_consistent(world: SyntheticWorld, clip) -> None:  # type: ignore[no-untyped-def]
    audio_only = world.clip(seed=11, seconds=3.0, render=False)
    assert audio_only.frames is None
    assert np.array_equal(audio_only.audio, clip.audio)
    assert np.array_equal(world.render(clip.identity, clip.params), clip.frames)


def test_frame_does_not_depend_on_its_batch(world: SyntheticWorld) -> None:
    """Renders are computed in per-chunk windows; a frame must not change with the poses batched beside it."""
    face = world.identity(4)
    extremes = FaceParams(
        yaw=np.array([0.0, 25.0, -25.0, 10.0], np.float32),
        pitch=np.array([0.0, -15.0, 15.0, 5.0], np.float32),
        roll=np.array([0.0, 10.0, -10.0, 0.0], np.float32),
        mouth_open=np.array([0.3, 1.0, 1.0, 0.0], np.float32),
        mouth_width=np.array([0.5, 1.0, 0.0, 0.5], np.float32),
        blink=np.array([0.0, 1.0, 0.5, 0.0], np.float32),
        brows=np.array([0.0, 1.0, 0.0, 0.5], np.float32),
    )
    batch = world.render(face, extremes)
    for t in range(extremes.frames):
        alone = world.render(face, extremes.slice(t, t + 1))
        assert np.array_equal(alone[0], batch[t]), f"frame {t} differs when rendered alone"


def test_mouth_open_changes_only_the_mouth(world: SyntheticWorld) -> None:
    face = world.identity(2)
    closed, half, wide = world.render(face, FaceParams.neutral(3).replace(mouth_open=np.array([0.0, 0.5, 1.0])))
    changed = _changed(closed, wide)
    rows, cols = np.nonzero(changed)
    assert changed.sum() > 10
    # The mouth sits in the lower-central part of the face; nothing above the nose or beside the cheeks changes.
    assert rows.min() > 0.5 * SIZE
    assert rows.max() < 0.75 * SIZE
    assert cols.min() > 0.3 * SIZE
    assert cols.max() < 0.7 * SIZE
    assert _changed(closed, half).sum() < changed.sum(), "a wider opening changes more pixels"
    # The cavity is dark: opening the mouth darkens it.
    assert wide[changed].mean() < closed[changed].mean()


@pytest.mark.parametrize(("name", "value", "axis", "sign"), [("yaw", 20.0, 1, 1), ("pitch", 12.0, 0, -1)])
def test_pose_moves_the_features(world: SyntheticWorld, name: str, value: float, axis: int, sign: int) -> None:
    """Positive yaw moves the mouth to the image right; positive pitch (chin up) moves it up."""
    face = world.identity(2)
    base = FaceParams.constant(3, mouth_open=1.0)
    frames = world.render(face, base.replace(**{name: np.array([0.0, value, -value], np.float32)}))
    interior = [_cavity(f) for f in frames]
    centres = [_centroid(m)[axis] for m in interior]
    assert sign * (centres[1] - centres[0]) > 1.0
    assert sign * (centres[0] - centres[2]) > 1.0


def test_yaw_is_geometric_not_a_shift(world: SyntheticWorld) -> None:
    """Turning the head moves the features much more than the head outline (features lie on an ellipsoid)."""
    face = world.identity(2)
    frames = world.render(face, FaceParams.constant(2, mouth_open=1.0).replace(yaw=np.array([0.0, 20.0])))
    background = np.array(face.background_top) * 255
    head_rows = slice(int(0.15 * SIZE), int(0.55 * SIZE))  # above the mouth, where the outline is the skull
    outline = [np.abs(f[head_rows].astype(float) - background).sum(-1) > 60 for f in frames]
    outline_shift = abs(_centroid(outline[1])[1] - _centroid(outline[0])[1])
    mouth_shift = abs(_centroid(_cavity(frames[1]))[1] - _centroid(_cavity(frames[0]))[1])
    assert mouth_shift > 3.0 * max(outline_shift, 0.5)


def test_blink_and_brows_change_the_upper_face(world: SyntheticWorld) -> None:
    face = world.identity(5)
    frames = world.render(face, FaceParams.neutral(3).replace(blink=np.array([0, 1, 0.0]), brows=np.array([0, 0, 1.0])))
    for changed in (_changed(frames[0], frames[1]), _changed(frames[0], frames[2])):
        rows, _ = np.nonzero(changed)
        assert changed.sum() > 4
        assert rows.max() < 0.5 * SIZE


def test_portrait_is_neutral(world: SyntheticWorld) -> None:
    face = world.identity(3)
    assert np.array_equal(world.portrait(face), world.render(face, FaceParams.neutral(1))[0])


def test_random_params_cover_the_ranges(world: SyntheticWorld) -> None:
    params = world.random_params(seed=0, frames=2000)
    assert params.yaw.min() < -20
    assert params.yaw.max() > 20
    assert params.pitch.min() < -12
    assert params.pitch.max() > 12
    assert params.mouth_open.min() < 0.05
    assert params.mouth_open.max() > 0.95
    assert np.array_equal(params.as_array(), world.random_params(seed=0, frames=2000).as_array())


@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_identity_fields_stay_in_range(seed: int) -> None:
    face = sample_face(seed)
    for name, (low, high) in FACE_RANGES.items():
        assert low <= getattr(face, name) <= high, name
    assert face.hair_style in HAIR_STYLES
    for colour in (face.skin, face.hair, face.lips, face.background_top, face.cloth):
        assert all(0.0 <= c <= 1.0 for c in colour)
    assert FaceIdentity.from_dict(face.to_dict()) == face


def test_identities_vary() -> None:
    faces = [sample_face(s) for s in range(40)]
    assert len({f.hair_style for f in faces}) >= 5
    skins = np.array([f.skin for f in faces]).sum(axis=1)
    assert skins.max() - skins.min() > 1.0, "skin tones span light to dark"


def test_bad_inputs_raise_clear_errors(world: SyntheticWorld) -> None:
    with pytest.raises(ConfigError, match="at least one frame"):
        world.clip(seed=0, seconds=0.01)
    with pytest.raises(ShapeError, match="same length"):
        FaceParams.neutral(3).replace(yaw=np.zeros(4))
    with pytest.raises(ShapeError, match=r"mouth_open must lie in \[0, 1\]"):
        FaceParams.neutral(2).replace(mouth_open=np.array([0.0, 1.5]))
    with pytest.raises(ShapeError, match="unknown face parameters"):
        FaceParams.constant(1, smile=1.0)
    with pytest.raises(ConfigError, match="unknown hair_style"):
        FaceIdentity.from_dict({**sample_face(0).to_dict(), "hair_style": "mohawk"})
    with pytest.raises(ConfigError, match="whole number of samples"):
        SyntheticWorld(size=64, fps=30.0, sample_rate=16000)
    with pytest.raises(ShapeError, match="no frames"):
        world.render(sample_face(0), FaceParams.neutral(0))


def test_config_round_trips_through_json() -> None:
    config = SyntheticWorldConfig(size=96)
    assert SyntheticWorldConfig.model_validate_json(config.model_dump_json()) == config
    assert config.samples_per_frame == 640


def test_face_params_copy_their_inputs() -> None:
    yaw = np.zeros(3, np.float32)
    params = FaceParams.neutral(3).replace(yaw=yaw)
    yaw[0] = 5.0
    assert params.yaw[0] == 0.0
    assert yaw.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        params.yaw[0] = 1.0
