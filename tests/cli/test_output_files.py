"""What the commands write: every kind of output file readable like any other file the user makes (the umask's
mode), and places that cannot be written refused with exit code 5 and a motionkit message, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from motionkit.cli import EXIT_OK, EXIT_OUTPUT
from motionkit.testing.files import umask, unusual_modes
from tests.cli.cli_helpers import one_error_line, run


@pytest.fixture
def bundled(monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> Path:
    """The demo's bundled model replaced by the tiny random one."""
    import motionkit.assets

    monkeypatch.setattr(motionkit.assets, "demo_model_path", lambda: tiny_model)
    return tiny_model


def test_every_kind_of_output_gets_the_umask_mode(
    capsys: pytest.CaptureFixture[str], bundled: Path, portrait: Path, speech: Path, tmp_path: Path
) -> None:
    """Videos, motion tracks (generate and edit --save-track), plots (edit --plot, the demo's), the explore grid,
    the demo's edit program and folder: none keeps the 0600 / 0700 of the temporary files they are written as."""
    model = ["--model", bundled, "--no-crop"]
    program = tmp_path / "nod.json"
    program.write_text('{"edits": [{"kind": "oscillate", "axis": "pitch", "amplitude": 6, "frequency": 2}]}')
    out = tmp_path / "out"
    out.mkdir()
    edit_outputs = ["-o", out / "nod.mp4", "--plot", out / "nod.png", "--save-track", out / "nod.safetensors"]
    with umask():
        steps = [
            ["generate", portrait, speech, "-o", out / "talk.mp4", *model, "--save-track", out / "talk.safetensors"],
            ["edit", out / "talk.safetensors", "--image", portrait, *model, "--edits", program, *edit_outputs],
            ["explore", portrait, "-o", out / "axes.png", *model, "--steps", "2", "--cell", "32"],
            ["demo", "--out", out / "demo", "--audio", speech],
        ]
        for argv in steps:
            code, _, err = run(capsys, "--quiet", *argv)
            assert code == EXIT_OK, (argv[0], err)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    assert written == [
        "axes.png",
        "demo",
        "demo/demo.mp4",
        "demo/demo_edits.json",
        "demo/demo_motion.png",
        "nod.mp4",
        "nod.png",
        "nod.safetensors",
        "talk.mp4",
        "talk.safetensors",
    ]
    assert unusual_modes(out.iterdir()) == []


def blocked_paths(root: Path) -> dict[str, Path]:
    """Output paths that cannot be written, for root too (permissions do not stop root): under a regular file."""
    (root / "file.txt").write_text("a file")
    return {"under a file": root / "file.txt" / "sub", "a file": root / "file.txt"}


@pytest.mark.parametrize("case", ["under a file", "a file"])
def test_demo_into_an_unwritable_place_is_an_output_error(
    capsys: pytest.CaptureFixture[str], bundled: Path, tmp_path: Path, case: str
) -> None:
    out = blocked_paths(tmp_path)[case]
    code, stdout, err = run(capsys, "demo", "--out", out)
    assert code == EXIT_OUTPUT  # not 1 ("internal error ... a bug")
    line = one_error_line(err)
    assert f"cannot create the folder {out}: {tmp_path / 'file.txt'} is a file, not a folder; choose another" in line
    assert stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_demo_into_a_read_only_folder_is_an_output_error(
    capsys: pytest.CaptureFixture[str], bundled: Path, tmp_path: Path
) -> None:
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        if os.access(parent, os.W_OK):
            pytest.skip("this user writes into read-only folders (root); the test under a file covers it")
        code, _, err = run(capsys, "demo", "--out", parent / "demo")
        assert code == EXIT_OUTPUT
        assert f"cannot write into {parent / 'demo'}: folder {parent} is not writable" in one_error_line(err)
        assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--preset", "synthetic-demo", "--out", "{blocked}"],
        ["explore", "{portrait}", "-o", "{blocked}/grid.png", "--model", "{model}"],
        ["generate", "{portrait}", "{speech}", "-o", "{blocked}/talk.mp4", "--model", "{model}"],
        [
            "generate",
            "{portrait}",
            "{speech}",
            "-o",
            "{out}/talk.mp4",
            "--model",
            "{model}",
            "--save-track",
            "{blocked}/t.safetensors",
        ],
        ["convert-float", "--checkpoint", "{speech}", "--wav2vec2", "{out}", "--out", "{blocked}/model"],
    ],
    ids=["train", "explore", "generate", "save-track", "convert-float"],
)
def test_every_command_refuses_an_output_under_a_file(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, portrait: Path, speech: Path, tmp_path: Path, argv: list[str]
) -> None:
    blocked = blocked_paths(tmp_path)["under a file"]
    (tmp_path / "out").mkdir()
    values = {"blocked": blocked, "portrait": portrait, "speech": speech, "model": tiny_model, "out": tmp_path / "out"}
    crop = ["--no-crop"] if argv[0] in ("generate", "explore") else []
    code, _, err = run(capsys, *(arg.format(**values) for arg in argv), *crop)
    assert code == EXIT_OUTPUT, err
    assert f"{tmp_path / 'file.txt'} is a file, not a folder; choose another path" in one_error_line(err)
    assert list((tmp_path / "out").iterdir()) == []
