"""MediaPipe's native log lines are dropped from the stderr file descriptor; everything else written there stays."""

from __future__ import annotations

import os

import pytest

from motionkit.eval.face.native_log import quiet_native_logs

NOISE = (
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "W0000 00:00:1796646880.815292   10856 inference_feedback_manager.cc:114] Feedback manager requires a model "
    "with a single signature inference. Disabling support for feedback tensors.",
    "I0000 00:00:1796646880.876903   10856 gl_context.cc:357] GL version: 3.2",
)
KEPT = (
    "E0000 00:00:1796646880.876903   10856 calculator_graph.cc:887] a real failure",
    "something else on stderr",
)


def test_native_info_and_warnings_are_dropped_errors_kept(capfd: pytest.CaptureFixture[str]) -> None:
    with quiet_native_logs():
        for line in (NOISE[0], KEPT[0], *NOISE[1:], KEPT[1]):
            os.write(2, (line + "\n").encode())  # below sys.stderr, as C++ code writes
    out, err = capfd.readouterr()
    assert out == ""
    assert err.splitlines() == list(KEPT)


def _crash_inside() -> None:
    with quiet_native_logs():
        os.write(2, (NOISE[2] + "\n").encode())
        raise RuntimeError("crashed")


def test_the_descriptor_is_restored_after_an_error(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError, match="crashed"):
        _crash_inside()
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
