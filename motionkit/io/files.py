"""Atomic file writing: outputs appear complete or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from motionkit.errors import Fix, OutputError

OVERWRITE_FIX = Fix(
    python="choose another path or pass overwrite=True.", cli="choose another path or pass --overwrite."
)
"""How to get past an existing output, in Python and on the command line."""


@contextlib.contextmanager
def atomic_path(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    On any exception the temporary file is removed, so a failed write never leaves a partial output.
    The temporary name keeps the suffix of ``path`` so that writers choosing a format by extension work.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists;", fix=OVERWRITE_FIX)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist; create it first.")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=parent)
    except OSError as exc:
        raise OutputError(f"cannot write into {parent} ({exc.strerror}); check the folder permissions.") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files, and writers that recreate the file (safetensors' save_file) keep that mode;
        # give the finished output the permissions a plain open() would have, whatever the writer did.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_folder(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path``; move it onto ``path`` only if the block succeeds.

    On any exception the temporary folder and everything in it are removed. An existing ``path`` is refused
    unless ``overwrite``; then it is replaced only after the new folder is complete (it is renamed aside, the new
    folder renamed in, and the old one deleted), so a failed run leaves the old folder untouched.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists;", fix=OVERWRITE_FIX)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} exists and is not a folder; choose another path.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist; create it first.")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write into {parent} ({exc.strerror}); check the folder permissions.") from exc
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700 folders; give the result normal permissions
        if path.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.replace(path, aside / path.name)
            os.replace(tmp, path)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
