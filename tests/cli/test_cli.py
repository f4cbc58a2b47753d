"""The ``motionkit`` command, run in-process: every command on a tiny random model, one-line errors that say what
to do, exit codes, and no partial output."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from skimage import data

from motionkit import MotionTrack
from motionkit.assets import demo_photo_path
from motionkit.cli import (
    EXIT_CHECKPOINT,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OUTPUT,
    EXIT_USAGE,
    build_parser,
    main,
)
from motionkit.cli.common import HelpFormatter
from motionkit.cli.progress import ProgressBars
from motionkit.families.float.licenses import float_license
from motionkit.io import VideoWriter, read_video
from motionkit.testing.models import random_model_folder
from tests.cli.cli_helpers import one_error_line, run

COMMANDS = (
    "generate",
    "drive",
    "dub",
    "convert-float",
    "edit",
    "explore",
    "calibrate",
    "info",
    "eval",
    "faces",
    "train",
    "demo",
)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, portrait: Path, speech: Path) -> Path:
    """A video and its saved motion, made once by `motionkit generate`."""
    folder = tmp_path_factory.mktemp("generated")
    code = main(
        [
            *("--quiet", "generate", str(portrait), str(speech), "-o", str(folder / "talk.mp4")),
            *("--model", str(tiny_model), "--no-crop", "--emotion", "happy"),
            *("--save-track", str(folder / "talk.safetensors")),
        ]
    )
    assert code == EXIT_OK
    return folder


# ------------------------------------------------------------------------------------------------------- help


def test_help_lists_the_commands_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == EXIT_OK
    for command in COMMANDS:
        assert command in out
    for status in ("0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "130"):
        assert f"  {status}" in out
    assert "--debug" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_documents_its_default(capsys: pytest.CaptureFixture[str], command: str) -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = subparsers.choices[command]
    formatter = HelpFormatter(command)
    required_groups = {
        id(a) for group in sub._mutually_exclusive_groups if group.required for a in group._group_actions
    }
    for action in sub._actions:
        if not action.option_strings or action.required or id(action) in required_groups:
            continue  # positionals and required options have no default
        if isinstance(action, argparse._HelpAction):
            continue
        text = formatter._get_help_string(action) or ""
        assert "default" in text, f"{command} {action.option_strings}: {text!r}"
    code, out, _ = run(capsys, command, "--help")
    assert code == EXIT_OK
    assert "usage: motionkit " + command in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == EXIT_OK
    assert out.startswith("motionkit ")


# --------------------------------------------------------------------------------------------------- generate


def test_generate_writes_the_video_and_the_motion(generated: Path) -> None:
    frames, fps, audio = read_video(generated / "talk.mp4")
    assert frames.shape == (25, 64, 64, 3)
    assert fps == 25.0
    assert audio is not None
    assert MotionTrack.load(generated / "talk.safetensors").frames == 25
    assert sorted(p.name for p in generated.iterdir()) == ["talk.mp4", "talk.safetensors"]


def test_generate_reports_what_it_did(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path
) -> None:
    out_file = tmp_path / "a.mp4"
    code, out, err = run(capsys, "generate", portrait, speech, "-o", out_file, "--model", tiny_model, "--no-crop")
    assert code == EXIT_OK
    assert f"wrote {out_file} (25 frames, 1.00 s at 25 fps)" in out
    assert "emotion: neutral (the model has no emotion classifier to predict it; choose one with --emotion)" in out
    assert err == ""
    code, _, _ = run(
        capsys, "generate", portrait, speech, "-o", out_file, "--model", tiny_model, "--no-crop", "--seed", "4",
        "--nfe", "3", "--solver", "midpoint", "--audio-scale", "1.5", "--emotion", "sad", "--intensity", "0.5",
        "--overwrite", "--encoder-segments", "2",
    )  # fmt: skip
    assert code == EXIT_OK
    assert len(read_video(out_file)[0]) == 25  # one run (250 frames each) of a worker process, joined


def write_gray(path: Path) -> Path:
    Image.fromarray(np.full((200, 200, 3), 128, dtype=np.uint8)).save(path)
    return path


ERROR_CASES = {
    # name: (extra setup -> argv changes, exit code, message pattern)
    "missing image": ("image=missing.png", EXIT_INPUT, r"image .*missing\.png does not exist; check the path"),
    "unreadable image": ("image=text.png", EXIT_INPUT, r"is not a readable image .* use a PNG, JPEG"),
    "missing audio": ("audio=missing.wav", EXIT_INPUT, r"audio file .*missing\.wav does not exist"),
    "audio shorter than a frame": ("audio=blip.wav", EXIT_INPUT, r"at least one frame .* Give a longer clip"),
    "no face": (
        "image=gray.png crop",
        EXIT_INPUT,
        r"found no face .* use --no-crop .* or --box X1,Y1,X2,Y2 .* face-box file",
    ),
    "missing model": ("model=nowhere", EXIT_CHECKPOINT, r"model folder .*nowhere does not exist; pass the folder"),
    "folder of another kind": ("model=conditioner", EXIT_CHECKPOINT, r"not a motionkit model .* pass the model folder"),
    "corrupt model": ("model=broken", EXIT_CHECKPOINT, r"damaged or not a safetensors file .* convert or export"),
    "existing output": ("output=exists.mp4", EXIT_OUTPUT, r"already exists; pass --overwrite to replace it"),
    "unwritable output": ("output=file.txt/out.mp4", EXIT_OUTPUT, r"is a file, not a folder; choose another path"),
    "not an mp4": ("output=out.avi", EXIT_OUTPUT, r"must end in \.mp4"),
    "bad edit JSON": ("edits=bad.json", EXIT_INPUT, r"invalid EditProgram JSON: .*edits"),
    "unknown axis": ("edits=jaw.json", EXIT_INPUT, r"unknown axis 'jaw'"),
    "intensity out of range": ("intensity", EXIT_INPUT, r"--intensity must be between 0 and 1"),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_generate_errors_are_one_line_that_says_what_to_do(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path, case: str
) -> None:
    change, expected_code, pattern = ERROR_CASES[case]
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "text.png").write_text("not an image")
    write_gray(inputs / "gray.png")
    sf.write(inputs / "blip.wav", np.zeros(300, dtype=np.float32), 16000)
    (inputs / "bad.json").write_text('{"edits": [{"kind": "nod"}]}')
    (inputs / "jaw.json").write_text('{"edits": [{"kind": "offset", "axis": "jaw", "value": 1}]}')
    (inputs / "file.txt").write_text("a file")
    broken = inputs / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "renderer.safetensors").write_bytes((broken / "renderer.safetensors").read_bytes()[:100])
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "exists.mp4").write_bytes(b"precious")
    values = {"image": portrait, "audio": speech, "model": tiny_model, "output": outputs / "out.mp4"}
    extra = ["--no-crop"]
    for item in change.split():
        key, _, value = item.partition("=")
        if key == "crop":
            extra.remove("--no-crop")
        elif key == "intensity":
            extra += ["--emotion", "happy", "--intensity", "1.5"]
        elif key == "edits":
            extra += ["--edits", inputs / value]
        elif key == "model" and value == "conditioner":
            values["model"] = tiny_model / "conditioner"
        elif key == "output":
            values["output"] = (inputs if value.startswith("file.txt") else outputs) / value
        else:
            values[key] = inputs / value
    argv = ["generate", values["image"], values["audio"], "-o", values["output"], "--model", values["model"], *extra]
    code, out, err = run(capsys, *argv)
    assert code == expected_code, err
    assert re.search(pattern, one_error_line(err)), err
    assert out == ""
    assert sorted(p.name for p in outputs.iterdir()) == ["exists.mp4"]  # nothing new, nothing partial
    assert (outputs / "exists.mp4").read_bytes() == b"precious"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--box", "1,2,3"], "is not a face box"),
        (["--emotion", "furious"], "unknown emotion 'furious'"),
        (["--emotion", "{oops"], "the emotion JSON is invalid"),
        (["--nfe", "0"], "is not a positive integer"),
        (["--threads", "0"], "is not a positive integer"),
        (["--no-crop", "--box", "0,0,10,10"], "not allowed with argument"),
        (["--solver", "dopri5"], "invalid choice"),
        (["--encoder-segments", "0"], "is not a number of encoder processes"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path, argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "generate", portrait, speech, "-o", "x.mp4", "--model", tiny_model, *argv)
    assert code == EXIT_USAGE
    assert message in err
    code, _, err = run(capsys, "generate", portrait, speech, "--model", tiny_model)
    assert code == EXIT_USAGE
    assert "-o/--output" in err


def test_threads_option_sets_the_cpu_threads(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, portrait: Path, speech: Path
) -> None:
    """`--threads` is applied before the model loads (here a missing folder: the command fails after it)."""
    argv = ["generate", portrait, speech, "-o", tmp_path / "x.mp4", "--model", tmp_path / "none", "--threads", 2]
    code, _, _ = run(capsys, *argv)
    assert code == EXIT_CHECKPOINT
    assert sys.modules["torch"].get_num_threads() == 2


@pytest.mark.skipif(sys.modules["torch"].cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu(capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path) -> None:
    code, _, err = run(capsys, "generate", portrait, speech, "-o", "x.mp4", "--model", tiny_model, "--device", "cuda")
    assert code == EXIT_INPUT
    assert "no CUDA GPU is available; use --device cpu" in one_error_line(err)


# ------------------------------------------------------------------------------------------ edit, explore, info


# The bundled portrait is a drawn face the detector does not find: its face-box file (demo_portrait.face.json) makes
# it work, without --no-crop, with every command that takes a portrait.


def test_generate_takes_the_bundled_inputs_with_the_shipped_model(
    capsys: pytest.CaptureFixture[str], portrait: Path, tmp_path: Path
) -> None:
    from motionkit.assets import demo_model_path, demo_speech_path

    out_file = tmp_path / "bundled.mp4"
    code, _, err = run(capsys, "generate", portrait, demo_speech_path(), "-o", out_file, "--model", demo_model_path())
    assert code == EXIT_OK, err
    frames, _, audio = read_video(out_file)
    assert frames.shape == (100, 64, 64, 3)
    assert audio is not None


def test_edit_takes_the_bundled_portrait(
    capsys: pytest.CaptureFixture[str], generated: Path, tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path
) -> None:
    program = tmp_path / "turn.json"
    program.write_text('{"edits": [{"kind": "offset", "axis": "pitch", "value": 5}]}')
    argv = ["edit", generated / "talk.safetensors", "--edits", program, "--image", portrait, "--audio", speech]
    code, _, err = run(capsys, *argv, "--model", tiny_model, "-o", tmp_path / "turn.mp4")
    assert code == EXIT_OK, err
    assert read_video(tmp_path / "turn.mp4")[0].shape[0] == 25


def test_explore_takes_the_bundled_portrait(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path
) -> None:
    argv = ["explore", portrait, "--model", tiny_model, "-o", tmp_path / "axes.png", "--audio", speech]
    code, out, err = run(capsys, *argv, "--steps", "3", "--cell", "32")
    assert code == EXIT_OK, err
    assert "2 axes x 3 offsets" in out


def test_edit_applies_a_program_to_a_saved_track(
    capsys: pytest.CaptureFixture[str], generated: Path, tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path
) -> None:
    program = tmp_path / "nod.json"
    program.write_text('{"edits": [{"kind": "oscillate", "axis": "pitch", "amplitude": 6, "frequency": 2}]}')
    argv = ["edit", generated / "talk.safetensors", "--edits", program, "--image", portrait, "--no-crop"]
    argv += ["--audio", speech, "--model", tiny_model, "-o", tmp_path / "nod.mp4", "--plot", tmp_path / "nod.png"]
    code, out, err = run(capsys, *argv, "--save-track", tmp_path / "nod.safetensors")
    assert code == EXIT_OK, err
    assert "wrote" in out
    frames, _, audio = read_video(tmp_path / "nod.mp4")
    assert frames.shape[0] == 25
    assert audio is not None
    before = MotionTrack.load(generated / "talk.safetensors")
    after = MotionTrack.load(tmp_path / "nod.safetensors")
    assert not np.allclose(before.latents.numpy(), after.latents.numpy())
    assert Image.open(tmp_path / "nod.png").size[0] > 100
    code, _, err = run(capsys, *argv)  # outputs exist now
    assert code == EXIT_OUTPUT
    assert "--overwrite" in one_error_line(err)


def test_edit_of_a_missing_or_foreign_track(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, tmp_path: Path
) -> None:
    base = ["--image", portrait, "--model", tiny_model, "-o", tmp_path / "x.mp4"]
    code, _, err = run(capsys, "edit", tmp_path / "none.safetensors", *base)
    assert code == EXIT_CHECKPOINT
    assert "motion track file" in one_error_line(err)
    (tmp_path / "foreign.safetensors").write_bytes(b"\x00" * 32)
    code, _, err = run(capsys, "edit", tmp_path / "foreign.safetensors", *base)
    assert code == EXIT_CHECKPOINT
    assert "damaged or not a safetensors file" in one_error_line(err)
    assert not (tmp_path / "x.mp4").exists()


def test_explore_writes_a_labelled_grid(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path
) -> None:
    argv = ["explore", portrait, "--model", tiny_model, "-o", tmp_path / "axes.png", "--no-crop", "--audio", speech]
    code, out, err = run(capsys, *argv, "--steps", "3", "--cell", "32")
    assert code == EXIT_OK, err
    assert "2 axes x 3 offsets" in out
    width, height = Image.open(tmp_path / "axes.png").size
    assert width > 3 * 32
    assert height > 2 * 32
    code, _, err = run(capsys, *argv, "--axes", "jaw")
    assert code == EXIT_OUTPUT  # the grid exists: refused before any work
    code, _, err = run(capsys, *argv, "--axes", "jaw", "--overwrite")
    assert code == EXIT_INPUT
    assert "unknown axis 'jaw'" in one_error_line(err)


def test_info_shows_the_licence_prominently(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, tmp_path: Path
) -> None:
    folder = random_model_folder(tmp_path / "nc", manifest={"license": float_license(with_emotion=False)})
    code, out, _ = run(capsys, "info", folder)
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[1].startswith("LICENCE: CC BY-NC 4.0 / CC BY-NC-ND 4.0 (non-commercial) -- NON-COMMERCIAL USE ONLY")
    assert "renderer     64 px, latent 32, 8 motion directions" in out
    assert "axes         pitch (deg), yaw (deg)" in out
    assert "parameters" in out
    code, out, _ = run(capsys, "info", tiny_model, "--json")
    assert code == EXIT_OK
    description = json.loads(out)
    assert description["non_commercial"] is False
    assert set(description["parameters"]) == {"renderer", "flow", "conditioner"}
    assert description["total_parameters"] == sum(description["parameters"].values())


def test_info_of_a_folder_without_axes_or_licence(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = random_model_folder(tmp_path / "plain", axes=())
    (folder / "manifest.json").unlink()
    code, out, _ = run(capsys, "info", folder)
    assert code == EXIT_OK
    assert "licence: not recorded" in out
    assert "none named: basis directions d0..d7" in out


# ------------------------------------------------------------------------------------------------ convert-float


def test_convert_float_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    checkpoint = tmp_path / "float.pth"
    checkpoint.write_bytes(b"PK\x03\x04 truncated download")
    hf = tmp_path / "hf"
    hf.mkdir()
    argv = ["convert-float", "--checkpoint", checkpoint, "--wav2vec2", hf, "--out", tmp_path / "model"]
    code, _, err = run(capsys, *argv)
    assert code == EXIT_CHECKPOINT
    assert "could not be read as a PyTorch checkpoint" in one_error_line(err)
    assert "download it again" in err
    assert not (tmp_path / "model").exists()
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "x").write_text("")
    code, _, err = run(capsys, *argv)
    assert code == EXIT_OUTPUT
    assert "--overwrite" in one_error_line(err)


# ------------------------------------------------------------------------------------------------------- eval


def test_eval_prints_a_report(capsys: pytest.CaptureFixture[str], generated: Path) -> None:
    code, out, err = run(capsys, "eval", generated / "talk.mp4", "--identity-seed", "9")
    assert code == EXIT_OK, err
    assert "frames" in out
    assert "25 at 25 fps" in out
    code, out, _ = run(capsys, "eval", generated / "talk.mp4", "--json", "--world", "default")
    assert code == EXIT_OK
    assert json.loads(out)["frames"] == 25
    code, _, err = run(capsys, "eval", generated / "missing.mp4")
    assert code == EXIT_INPUT
    assert "does not exist" in one_error_line(err)


def test_eval_measures_a_real_face_with_landmarks(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, speech: Path
) -> None:
    """`--analyzer landmarks` on a video of a photograph (motionkit's face stack)."""
    audio, rate = sf.read(speech, dtype="float32")
    frames = np.repeat(data.astronaut()[None, ::2, ::2], 10, axis=0)  # 0.4 s of a still 256 px face
    with VideoWriter(tmp_path / "still.mp4", fps=25.0, audio=audio[: int(0.4 * rate)], sample_rate=rate) as video:
        video.write(frames)
    code, out, err = run(capfd, "eval", tmp_path / "still.mp4", "--analyzer", "landmarks", "--json")
    assert code == EXIT_OK, err
    assert err == ""  # no "W0000 ... inference_feedback_manager.cc:114] ..." nor TensorFlow Lite notices
    report = json.loads(out)
    assert report["frames"] == 10
    assert report["face_found"] == 1.0
    assert set(report["jitter"]) == {"mouth_open", "yaw", "pitch"}
    assert all(np.isfinite(value) for value in report["jitter"].values())
    assert report["silent_frames"] == 0  # speech throughout: the closed-mouth check does not apply
    assert report["closed_mouth_rate"] is None
    assert "closed_mouth_rate" not in report["checks"]


# ------------------------------------------------------------------------------------------------------ train


def test_train_argument_handling(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, "train")
    assert code == EXIT_USAGE
    assert "one of the arguments --config --preset is required" in err
    code, _, err = run(capsys, "train", "--config", tmp_path / "c.json")
    assert code == EXIT_USAGE
    assert "--config needs the kind of model to train" in err
    code, _, err = run(capsys, "train", "ae", "--preset", "synthetic-demo")
    assert code == EXIT_USAGE
    code, _, err = run(capsys, "train", "flow", "--config", tmp_path / "missing.json")
    assert code == EXIT_INPUT
    assert "missing.json" in one_error_line(err)

    calls: list[Path] = []
    recipe = types.ModuleType("motionkit.train.demo")
    recipe.train_synthetic_demo = lambda out: calls.append(out) or out / "model"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "motionkit.train.demo", recipe)
    code, out, _ = run(capsys, "train", "--preset", "synthetic-demo", "--out", tmp_path / "demo")
    assert code == EXIT_OK
    assert calls == [tmp_path / "demo"]
    assert f"trained model folder: {tmp_path / 'demo' / 'model'}" in out
    code, _, _ = run(capsys, "train", "--preset", "synthetic-demo")
    assert calls[-1] == Path("runs/synthetic-demo")

    photo = types.ModuleType("motionkit.train.photo")
    photo.train_photo_motion = lambda out: calls.append(out) or out / "model"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "motionkit.train.photo", photo)
    code, out, _ = run(capsys, "train", "--preset", "photo-motion")
    assert code == EXIT_OK
    assert calls[-1] == Path("runs/photo-motion")
    assert f"trained model folder: {Path('runs/photo-motion/model')}" in out


