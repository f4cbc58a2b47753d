"""Bad and unusual photos and speech for `motionkit generate` and `motionkit demo` with the shipped photo family:
clear one-line errors (or a warning where the video is still right), and nothing written on an error.

The photos are made from the bundled portrait of Grace Hopper (face about 185 px wide in 512 x 600), scaled to
half size where the test needs a working photo, so that each run stays short.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from motionkit.assets import demo_photo_path
from motionkit.cli import EXIT_INPUT, EXIT_OK
from motionkit.face import Box, FaceStack
from motionkit.face.crop import fit_portrait
from motionkit.families.photo import renderer as photo_renderer
from motionkit.families.photo.renderer import MAX_PHOTO_SIDE, MAX_PHOTO_YAW, MIN_FACE_WIDTH
from motionkit.io import read_video
from motionkit.io.audio import SILENCE_DBFS
from tests.cli.cli_helpers import one_error_line, run

RATE = 16000
HALF = (256, 300)
"""Grace Hopper at half size: a face about 92 px wide, above MIN_FACE_WIDTH."""


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test photo, written once: name -> PNG path."""
    folder = tmp_path_factory.mktemp("photos")
    hopper = Image.open(demo_photo_path()).convert("RGB")
    full = np.asarray(hopper)
    half = hopper.resize(HALF, Image.Resampling.BILINEAR)
    height, width = full.shape[:2]
    two = np.full((height, width + width // 2, 3), 200, np.uint8)
    two[:, :width] = full
    two[: height // 2, width:] = np.asarray(hopper.resize((width // 2, height // 2), Image.Resampling.BILINEAR))
    arrays = {
        "no_face": np.full((240, 320, 3), 128, np.uint8),
        "two_faces": two,
        "small_face": np.asarray(hopper.resize((width // 4, height // 4), Image.Resampling.BILINEAR)),
        "half_face": full[:, width // 2 + 40 :],
        "chin_cut": full[: height // 2 + 20],
        "huge": np.zeros((8, MAX_PHOTO_SIDE + 1, 3), np.uint8),
    }
    paths = {}
    for name, array in arrays.items():
        paths[name] = folder / f"{name}.png"
        Image.fromarray(array).save(paths[name])
    for name, image in {
        "gray": half.convert("L"),
        "rgba": half.convert("RGBA"),
        "gray16": Image.fromarray(np.asarray(half.convert("L")).astype(np.uint16) * 257),
    }.items():
        paths[name] = folder / f"{name}.png"
        image.save(paths[name])
    return paths


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Half a second of the bundled speech, a silent second and 25 ms of silence."""
    folder = tmp_path_factory.mktemp("sounds")
    from motionkit.assets import demo_speech_path
    from motionkit.io import load_audio

    speech = load_audio(demo_speech_path(), target_rate=RATE)
    clips = {
        "speech": speech[RATE // 2 : RATE],
        "silent": np.zeros(RATE, np.float32),
        "short": np.zeros(RATE // 40, np.float32),  # silent too: the error alone is printed
    }
    paths = {}
    for name, samples in clips.items():
        paths[name] = folder / f"{name}.wav"
        sf.write(paths[name], samples, RATE)
    return paths


def generate(capsys: pytest.CaptureFixture[str], photo: Path, audio: Path, out: Path) -> tuple[int, str]:
    code, _, err = run(capsys, "--quiet", "generate", photo, audio, "-o", out)
    return code, err


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("no_face", "found no face in the 320x240 image"),
        ("half_face", "found no face"),
        ("chin_cut", "the face is cut by the border"),
        ("small_face", f"needs at least {MIN_FACE_WIDTH} px"),
        ("huge", f"up to {MAX_PHOTO_SIDE} px on the longer side"),
    ],
)
def test_photos_the_renderer_cannot_animate_are_refused_before_any_output(
    capsys: pytest.CaptureFixture[str],
    photos: dict[str, Path],
    sounds: dict[str, Path],
    tmp_path: Path,
    name: str,
    expected: str,
) -> None:
    code, err = generate(capsys, photos[name], sounds["speech"], tmp_path / "out.mp4")
    assert code == EXIT_INPUT
    assert expected in one_error_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_profile_beyond_the_renderers_range_names_the_limit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sounds: dict[str, Path], tmp_path: Path
) -> None:
    found = FaceStack.faces

    def turned(self: FaceStack, image: object) -> list[object]:  # the photo's face, read as turned 50 degrees
        return [dataclasses.replace(f, pose=dataclasses.replace(f.pose, yaw=50.0)) for f in found(self, image)]  # type: ignore[arg-type]

    monkeypatch.setattr(FaceStack, "faces", turned)
    code, _, err = run(capsys, "--quiet", "demo", "--out", tmp_path / "demo", "--audio", sounds["speech"])
    assert code == EXIT_INPUT
    line = one_error_line(err)
    assert "turned +50 degrees (yaw)" in line
    assert f"within {MAX_PHOTO_YAW:g} degrees of yaw" in line
    assert not (tmp_path / "demo").exists()


def test_several_faces_animate_the_largest_with_a_warning(
    capsys: pytest.CaptureFixture[str], photos: dict[str, Path], sounds: dict[str, Path], tmp_path: Path
) -> None:
    code, err = generate(capsys, photos["two_faces"], sounds["speech"], tmp_path / "out.mp4")
    assert code == EXIT_OK, err
    warning = [line for line in err.splitlines() if "faces in the photo" in line]
    assert len(warning) == 1
    assert warning[0].startswith("motionkit: warning: found 2 faces in the photo; animating the largest (box ")
    assert "--box X1,Y1,X2,Y2" in warning[0]
    x0 = int(warning[0].split("(box ")[1].split(",")[0])
    assert x0 < 512  # the full-size face on the left, not the half-size one on the right
    frames, _, _ = read_video(tmp_path / "out.mp4")
    assert frames.shape[1:] == (600, 768, 3)


@pytest.mark.parametrize("name", ["gray", "rgba", "gray16"])
def test_grayscale_rgba_and_16_bit_photos_animate_at_their_size(
    capsys: pytest.CaptureFixture[str], photos: dict[str, Path], sounds: dict[str, Path], tmp_path: Path, name: str
) -> None:
    code, err = generate(capsys, photos[name], sounds["speech"], tmp_path / "out.mp4")
    assert code == EXIT_OK, err
    frames, _, _ = read_video(tmp_path / "out.mp4")
    assert frames.shape == (13, HALF[1], HALF[0], 3)  # 0.5 s at 25 fps, the photo's own size
    if name != "rgba":  # a gray photo gives gray frames (up to the video encoder's chroma error)
        spread = frames.astype(np.int16).max(axis=-1) - frames.astype(np.int16).min(axis=-1)
        assert np.percentile(spread, 99) <= 8


def test_a_large_photo_warns_and_max_side_shrinks_it(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    photos: dict[str, Path],
    sounds: dict[str, Path],
    tmp_path: Path,
) -> None:
    """Above LARGE_PHOTO_SIDE the video is still made at the photo's size, with a warning naming --max-side (the
    threshold lowered here to keep the run short); --max-side draws the photo shrunk, without the warning."""
    monkeypatch.setattr(photo_renderer, "LARGE_PHOTO_SIDE", HALF[1] - 1)
    code, err = generate(capsys, photos["gray"], sounds["speech"], tmp_path / "large.mp4")
    assert code == EXIT_OK, err
    warning = [line for line in err.splitlines() if "megapixels" in line]
    assert len(warning) == 1
    assert warning[0].startswith(f"motionkit: warning: the photo is {HALF[0]}x{HALF[1]} px (0.1 megapixels)")
    assert "--max-side 1024" in warning[0]
    assert read_video(tmp_path / "large.mp4")[0].shape[1:3] == (HALF[1], HALF[0])
    monkeypatch.setattr(photo_renderer, "LARGE_PHOTO_SIDE", 2 * HALF[1] - 1)
    full = tmp_path / "full.png"
    Image.open(demo_photo_path()).convert("RGB").save(full)
    code, _, err = run(
        capsys, "--quiet", "generate", full, sounds["speech"], "-o", tmp_path / "s.mp4", "--max-side", 300
    )
    assert code == EXIT_OK, err
    assert "megapixels" not in err
    assert read_video(tmp_path / "s.mp4")[0].shape[1:3] == (HALF[1], HALF[0])  # 512 x 600 shrunk to 256 x 300
    code, _, err = run(capsys, "--quiet", "generate", full, sounds["speech"], "-o", tmp_path / "z.mp4", "--max-side", 0)
    assert code != EXIT_OK
    assert "'0' is not a positive integer" in err
    assert not (tmp_path / "z.mp4").exists()


def test_fitted_portraits_scale_their_face_box(tmp_path: Path) -> None:
    """fit_portrait (--max-side, jobs, live sessions) shrinks the pixels and the face box along (given, or the
    .face.json beside the image); without a side the file itself is passed on."""
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((400, 200, 3), np.uint8)).save(photo)
    assert fit_portrait(photo, None, Box(1, 2, 3, 4)) == (photo, Box(1, 2, 3, 4))
    same, box = fit_portrait(photo, 400, None)
    assert isinstance(same, np.ndarray)
    assert same.shape == (400, 200, 3)
    assert box is None
    pixels, box = fit_portrait(photo, 100, Box(20, 40, 120, 240))
    assert isinstance(pixels, np.ndarray)
    assert pixels.shape == (100, 50, 3)
    assert box == Box(5, 10, 30, 60)
    (tmp_path / "p.face.json").write_text('{"box": [40, 80, 160, 320]}')
    assert fit_portrait(photo, 200, None)[1] == Box(20, 40, 80, 160)


def test_silent_speech_warns_and_very_short_speech_is_refused(
    capsys: pytest.CaptureFixture[str], photos: dict[str, Path], sounds: dict[str, Path], tmp_path: Path
) -> None:
    code, err = generate(capsys, photos["gray"], sounds["silent"], tmp_path / "silent.mp4")
    assert code == EXIT_OK, err
    assert f"motionkit: warning: the audio is silent (no sample above {SILENCE_DBFS:g} dBFS)" in err
    assert read_video(tmp_path / "silent.mp4")[0].shape[0] == 25
    code, err = generate(capsys, photos["gray"], sounds["short"], tmp_path / "short.mp4")
    assert code == EXIT_INPUT
    assert "at least one frame (640 samples, 40 ms) is needed" in one_error_line(err)
    assert not (tmp_path / "short.mp4").exists()
