"""Progress reporting shared by long operations (conversion, generation, rendering).

A long operation takes an optional ``progress`` callback and calls ``progress(stage, done, total)`` as it goes:
``stage`` names the current step (``"sampling motion"``, ``"rendering"``, ...), ``done`` counts finished units of
it out of ``total`` (windows, frames, bytes). The first call of a stage has ``done = 0`` and the last
``done = total``. The CLI turns these calls into progress bars; library users can log them or ignore them.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; see the module docstring."""


def no_progress(stage: str, done: int, total: int) -> None:
    """The callback used when none is given: reports nothing."""
