"""Face detection (offline LBP cascade) and FLOAT's crop rule."""

from __future__ import annotations

import matplotlib.cbook
import numpy as np
import pytest
import skimage.data
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from motionkit.errors import FaceNotFoundError, ImageError
from motionkit.face import Box, crop_box, crop_portrait, detect_face


def float_crop(image: np.ndarray, box: Box) -> np.ndarray:
    """FLOAT's rule written literally: pad by bs with black, slice the square in padded coordinates."""
    bsy = int((box.y2 - box.y1) / 2)
    bsx = int((box.x2 - box.x1) / 2)
    my = int((box.y1 + box.y2) / 2)
    mx = int((box.x1 + box.x2) / 2)
    bs = int(max(bsy, bsx) * 1.6)
    padded = np.pad(image, ((bs, bs), (bs, bs), (0, 0)))
    return padded[my - bs + bs : my + bs + bs, mx - bs + bs : mx + bs + bs]


def test_crop_box_arithmetic() -> None:
    # half sizes int(121/2) = 60 and int(101/2) = 50; centre (110, 150); bs = int(60 * 1.6) = 96
    assert crop_box((300, 400), Box(100, 50, 201, 171)) == (110 - 96, 150 - 96, 192)


@given(
    x1=st.integers(0, 60),
    y1=st.integers(0, 40),
    width=st.integers(2, 60),
    height=st.integers(2, 50),
)
def test_crop_matches_the_padded_rule(x1: int, y1: int, width: int, height: int) -> None:
    rng = np.random.RandomState(x1 * 1000 + y1)
    image = rng.randint(1, 256, size=(90, 120, 3), dtype=np.uint8)
    box = Box(x1, y1, min(x1 + width, 120), min(y1 + height, 90))
    expected = float_crop(image, box)
    side = expected.shape[0]
    actual = crop_portrait(image, size=side, box=box)  # no resize at this size
    np.testing.assert_array_equal(actual, expected)


def test_crop_pads_with_black_and_resizes() -> None:
    image = np.full((100, 100, 3), 200, dtype=np.uint8)
    out = crop_portrait(image, size=64, box=(0, 0, 40, 40))  # square centred at (20, 20), side 64 -> 32 px outside
    assert out.shape == (64, 64, 3)
    assert out.dtype == np.uint8
    assert (out[:8, :8] == 0).all()
    assert (out[-8:, -8:] == 200).all()


def test_box_accepts_sequences_and_rejects_bad_values() -> None:
    assert Box.coerce((1.9, 2.2, 10, 12.7)) == Box(1, 2, 10, 12)
    image = np.zeros((50, 60, 3), dtype=np.uint8)
    with pytest.raises(ImageError, match="not inside"):
        crop_portrait(image, 32, box=(10, 10, 70, 20))
    with pytest.raises(ImageError, match="not inside"):
        crop_portrait(image, 32, box=(10, 10, 5, 20))
    with pytest.raises(ImageError, match=r"\(x1, y1, x2, y2\)"):
        crop_portrait(image, 32, box=(1, 2, 3))
    with pytest.raises(ImageError, match="four numbers"):
        crop_portrait(image, 32, box=("a", 2, 3, 4))  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="too small"):
        crop_portrait(image, 32, box=(10, 10, 11, 11))
    with pytest.raises(ImageError, match="positive"):
        crop_portrait(image, 0, box=(10, 10, 20, 20))


def test_detects_the_astronaut_face() -> None:
    box = detect_face(skimage.data.astronaut())
    # the face spans about columns 175..268 and rows 70..163 of the 512 x 512 image
    assert abs(box.x1 - 175) < 15
    assert abs(box.y1 - 70) < 15
    assert 75 < box.width < 115
    assert 75 < box.height < 115


def test_detects_grace_hopper_and_crops() -> None:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        image = np.asarray(Image.open(handle).convert("RGB"))  # 512 x 600
    box = detect_face(image)
    centre_x, centre_y = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    assert 200 < centre_x < 330
    assert 160 < centre_y < 300
    portrait = crop_portrait(image, size=128)
    assert portrait.shape == (128, 128, 3)
    np.testing.assert_array_equal(portrait, crop_portrait(image, size=128, box=box))


def test_grayscale_portraits_are_accepted() -> None:
    gray = np.asarray(Image.fromarray(skimage.data.astronaut()).convert("L"))
    assert crop_portrait(gray, size=64).shape == (64, 64, 3)


def test_no_face_suggests_crop_false_or_a_box() -> None:
    flat = np.full((200, 240, 3), 128, dtype=np.uint8)
    with pytest.raises(FaceNotFoundError, match=r"crop=False.*box=\(x1, y1, x2, y2\)"):
        crop_portrait(flat, size=64)


def test_small_images_are_rejected_for_detection() -> None:
    with pytest.raises(ImageError, match=r"40x40 pixels, too small.*crop=False"):
        detect_face(np.zeros((40, 40, 3), dtype=np.uint8))
    with pytest.raises(ImageError, match="too narrow"):
        detect_face(np.zeros((2000, 64, 3), dtype=np.uint8))


def test_crop_false_resizes_the_whole_image() -> None:
    image = skimage.data.astronaut()
    same = crop_portrait(image, size=512, crop=False)
    np.testing.assert_array_equal(same, image)
    assert same is not image
    small = crop_portrait(image, size=64, crop=False)
    assert small.shape == (64, 64, 3)
    expected = np.asarray(Image.fromarray(image).resize((64, 64), Image.Resampling.BOX))
    np.testing.assert_array_equal(small, expected)
    tiny = crop_portrait(np.zeros((10, 30, 3), dtype=np.uint8), size=64, crop=False)  # no detection needed
    assert tiny.shape == (64, 64, 3)
