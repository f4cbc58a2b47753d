"""Tests of what a user's machine may lack (the parity fixture, optional packages): skipped there, failed in CI.

CI sets ``CI`` and provides everything, so a missing piece there is an error, never a silent skip.
"""

from __future__ import annotations

import importlib.util
import os
from typing import NoReturn


def skip_or_fail(reason: str, ci_hint: str) -> NoReturn:
    """Skip the running test with ``reason``, or fail it with ``reason; ci_hint`` when ``CI`` is set."""
    import pytest  # only inside a test session: pytest is not a dependency of motionkit

    if os.environ.get("CI"):
        pytest.fail(f"{reason}; {ci_hint}")
    pytest.skip(reason)


def require_mediapipe() -> None:
    """Skip (fail in CI) unless mediapipe, the landmark analyzer's optional dependency, is importable."""
    if importlib.util.find_spec("mediapipe") is None:
        skip_or_fail(
            "mediapipe 0.10.21 is not installed (optional; see motionkit.eval.face.landmarks)",
            "CI installs it (the README's test command) to test the landmark analyzer.",
        )
