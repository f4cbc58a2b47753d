"""Portrait loading (layouts, bit depths, bad files) and the uint8 <-> tensor conventions."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from motionkit.errors import ImageError, ShapeError
from motionkit.io import image_to_tensor, images_to_tensor, load_image, resize_image, tensor_to_image
from motionkit.io.image import fit_within


def write_png16(path: Path, array: np.ndarray) -> None:
    """A 16-bit PNG (gray, RGB or RGBA) written by hand: Pillow cannot write 16-bit colour."""
    height, width, channels = array.shape
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.RandomState(0).randint(0, 256, size=(12, 10, 3), dtype=np.uint8)


def test_rgb_png_round_trip(tmp_path: Path, rgb: np.ndarray) -> None:
    Image.fromarray(rgb).save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert loaded.dtype == np.uint8
    assert loaded.shape == (12, 10, 3)
    np.testing.assert_array_equal(loaded, rgb)
    np.testing.assert_array_equal(load_image(str(tmp_path / "a.png")), rgb)


def test_grayscale_and_alpha_are_converted(tmp_path: Path, rgb: np.ndarray) -> None:
    gray = rgb[:, :, 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    np.testing.assert_array_equal(load_image(tmp_path / "g.png"), np.stack([gray] * 3, axis=2))
    rgba = np.concatenate([rgb, np.full((12, 10, 1), 7, np.uint8)], axis=2)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), rgb)  # alpha dropped, like OpenCV
    Image.fromarray(gray).convert("LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(load_image(tmp_path / "la.png"), np.stack([gray] * 3, axis=2))
    Image.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (12, 10, 3)
    np.testing.assert_array_equal(load_image(gray[:, :, None]), np.stack([gray] * 3, axis=2))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_sixteen_bit_images_keep_the_high_byte(tmp_path: Path, channels: int) -> None:
    deep = np.random.RandomState(1).randint(0, 65536, size=(6, 5, channels)).astype(np.uint16)
    write_png16(tmp_path / "deep.png", deep)
    expected = (deep >> 8).astype(np.uint8)
    expected = np.repeat(expected, 3, axis=2) if channels == 1 else expected[:, :, :3]
    np.testing.assert_array_equal(load_image(tmp_path / "deep.png"), expected)
    np.testing.assert_array_equal(load_image(deep), expected)


def test_float_arrays(rgb: np.ndarray) -> None:
    as_float = rgb.astype(np.float64) / 255.0
    np.testing.assert_array_equal(load_image(as_float), rgb)
    with pytest.raises(ImageError, match=r"outside \[0, 1\]"):
        load_image(as_float * 255.0)
    with pytest.raises(ImageError, match=r"outside \[0, 1\]"):
        load_image(np.full((4, 4, 3), np.nan))


def test_pil_images_and_exif_orientation(tmp_path: Path, rgb: np.ndarray) -> None:
    np.testing.assert_array_equal(load_image(Image.fromarray(rgb)), rgb)
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(tmp_path / "rotated.png", exif=exif)
    loaded = load_image(tmp_path / "rotated.png")
    np.testing.assert_array_equal(loaded, np.rot90(rgb, k=-1))


def test_input_is_not_shared_or_modified(rgb: np.ndarray) -> None:
    before = rgb.copy()
    loaded = load_image(rgb)
    loaded[:] = 0
    np.testing.assert_array_equal(rgb, before)


def test_bad_images_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("this is not an image")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(tmp_path / "notes.png")
    with pytest.raises(ImageError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match=r"shape \(4, 4, 2\)"):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageError, match="empty"):
        load_image(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(ImageError, match="sample type"):
        load_image(np.zeros((4, 4, 3), np.complex64))
    with pytest.raises(ImageError, match="file path"):
        load_image(42)  # type: ignore[arg-type]


def test_image_to_tensor_mapping(rgb: np.ndarray) -> None:
    x = image_to_tensor(rgb)
    assert x.shape == (1, 3, 12, 10)
    assert x.dtype == torch.float32
    expected = (torch.from_numpy(rgb).permute(2, 0, 1).float() - 127.5) / 127.5
    assert torch.equal(x[0], expected)
    ends = image_to_tensor(np.array([[[0, 255, 0]]], dtype=np.uint8))
    assert ends.flatten().tolist() == [-1.0, 1.0, -1.0]
    with pytest.raises(ImageError, match="uint8"):
        image_to_tensor(rgb.astype(np.float32))


def test_tensor_to_image_follows_float_saving() -> None:
    x = torch.tensor([-1.5, -1.0, 0.0, 0.5, 1.0, 2.0]).view(1, 3, 1, 2)
    out = tensor_to_image(x)
    assert out.shape == (1, 1, 2, 3)
    assert out.dtype == np.uint8
    # clamp, (x + 1) / 2 * 255, truncate: 0 -> 127 (127.5 truncated), 0.5 -> 191 (191.25)
    assert out[0, 0].T.flatten().tolist() == [0, 0, 127, 191, 255, 255]
    assert tensor_to_image(torch.zeros(3, 4, 5)).shape == (4, 5, 3)
    with pytest.raises(ShapeError, match="3 channels"):
        tensor_to_image(torch.zeros(1, 4, 4, 4))


def test_images_to_tensor_maps_any_batch_of_frames_like_image_to_tensor(rgb: np.ndarray) -> None:
    frames = np.stack([rgb, rgb[::-1].copy(), 255 - rgb])  # (3, H, W, 3)
    batched = images_to_tensor(frames[None])  # (1, 3, 3, H, W)
    assert batched.shape == (1, 3, 3, *rgb.shape[:2])
    for k, frame in enumerate(frames):
        assert torch.equal(batched[0, k], image_to_tensor(frame)[0])


def test_resize_image_uses_box_when_shrinking_and_bicubic_when_enlarging(rgb: np.ndarray) -> None:
    height, width = rgb.shape[:2]
    assert resize_image(rgb, width, height) is rgb  # already that size: no copy
    small = resize_image(rgb, width // 2, height // 2)
    expected_small = np.asarray(Image.fromarray(rgb).resize((width // 2, height // 2), Image.Resampling.BOX))
    np.testing.assert_array_equal(small, expected_small)
    large = resize_image(rgb, width * 2, height * 2)
    expected_large = np.asarray(Image.fromarray(rgb).resize((width * 2, height * 2), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(large, expected_large)


def test_images_over_pillows_decompression_limit_are_an_image_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    # Pillow refuses images over twice MAX_IMAGE_PIXELS as possible decompression bombs (a real one is 180 Mpx)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64 * 64 // 4)
    with pytest.raises(ImageError, match=r"big\.png is not a readable image .*decompression bomb"):
        load_image(tmp_path / "big.png")


@pytest.mark.parametrize(
    ("shape", "max_side", "expected"),
    [((600, 512, 3), 256, (256, 218)), ((100, 300, 3), 150, (50, 150)), ((64, 48, 3), 64, (64, 48))],
)
def test_fit_within_shrinks_the_longer_side_and_keeps_the_aspect(
    shape: tuple[int, int, int], max_side: int, expected: tuple[int, int]
) -> None:
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    before = image.copy()
    out = fit_within(image, max_side)
    assert out.shape[:2] == expected
    assert np.array_equal(image, before)  # the input is not modified
    if expected == shape[:2]:
        assert out is image
    else:
        assert np.array_equal(out, resize_image(image, expected[1], expected[0]))
