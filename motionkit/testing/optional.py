"""Tests of what a user's machine may lack (the parity fixture, optional packages): skipped there, failed in CI.

CI sets ``CI`` and provides everything, so a missing piece there is an error, never a silent skip.
"""

from __future__ import annotations

import os
from typing import NoReturn


def skip_or_fail(reason: str, ci_hint: str) -> NoReturn:
    """Skip the running test with ``reason``, or fail it with ``reason; ci_hint`` when ``CI`` is set."""
    import pytest  # only inside a test session: pytest is not a dependency of motionkit

    if os.environ.get("CI"):
        pytest.fail(f"{reason}; {ci_hint}")
    pytest.skip(reason)
