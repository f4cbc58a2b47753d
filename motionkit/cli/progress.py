"""Progress bars on stderr for the CLI, fed by motionkit's ``progress(stage, done, total)`` callbacks."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

UNITS = {"hashing sources": "B", "sampling motion": "window", "rendering": "frame", "converting": "step"}
"""Unit shown per stage (bytes are scaled to kB/MB/GB)."""


class ProgressBars:
    """A :data:`motionkit.progress.ProgressCallback` drawing one tqdm bar per stage on stderr.

    Disabled (every call is a no-op) when ``enabled`` is false: with ``--quiet`` or when stderr is not a terminal.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bars: dict[str, Any] = {}

    @classmethod
    def for_terminal(cls, quiet: bool) -> ProgressBars:
        return cls(enabled=not quiet and sys.stderr.isatty())

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        bar = self._bars.get(stage)
        if bar is None:
            unit = UNITS.get(stage, "it")
            bar = tqdm(total=total, desc=stage, unit=unit, unit_scale=unit == "B", file=sys.stderr, dynamic_ncols=True)
            self._bars[stage] = bar
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            del self._bars[stage]

    def close(self) -> None:
        """Close bars left open (a stage interrupted by an error)."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
