"""Checks of the files motionkit writes: every output gets the permissions a plain ``open()`` / ``mkdir`` would give.

Atomic writers create temporary files (``mkstemp``: mode 0600) and folders (``mkdtemp``: 0700) and rename them
into place; a writer that forgets to restore the normal mode leaves outputs other users cannot read. Tests write
their outputs under :func:`umask` with a mask unlike both (``TEST_UMASK``) and assert :func:`unusual_modes` is
empty.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

TEST_UMASK = 0o027
"""A mask whose modes (files 0640, folders 0750) differ from the temporary files' 0600 and folders' 0700."""


@contextlib.contextmanager
def umask(mask: int = TEST_UMASK) -> Iterator[None]:
    """Run the block with the process umask set to ``mask``, restored afterwards."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def unusual_modes(paths: Iterable[str | Path], mask: int = TEST_UMASK) -> list[str]:
    """``"path: 0600 (expected 0640)"`` for every file or folder in ``paths`` (folders with everything inside)
    whose permission bits are not ``0o666 & ~mask`` (files) or ``0o777 & ~mask`` (folders)."""
    found = []
    for root in map(Path, paths):
        entries = [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]
        for entry in entries:
            mode = stat.S_IMODE(entry.stat().st_mode)
            expected = (0o777 if entry.is_dir() else 0o666) & ~mask
            if mode != expected:
                found.append(f"{entry}: {mode:04o} (expected {expected:04o})")
    return found
