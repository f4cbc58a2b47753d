"""`motionkit drive`, `generate --paste-back` and `generate --pose-from` on the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from motionkit.assets import demo_photo_path
from motionkit.data.synthetic import SyntheticWorld, close_up
from motionkit.io import VideoWriter, load_image, read_video
from motionkit.testing.models import random_model_folder
from tests.cli.cli_helpers import one_error_line, run

FPS = 25.0


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return SyntheticWorld(close_up(), size=64)


@pytest.fixture(scope="module")
def driving(world: SyntheticWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    clip = world.clip(seed=4, seconds=0.8)
    path = tmp_path_factory.mktemp("driving") / "driving.mp4"
    with VideoWriter(path, fps=FPS, crf=10, audio=clip.audio, sample_rate=clip.sample_rate) as writer:
        writer.write(clip.frames)
    return path


@pytest.fixture(scope="module")
def portrait(world: SyntheticWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("portrait") / "face.png"
    Image.fromarray(world.portrait(world.identity(12))).save(path)
    return path


def test_drive_writes_the_moved_portrait_with_the_driving_audio(
    capsys: pytest.CaptureFixture[str], driving: Path, portrait: Path, tmp_path: Path
) -> None:
    out = tmp_path / "moved.mp4"
    code, stdout, _ = run(
        capsys,
        *("--quiet", "drive", portrait, driving, "-o", out, "--model", "synthetic-demo"),
        *("--no-crop", "--driving-no-crop", "--axes", "pose,mouth", "--device", "cpu"),
    )
    assert code == 0
    frames, fps, audio = read_video(out)
    assert (frames.shape, fps) == ((20, 64, 64, 3), FPS)
    assert audio is not None
    assert f"wrote {out} (20 frames, 64x64, 0.80 s at 25 fps) in" in stdout


def test_drive_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], driving: Path, portrait: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "drive", portrait, tmp_path / "none.mp4", "-o", tmp_path / "o.mp4")
    assert code != 0
    assert "the driving video" in one_error_line(err)
    assert "does not exist" in err
    code, _, err = run(
        capsys,
        *("drive", portrait, driving, "-o", tmp_path / "o.mp4", "--model", "synthetic-demo", "--no-crop"),
        *("--driving-no-crop", "--axes", "nose"),
    )
    assert code != 0
    assert "unknown axis 'nose'" in one_error_line(err)
    assert not (tmp_path / "o.mp4").exists()


def test_generate_pastes_back_into_the_photo_and_takes_the_pose_from_a_video(
    capsys: pytest.CaptureFixture[str], driving: Path, tmp_path: Path
) -> None:
    model = random_model_folder(tmp_path / "tiny")
    out = tmp_path / "pasted.mp4"
    speech = tmp_path / "speech.wav"
    import soundfile as sf

    from motionkit.testing.signals import speech_like

    sf.write(speech, speech_like(0.6), 16000, subtype="PCM_16")
    code, _, err = run(
        capsys,
        *("--quiet", "generate", demo_photo_path(), speech, "-o", out, "--model", model, "--paste-back"),
        *("--pose-from", driving, "--device", "cpu"),
    )
    assert code == 0, err
    frames, _, _ = read_video(out)
    photo = load_image(demo_photo_path())
    assert frames.shape[1:] == photo.shape
    # the corner, far from the face, is the photo (up to the encoder's rounding)
    assert np.abs(frames[:, :40, :40].astype(int) - photo[None, :40, :40]).mean() < 2.0


def test_dub_writes_the_revoiced_video(
    capsys: pytest.CaptureFixture[str], world: SyntheticWorld, tmp_path: Path
) -> None:
    video = tmp_path / "talk.mp4"
    with VideoWriter(video, fps=FPS, crf=10) as writer:
        writer.write(world.clip(seed=4, seconds=0.6).frames)
    speech = tmp_path / "speech.wav"
    import soundfile as sf

    from motionkit.testing.signals import speech_like

    sf.write(speech, speech_like(1.0), 16000, subtype="PCM_16")
    out = tmp_path / "dubbed.mp4"
    code, stdout, err = run(
        capsys,
        *("--quiet", "dub", video, speech, "-o", out, "--model", "synthetic-demo", "--driving-no-crop"),
        *("--extension", "loop", "--device", "cpu"),
    )
    assert code == 0, err
    frames, fps, audio = read_video(out)
    assert (frames.shape, fps) == ((25, 64, 64, 3), FPS)
    assert audio is not None
    assert f"wrote {out} (25 frames, 64x64, 1.00 s at 25 fps) in" in stdout
    code, _, err = run(
        capsys,
        "dub",
        video,
        speech,
        "-o",
        tmp_path / "x.mp4",
        "--identity-frame",
        "99",
        "--driving-no-crop",
        "--model",
        "synthetic-demo",
    )
    assert code != 0
    assert "identity frame 99 is beyond the end" in one_error_line(err)
    assert err.rstrip().endswith("with --identity-frame N.")
