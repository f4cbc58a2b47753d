"""FLOAT's crop rule around the face stack's landmark box, and face-box files."""

from __future__ import annotations

import matplotlib.cbook
import numpy as np
import pytest
import skimage.data
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from motionkit.assets import DEMO_PORTRAIT_SIZE, demo_portrait_path, render_demo_portrait
from motionkit.errors import FaceNotFoundError, ImageError
from motionkit.face import Box, FaceStack, crop_box, crop_portrait, face_box, read_box_file
from motionkit.face.crop import CROP_SCALE


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


def grace_hopper() -> np.ndarray:
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))  # 512 x 600


PHOTOS = {"astronaut": skimage.data.astronaut, "grace_hopper": grace_hopper}


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_face_box_is_the_landmarks_box_in_whole_pixels(stack: FaceStack, name: str) -> None:
    image = PHOTOS[name]()
    x0, y0, x1, y1 = stack.face(image).box
    box = face_box(image, stack)
    assert box == Box(int(np.floor(x0)), int(np.floor(y0)), int(np.ceil(x1)), int(np.ceil(y1)))
    assert face_box(image) == box  # the default stack is the same networks


@pytest.mark.parametrize("name", sorted(PHOTOS))
@pytest.mark.parametrize("size", [128, 256])
def test_the_crop_centres_the_face_at_floats_scale(stack: FaceStack, name: str, size: int) -> None:
    """Read again by the face stack, the face in the crop is centred and its box's longer side is 1 / 1.6 of the
    crop's side. Bounds: the rule's int truncations move the centre by at most 1 source pixel (under 1 % of these
    166- and 322-px squares) and the scale by one pixel of the box; the mesh read from the resampled crop differs from
    the original's by under 3 % of the face (measured: centre within 0.7 %, scale within 2.6 %)."""
    image = PHOTOS[name]()
    portrait = crop_portrait(image, size=size)
    assert portrait.shape == (size, size, 3)
    np.testing.assert_array_equal(portrait, crop_portrait(image, size=size, box=face_box(image, stack)))
    x0, y0, x1, y1 = stack.face(portrait).box
    assert abs((x0 + x1) / 2 / size - 0.5) < 0.015
    assert abs((y0 + y1) / 2 / size - 0.5) < 0.015
    assert max(x1 - x0, y1 - y0) * CROP_SCALE / size == pytest.approx(1.0, abs=0.04)


def test_grayscale_portraits_are_accepted() -> None:
    gray = np.asarray(Image.fromarray(skimage.data.astronaut()).convert("L"))
    assert crop_portrait(gray, size=64).shape == (64, 64, 3)


@pytest.mark.parametrize("shape", [(200, 240), (40, 40)])
def test_no_face_names_the_image_and_suggests_crop_false_or_a_box(shape: tuple[int, int]) -> None:
    flat = np.full((*shape, 3), 128, dtype=np.uint8)
    size = f"{shape[1]}x{shape[0]}"
    with pytest.raises(FaceNotFoundError, match=rf"no face in the {size} image.*crop=False.*box=\(x1, y1, x2, y2\)"):
        crop_portrait(flat, size=64)
    with pytest.raises(FaceNotFoundError) as caught:
        face_box(flat)
    assert "--no-crop" in caught.value.cli_message()
    assert "--box X1,Y1,X2,Y2" in caught.value.cli_message()


def test_a_face_cut_by_the_border_is_boxed_by_its_visible_part() -> None:
    image = skimage.data.astronaut()[:, 200:]  # the left 20 % of the face is outside
    box = face_box(image)
    assert box.x1 == 0
    assert 0 < box.x2 <= image.shape[1]
    assert crop_portrait(image, size=64).shape == (64, 64, 3)


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


def test_box_file_beside_an_image_is_read_when_no_box_is_given(tmp_path) -> None:
    image = np.zeros((100, 120, 3), dtype=np.uint8)
    image[30:70, 40:80] = 200
    path = tmp_path / "portrait.png"
    Image.fromarray(image).save(path)
    assert read_box_file(path) is None
    (tmp_path / "portrait.face.json").write_text('{"box": [40, 30, 80, 70]}')
    assert read_box_file(path) == Box(40, 30, 80, 70)
    np.testing.assert_array_equal(crop_portrait(path, 64), crop_portrait(image, 64, box=Box(40, 30, 80, 70)))
    # an explicit box wins over the file; an array has no file beside it
    np.testing.assert_array_equal(
        crop_portrait(path, 64, box=(0, 0, 120, 100)), crop_portrait(image, 64, box=(0, 0, 120, 100))
    )
    with pytest.raises(FaceNotFoundError):
        crop_portrait(image, 64)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "unreadable"),
        ('{"face": [1, 2, 3, 4]}', r'must hold \{"box"'),
        ('{"box": [1, 2, 3]}', "a face box must be"),
        ('{"box": [1.5, 2, 3, 4]}', "four integer pixel coordinates"),
    ],
)
def test_a_damaged_box_file_names_itself(tmp_path, text: str, match: str) -> None:
    path = tmp_path / "portrait.png"
    Image.fromarray(np.zeros((80, 80, 3), dtype=np.uint8)).save(path)
    (tmp_path / "portrait.face.json").write_text(text)
    with pytest.raises(ImageError, match=match):
        crop_portrait(path, 32)


def test_the_bundled_portraits_box_file_wins_over_the_landmarks() -> None:
    """The face stack finds the drawn face of the bundled portrait, but its landmark box frames it wider than the
    close-up the demo model was trained in; the box file beside it gives the box for which FLOAT's crop rule returns
    exactly that framing: the whole 128-px render."""
    path = demo_portrait_path()
    box = read_box_file(path)
    assert box is not None
    assert crop_box((DEMO_PORTRAIT_SIZE, DEMO_PORTRAIT_SIZE), box) == (0, 0, DEMO_PORTRAIT_SIZE)
    assert crop_box((DEMO_PORTRAIT_SIZE, DEMO_PORTRAIT_SIZE), face_box(path)) != (0, 0, DEMO_PORTRAIT_SIZE)
    for size in (64, 128, 512):
        expected = crop_portrait(render_demo_portrait(), size, crop=False)
        np.testing.assert_array_equal(crop_portrait(path, size), expected)