# ------------------------------------------------------------------------------------------------------- demo


@pytest.fixture
def bundled(monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> Path:
    """The demo's bundled model replaced by the tiny random one."""
    import motionkit.assets

    monkeypatch.setattr(motionkit.assets, "bundled_model_path", lambda name="photo-motion": tiny_model)
    return tiny_model


def test_demo_makes_a_video_a_plot_and_the_program(
    capsys: pytest.CaptureFixture[str], bundled: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "demo"
    code, out, err = run(capsys, "demo", "--out", out_dir)
    assert code == EXIT_OK, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["demo.mp4", "demo_edits.json", "demo_motion.png"]
    assert f"demo video:   {out_dir / 'demo.mp4'}" in out
    frames, _, audio = read_video(out_dir / "demo.mp4")
    assert frames.shape[0] == 100  # the bundled 4 s clip
    assert audio is not None
    program = json.loads((out_dir / "demo_edits.json").read_text())
    assert [edit["kind"] for edit in program["edits"]] == ["oscillate", "keyframes"]
    assert program["edits"][0]["axis"] == "pitch"
    assert program["edits"][1]["axis"] == "yaw"
    assert err == ""
    code, _, err = run(capsys, "demo", "--out", out_dir)
    assert code == EXIT_OUTPUT
    assert "--overwrite" in one_error_line(err)


def test_demo_animates_the_bundled_photo_at_its_own_size(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from motionkit.io.image import load_image

    out_dir = tmp_path / "shipped"
    code, out, err = run(capsys, "demo", "--out", out_dir)
    assert code == EXIT_OK, err
    frames, _, audio = read_video(out_dir / "demo.mp4")
    assert frames.shape == (100, 600, 512, 3)  # Grace Hopper's photo, 512 x 600, the bundled 4 s clip
    assert audio is not None
    assert "done in" in out
    photo = load_image(demo_photo_path()).astype(np.float32)
    # the head turns and the mouth moves: frames differ from the photo, by more than the encoder's error
    assert np.abs(frames.astype(np.float32) - photo).mean(axis=(1, 2, 3)).max() > 4.0
    program = json.loads((out_dir / "demo_edits.json").read_text())
    assert [edit["axis"] for edit in program["edits"]] == ["pitch", "yaw"]


def test_demo_runs_the_learned_model_by_name(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "learned"
    code, _, err = run(capsys, "demo", "--model", "synthetic-demo", "--out", out_dir)
    assert code == EXIT_OK, err
    frames, _, _ = read_video(out_dir / "demo.mp4")
    assert frames.shape == (100, 64, 64, 3)
    first = (out_dir / "demo_edits.json").read_text()
    code, _, err = run(capsys, "demo", "--model", "synthetic-demo", "--out", out_dir, "--overwrite")
    assert code == EXIT_OK, err
    assert (out_dir / "demo_edits.json").read_text() == first


def test_generate_without_a_model_animates_a_photo(
    capsys: pytest.CaptureFixture[str], speech: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "generate", demo_photo_path(), speech, "-o", tmp_path / "photo.mp4")
    assert code == EXIT_OK, err
    frames, _, _ = read_video(tmp_path / "photo.mp4")
    assert frames.shape == (25, 600, 512, 3)
    code, _, err = run(capsys, "generate", demo_photo_path(), speech, "-o", tmp_path / "x.mp4", "--no-crop")
    assert code == EXIT_INPUT
    assert "drop --no-crop" in one_error_line(err)


def test_demo_with_own_audio_and_without_edits(
    capsys: pytest.CaptureFixture[str], bundled: Path, speech: Path, tmp_path: Path
) -> None:
    code, _, err = run(capsys, "demo", "--out", tmp_path / "d", "--audio", speech, "--no-edits")
    assert code == EXIT_OK, err
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["demo.mp4", "demo_motion.png"]
    assert read_video(tmp_path / "d" / "demo.mp4")[0].shape[0] == 25


def test_demo_needs_pitch_and_yaw_for_its_edits(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import motionkit.assets

    plain = random_model_folder(tmp_path / "plain", axes=("roll",))
    monkeypatch.setattr(motionkit.assets, "bundled_model_path", lambda name="photo-motion": plain)
    code, _, err = run(capsys, "demo", "--out", tmp_path / "d")
    assert code == EXIT_INPUT
    assert "no calibrated 'pitch' and 'yaw' axis" in one_error_line(err)
    assert "--no-edits" in err
    assert not (tmp_path / "d").exists()


def test_missing_bundled_model_is_a_checkpoint_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import motionkit.assets

    monkeypatch.setattr(motionkit.assets, "_asset", lambda name: tmp_path / name)
    code, _, err = run(capsys, "demo", "--out", tmp_path / "d")
    assert code == EXIT_CHECKPOINT
    assert "bundled model 'photo-motion' is missing" in one_error_line(err)
    assert "motionkit train --preset photo-motion" in err


# ------------------------------------------------------------------------------------- errors, debug, warnings


def test_internal_errors_interrupts_and_debug(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from motionkit.cli.commands import info

    def crash(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(info, "run", crash)
    code, _, err = run(capsys, "info", "x")
    assert code == EXIT_INTERNAL
    line = one_error_line(err)
    assert "internal error (ZeroDivisionError: division by zero)" in line
    assert "rerun the command with --debug" in line
    for argv in (["--debug", "info", "x"], ["info", "x", "--debug"]):
        code, _, err = run(capsys, *argv)
        assert code == EXIT_INTERNAL
        assert "Traceback (most recent call last)" in err
        assert err.strip().splitlines()[-1].startswith("motionkit: error: internal error")

    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(info, "run", interrupted)
    code, _, err = run(capsys, "info", "x")
    assert code == EXIT_INTERRUPTED
    assert "interrupted" in err


def test_warnings_are_single_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from motionkit.cli.commands import info

    def warn(args: argparse.Namespace) -> int:
        warnings.warn("something odd\n  happened", UserWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(info, "run", warn)
    code, _, err = run(capsys, "info", "x")
    assert code == EXIT_OK
    assert err == "motionkit: warning: something odd happened\n"


def test_progress_bars(capsys: pytest.CaptureFixture[str]) -> None:
    bars = ProgressBars(enabled=True)
    bars("rendering", 0, 4)
    bars("rendering", 2, 4)
    bars("rendering", 4, 4)
    bars("sampling motion", 0, 3)
    bars.close()
    err = capsys.readouterr().err
    assert "rendering" in err
    assert "4/4" in err
    silent = ProgressBars(enabled=False)
    silent("rendering", 0, 4)
    assert capsys.readouterr().err == ""
    assert not ProgressBars.for_terminal(quiet=True).enabled
