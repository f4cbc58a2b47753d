"""What the commands write: every kind of output file readable like any other file the user makes (the umask's
mode), and places that cannot be written refused with exit code 5 and a motionkit message, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from motionkit.cli import EXIT_OK, main
from motionkit.testing.files import umask, unusual_modes


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


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
