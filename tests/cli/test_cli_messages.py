"""Exit codes and messages in the language of each surface: command-line options for the CLI, Python arguments for
the library, and nothing from torch or MediaPipe leaking through."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from motionkit.cli import EXIT_CHECKPOINT, EXIT_INPUT, EXIT_OUTPUT, EXIT_USAGE
from motionkit.errors import EditError, FaceNotFoundError, OutputError
from motionkit.face import crop_portrait
from motionkit.pipeline import Pipeline
from tests.cli.cli_helpers import one_error_line, run


@pytest.mark.parametrize("crf", ["99", "-1", "high"])
def test_a_quality_factor_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path, crf: str
) -> None:
    argv = ["generate", portrait, speech, "-o", tmp_path / "x.mp4", "--model", tiny_model, "--crf", crf]
    code, _, err = run(capsys, *argv)
    assert code == EXIT_USAGE  # a bad option, not an output problem (5)
    assert f"{crf!r} is not a quality factor; give an integer from 0 to 51" in err
    assert not (tmp_path / "x.mp4").exists()


def test_info_of_a_file_says_it_is_not_a_model_folder(capsys: pytest.CaptureFixture[str], portrait: Path) -> None:
    code, _, err = run(capsys, "info", portrait)
    assert code == EXIT_CHECKPOINT
    line = one_error_line(err)
    assert f"{portrait} is a file, not a model folder" in line
    assert "does not exist" not in line


def write_gray(path: Path) -> Path:
    Image.fromarray(np.full((200, 200, 3), 128, dtype=np.uint8)).save(path)
    return path


def test_cli_errors_give_options_and_files_not_python(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path
) -> None:
    base = ["--model", tiny_model, "-o", tmp_path / "x.mp4"]
    code, _, err = run(capsys, "generate", write_gray(tmp_path / "gray.png"), speech, *base)
    assert code == EXIT_INPUT
    line = one_error_line(err)
    assert "found no face in the 200x200 image" in line
    assert "Or use --no-crop to use the whole image" in line
    assert "--box X1,Y1,X2,Y2" in line
    assert "crop=False" not in line
    assert "box=(" not in line

    program = tmp_path / "jaw.json"
    program.write_text('{"edits": [{"kind": "offset", "axis": "jaw", "value": 1}]}')
    code, _, err = run(capsys, "generate", portrait, speech, *base, "--no-crop", "--edits", program)
    assert code == EXIT_INPUT
    line = one_error_line(err)
    assert "unknown axis 'jaw'" in line
    assert "Name one of these axes in the edit program (`motionkit info MODEL` lists a model's axes)" in line
    assert "with_axes" not in line
    assert "fit_axes" not in line

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "x").write_text("")
    argv = [
        "convert-float",
        "--checkpoint",
        tmp_path / "float.pth",
        "--wav2vec2",
        tmp_path,
        "--out",
        tmp_path / "model",
    ]
    code, _, err = run(capsys, *argv)
    assert code == EXIT_OUTPUT
    line = one_error_line(err)
    assert "already exists; choose another path or pass --overwrite." in line
    assert "overwrite=True" not in line
    assert not (tmp_path / "x.mp4").exists()


def test_python_errors_give_python_arguments(tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path) -> None:
    pipeline = Pipeline.from_pretrained(tiny_model)
    video = pipeline.generate(portrait, speech, "neutral", crop=False)
    (tmp_path / "taken.mp4").write_bytes(b"precious")
    with pytest.raises(OutputError) as caught:
        video.save(tmp_path / "taken.mp4")
    assert "already exists; choose another path or pass overwrite=True." in str(caught.value)
    assert "--overwrite" not in str(caught.value)
    assert (tmp_path / "taken.mp4").read_bytes() == b"precious"
    with pytest.raises(EditError) as edit:
        pipeline.motion_space.axis("jaw")
    assert "space.with_axes([Axis(...)])" in str(edit.value)
    assert "edit program" not in str(edit.value)
    with pytest.raises(FaceNotFoundError) as face:
        crop_portrait(np.full((200, 200, 3), 128, dtype=np.uint8), size=64)
    assert "pass crop=False" in str(face.value)
    assert "--no-crop" not in str(face.value)


class RunsCode:
    """A pickle that would create a file when loaded without weights_only."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("writer", ["torch.save", "pickle protocol 4"])
def test_a_refused_malicious_pickle_is_one_error_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, writer: str
) -> None:
    """torch warns about the pickle protocol before refusing the code; that advice is for torch's developers."""
    checkpoint = tmp_path / "float.pth"
    payload = {"fmt.x": RunsCode(tmp_path / "pwned")}
    if writer == "torch.save":
        torch.save(payload, checkpoint)
    else:
        checkpoint.write_bytes(pickle.dumps(payload, protocol=4))
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text("{}")
    code, _, err = run(capsys, "convert-float", "--checkpoint", checkpoint, "--wav2vec2", hf, "--out", tmp_path / "m")
    assert code == EXIT_CHECKPOINT
    line = one_error_line(err)  # no "motionkit: warning: Detected pickle protocol ..." line
    assert "could not be read as a PyTorch checkpoint" in line
    assert "a pickle that runs code" in line
    assert "Detected pickle protocol" not in err
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "m").exists()


def test_an_edit_far_beyond_the_calibrated_range_is_an_input_error(
    capsys: pytest.CaptureFixture[str], portrait: Path, speech: Path, tmp_path: Path
) -> None:
    """A yaw offset of 1e30 degrees used to exit 0 with a black video; the shipped model's axes know their range."""
    from motionkit.assets import demo_model_path

    program = tmp_path / "far.json"
    program.write_text('{"edits": [{"kind": "offset", "axis": "yaw", "value": 1e30}]}')
    argv = ["generate", portrait, speech, "-o", tmp_path / "far.mp4", "--model", demo_model_path(), "--no-crop"]
    code, _, err = run(capsys, *argv, "--edits", program)
    assert code == EXIT_INPUT
    line = one_error_line(err)
    assert "edit 0 (offset): offset 1e+30 deg on axis 'yaw' is more than 3 times the width of its calibrated" in line
    assert "use a change within +-" in line
    assert not (tmp_path / "far.mp4").exists()
