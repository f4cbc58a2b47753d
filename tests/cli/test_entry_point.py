"""The installed-style entry point: ``python -m motionkit`` in a fresh process (exit status and stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from motionkit import __version__

ROOT = Path(__file__).resolve().parents[2]


def motionkit(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "kernels")])}
    return subprocess.run(
        [sys.executable, "-m", "motionkit", *argv], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_version_and_help() -> None:
    result = motionkit("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"motionkit {__version__}"
    result = motionkit("generate", "--help")
    assert result.returncode == 0
    assert "--audio-scale" in result.stdout


def test_failure_is_one_line_with_its_exit_status(tmp_path: Path) -> None:
    result = motionkit("info", str(tmp_path / "no-model"))
    assert result.returncode == 4
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"motionkit: error: model folder {tmp_path / 'no-model'} does not exist; pass the folder written by "
        "`motionkit convert-float` or by training."
    ]


def test_info_of_a_model(tiny_model: Path) -> None:
    result = motionkit("info", str(tiny_model))
    assert result.returncode == 0, result.stderr
    assert "axes         pitch (deg), yaw (deg)" in result.stdout
