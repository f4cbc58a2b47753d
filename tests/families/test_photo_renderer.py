"""The photo family's renderer: the model's parameters mapped onto the geometric renderer, on the bundled photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionkit import LiveConfig
from motionkit.assets import bundled_model_path, demo_photo_path, demo_speech_path
from motionkit.errors import ConfigError, FaceNotFoundError
from motionkit.families.photo import PhotoMotionConfig
from motionkit.families.photo.presets import photo_motion
from motionkit.families.photo.renderer import (
    BROW_RAISE_PER_UNIT,
    MODEL_AXES,
    MOUTH_GAP_PER_OPENING,
    PhotoPortrait,
    PhotoRenderer,
    to_geometric,
)
from motionkit.geometric.axes import AXIS_NAMES
from motionkit.io import load_audio
from motionkit.io.image import load_image
from motionkit.pipeline import Pipeline
from motionkit.types import MotionTrack


@pytest.fixture(scope="module")
def renderer() -> PhotoRenderer:
    return PhotoRenderer(photo_motion())


@pytest.fixture(scope="module")
def portrait(renderer: PhotoRenderer) -> PhotoPortrait:
    return renderer.encode_portrait(demo_photo_path())


def test_the_mapping_moves_each_axis_by_its_difference_from_the_photo() -> None:
    neutral = torch.tensor([a.neutral for a in photo_motion().axes])
    assert torch.equal(to_geometric(neutral, neutral), torch.zeros(len(AXIS_NAMES)))
    values = torch.tensor([[10.0, -5.0, 3.0, 0.5, 0.9, 1.0, 0.4]])
    mapped = dict(zip(AXIS_NAMES, to_geometric(values, neutral)[0].tolist(), strict=True))
    assert (mapped["yaw"], mapped["pitch"], mapped["roll"]) == (10.0, -5.0, 3.0)
    assert mapped["mouth"] == pytest.approx(0.5 * MOUTH_GAP_PER_OPENING)
    assert mapped["blink_left"] == mapped["blink_right"] == 1.0
    assert mapped["brows"] == pytest.approx(0.4 * BROW_RAISE_PER_UNIT)


def test_a_neutral_track_draws_the_photo_exactly(renderer: PhotoRenderer, portrait: PhotoPortrait) -> None:
    assert renderer.frame_shape(portrait) == (600, 512)  # the photo's own size, no crop
    still = MotionTrack(portrait.motion[:, None].repeat(1, 3, 1))
    frames = torch.cat(list(renderer.render(portrait, still, chunk_size=2)), dim=1)
    photo = torch.from_numpy(load_image(demo_photo_path())).permute(2, 0, 1).float() / 127.5 - 1.0
    assert frames.shape == (1, 3, 3, 600, 512)
    assert torch.equal(frames[0], photo.expand(3, -1, -1, -1))


def test_an_open_mouth_changes_only_the_lower_face(renderer: PhotoRenderer, portrait: PhotoPortrait) -> None:
    values = portrait.motion.clone()
    values[0, MODEL_AXES.index("mouth_open")] = 1.0
    frame = next(iter(renderer.render(portrait, MotionTrack(values[:, None]))))[0, 0]
    changed = (frame != portrait.drawing.image).any(dim=0).nonzero()
    top, bottom = portrait.face.box[1], portrait.face.box[3]
    assert len(changed) > 0
    assert changed[:, 0].float().mean() > (top + bottom) / 2  # below the face's middle
    assert changed[:, 0].min() > top  # the forehead and everything above it stay


def test_crop_false_and_a_box_without_a_face_are_refused(renderer: PhotoRenderer) -> None:
    with pytest.raises(ConfigError, match="drop --no-crop"):
        renderer.encode_portrait(demo_photo_path(), crop=False)
    with pytest.raises(FaceNotFoundError, match=r"no face overlaps the box \(0, 0, 20, 20\)"):
        renderer.encode_portrait(demo_photo_path(), box=(0, 0, 20, 20))


def test_a_box_picks_the_face_it_overlaps(renderer: PhotoRenderer, portrait: PhotoPortrait) -> None:
    x0, y0, x1, y1 = (int(v) for v in portrait.face.box)
    chosen = renderer.encode_portrait(demo_photo_path(), box=(x0, y0, x1, y1))
    np.testing.assert_array_equal(chosen.face.points, portrait.face.points)


def test_a_model_with_other_axes_is_refused() -> None:
    config = photo_motion()
    renamed = PhotoMotionConfig.model_validate(
        {**config.model_dump(), "axes": [{**a.model_dump(), "name": f"{a.name}_x"} for a in config.axes]}
    )
    with pytest.raises(ConfigError, match="draws tracks of the axes yaw, pitch"):
        PhotoRenderer(renamed)


def test_the_shipped_model_animates_the_photo_deterministically() -> None:
    pipeline = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    assert isinstance(pipeline.renderer, PhotoRenderer)
    first = pipeline.generate(demo_photo_path(), demo_speech_path(), "neutral", seed=3)
    again = pipeline.generate(demo_photo_path(), demo_speech_path(), "neutral", seed=3)
    assert first.frame_shape == (600, 512)
    assert torch.equal(first.track.latents, again.track.latents)
    mouth = first.track.latents[0, :, MODEL_AXES.index("mouth_open")]
    assert float(mouth.max()) > 0.3  # the speech opens the mouth


def test_a_live_session_draws_the_photo_at_the_live_size() -> None:
    """LiveConfig.max_side shrinks the photo before it is encoded: the session's frames have that longer side; an
    encoded portrait larger than it is refused with the fix."""
    pipeline = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    config = LiveConfig(max_side=256)
    with pipeline.live(demo_photo_path(), config=config, emotion="neutral") as session:
        assert session.frame_size == (256, 218)
        frames = session.push_audio(load_audio(demo_speech_path(), target_rate=session.sample_rate)[:8000])
        frames += session.finish()
    assert len(frames) == 13
    assert all(frame.image.shape == (256, 218, 3) for frame in frames)
    with pytest.raises(ConfigError, match=r"over LiveConfig\.max_side = 256; pass the portrait image"):
        pipeline.live(pipeline.encode_portrait(demo_photo_path()), config=config, emotion="neutral")
