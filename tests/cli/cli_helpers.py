"""Running the CLI in-process in tests: exit code and captured output, and the one-line error it must print."""

from __future__ import annotations

import pytest

from motionkit.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``motionkit ARGV...`` in this process: ``(exit code, stdout, stderr)``."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    """The single ``motionkit: error: ...`` line of ``err`` (fails on anything else)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("motionkit: error: ")
    return lines[0]
