"""Paste-back: the inverse crop, the blend mask, the colour match, the border, the photo family's identity, and the
seam measure (motionkit.eval.blend_seam)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from motionkit.assets import bundled_model_path, demo_photo_path
from motionkit.errors import ConfigError, ShapeError
from motionkit.eval import blend_seam
from motionkit.face import Box, crop_portrait
from motionkit.io import read_video
from motionkit.io.image import image_to_tensor, load_image
from motionkit.pipeline import Pipeline
from motionkit.pipeline.pasteback import CropWindow, PasteBack, face_mask, hull_points

SIZE = 64


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random colour texture (uint8), like skin and hair at a distance: every pixel differs."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(height, width, 3))
    smooth = ndimage.gaussian_filter(noise, (4.0, 4.0, 0.0))
    return np.clip(128 + 40 * smooth / smooth.std(), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_image(demo_photo_path())


def test_outside_the_mask_the_frames_equal_the_photo_bit_for_bit(
    pipeline: Pipeline, speech: Path, photo, one_thread: None
) -> None:
    video = pipeline.generate(photo, speech, "neutral", paste_back=True)
    assert video.paste_back is not None
    mask = video.paste_back.mask
    assert video.frame_shape == photo.shape[:2]
    frames = np.stack(list(video.frames()))
    assert frames.shape == (len(video), *photo.shape)
    outside = mask == 0
    assert outside.mean() > 0.3  # the face does not fill the photo: most of it must stay untouched
    assert np.array_equal(frames[:, outside], np.broadcast_to(photo[outside], frames[:, outside].shape))
    assert np.abs(frames[:, mask > 0.5].astype(int) - photo[mask > 0.5]).mean() > 1.0  # the render is pasted in


def test_the_inverse_crop_puts_an_unchanged_render_back_where_it_came_from(photo) -> None:
    box = Box(60, 50, 190, 210)
    pasting = PasteBack(photo, CropWindow.for_photo(photo.shape[:2], box), _box_mask(photo, box), colour_match=False)
    render = image_to_tensor(crop_portrait(photo, 256, box=box))
    pasted = pasting(render)[0].astype(int)
    inside = pasting.mask > 0.5
    error = np.abs(pasted[inside] - photo[inside]).mean()
    # a window off by 4 pixels puts the face back visibly shifted: the error must be well below that one
    shifted = PasteBack(photo, CropWindow(*_shift(pasting.window, 4)), pasting.mask, colour_match=False)
    shifted_error = np.abs(shifted(render)[0].astype(int)[inside] - photo[inside]).mean()
    assert error < 3.0
    assert error < shifted_error / 2


def _shift(window: CropWindow, pixels: int) -> tuple[int, int, int, int]:
    return (window.top + pixels, window.left + pixels, window.height, window.width)


def _box_mask(photo: np.ndarray, box: Box) -> np.ndarray:
    window = CropWindow.for_photo(photo.shape[:2], box)
    return face_mask(photo.shape[:2], window, hull_points(None, box))


def test_colour_match_removes_a_brightness_drift_and_the_seam_measure_sees_it() -> None:
    photo = texture(240, 200)
    box = Box(60, 70, 140, 170)
    render = (image_to_tensor(crop_portrait(photo, SIZE, box=box)) + 0.25).clamp(-1, 1)  # ~32 levels brighter
    window = CropWindow.for_photo(photo.shape[:2], box)
    mask = _box_mask(photo, box)
    matched = PasteBack(photo, window, mask)(render)[0]
    drifting = PasteBack(photo, window, mask, colour_match=False)(render)[0]
    inside = mask > 0.9
    assert abs(float(matched[inside].astype(int).mean() - photo[inside].astype(int).mean())) < 3.0
    assert float(drifting[inside].astype(int).mean() - photo[inside].astype(int).mean()) > 25.0
    hard = (mask > 0.5).astype(np.float32)
    hard_paste = np.where(hard[..., None] > 0, drifting, photo)
    assert blend_seam(hard_paste, hard).ratio > 3.0
    assert blend_seam(matched, mask).ratio < 1.5
    assert 0.5 < blend_seam(photo, mask).ratio < 1.5  # the photo itself has no seam


def test_seam_measure_rejects_a_mask_without_border() -> None:
    frame = texture(32, 32)
    with pytest.raises(ShapeError, match="no border"):
        blend_seam(frame, np.zeros((32, 32)))
    with pytest.raises(ShapeError, match="same size"):
        blend_seam(frame, np.zeros((16, 32)))


def test_a_crop_that_leaves_the_photo_is_pasted_back_inside_it(
    pipeline: Pipeline, speech: Path, photo, one_thread: None
) -> None:
    corner = photo[120:, 150:]  # the face touches the top-left corner: FLOAT's square leaves the photo
    video = pipeline.generate(corner, speech, "neutral", paste_back=True)
    assert video.paste_back is not None
    window = video.paste_back.window
    assert window.top < 0
    assert window.left < 0
    frame = next(iter(video.frames()))
    outside = video.paste_back.mask == 0
    assert frame.shape == corner.shape
    assert np.array_equal(frame[outside], corner[outside])


def test_odd_sizes_are_padded_by_one_pixel_when_saved(
    pipeline: Pipeline, speech: Path, photo, tmp_path, one_thread: None
) -> None:
    odd = photo[:599, 11:]
    path = pipeline.generate(odd, speech, "neutral", paste_back=True).save(tmp_path / "odd.mp4", crf=0)
    frames, _, _ = read_video(path)
    assert frames.shape[1:3] == (600, 502)


def test_paste_back_is_off_by_default_and_needs_the_photo(
    pipeline: Pipeline, speech: Path, photo, one_thread: None
) -> None:
    video = pipeline.generate(photo, speech, "neutral")
    assert video.paste_back is None
    assert video.frame_shape == (SIZE, SIZE)
    source = pipeline.encode_portrait(photo)
    with pytest.raises(ConfigError, match="pass the image"):
        pipeline.generate(source, speech, "neutral", paste_back=True)


def test_the_photo_family_draws_the_whole_photo_so_paste_back_is_the_identity(photo) -> None:
    pipeline = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    source, pasting = pipeline.prepare_portrait(photo, paste_back=True)
    assert pasting is None
    assert pipeline.renderer.frame_shape(source) == photo.shape[:2]


@pytest.mark.parametrize("box", [Box(60, 70, 140, 170), Box(0, 0, 70, 90), Box(150, 170, 200, 240)])
def test_the_mask_is_the_feathered_hull_computed_over_the_whole_photo(box: Box) -> None:
    """face_mask feathers only the hull's neighbourhood; the result equals feathering the whole photo."""
    from PIL import Image, ImageDraw

    from motionkit.pipeline.pasteback import FEATHER, GAUSSIAN_TRUNCATE, MASK_FLOOR, MASK_GROWTH, convex_hull
    from motionkit.pipeline.pasteback import _window_ramp as window_ramp

    shape = (240, 200)
    window = CropWindow.for_photo(shape, box)
    outline = hull_points(None, box)
    centre = outline.mean(axis=0)
    hull = convex_hull(centre + (outline - centre) * (1 + MASK_GROWTH))
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in hull], fill=255)
    sigma = FEATHER * float((outline.max(axis=0) - outline.min(axis=0)).mean())
    soft = ndimage.gaussian_filter(np.asarray(canvas, np.float32) / 255, sigma, truncate=GAUSSIAN_TRUNCATE)
    inside = np.zeros(shape, np.float32)
    rows, cols = window.visible(shape)
    inside[rows, cols] = window_ramp(window, shape, sigma)
    expected = np.clip(soft * inside, 0, 1)
    expected[expected < MASK_FLOOR] = 0
    np.testing.assert_allclose(face_mask(shape, window, outline), expected, atol=1e-6)


def test_a_given_box_away_from_the_detected_face_is_masked_by_its_own_ellipse(photo) -> None:
    box = Box(10, 400, 110, 520)  # the lower-left corner: no face there
    pasting, face = PasteBack.for_photo(photo, box=box)
    assert face == box
    ys, xs = np.nonzero(pasting.mask > 0.5)
    assert box.x1 <= xs.mean() < box.x2
    assert box.y1 <= ys.mean() < box.y2
