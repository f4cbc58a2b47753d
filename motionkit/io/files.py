"""Atomic file writing: outputs appear complete or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from motionkit.errors import Fix, MotionkitError, OutputError

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
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file path.")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists;", fix=OVERWRITE_FIX)
    parent = output_parent(path)
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
    except BaseException as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if _is_file_system_failure(error):
            raise _write_failed(path, error) from error
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
    parent = output_parent(path)
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
    except BaseException as error:
        shutil.rmtree(tmp, ignore_errors=True)
        if _is_file_system_failure(error):
            raise _write_failed(path, error) from error
        raise


def make_folder(path: str | Path) -> Path:
    """Create the folder ``path`` with its missing parents (``mkdir -p``; an existing folder is kept); returns it.

    Raises:
        OutputError: ``path`` or a parent is a file, or a parent cannot be written (read-only, no permission).
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (path, *path.parents) if p.exists()), Path("."))
        if not blocker.is_dir():
            reason = f"{blocker} is a file, not a folder"
        else:
            reason = f"{blocker} cannot be written ({exc.strerror or exc})"
        raise OutputError(f"cannot create the folder {path}: {reason}; choose another path.") from exc
    return path


def check_folder_writable(path: str | Path) -> Path:
    """Fail before any work if the folder ``path`` could not be created or written: its nearest existing ancestor
    (``path`` itself when it exists) must be a writable folder. Returns ``path``."""
    path = Path(path)
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise OutputError(f"cannot create the folder {path}: {existing} is a file, not a folder; choose another path.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into {path}: folder {existing} is not writable; choose another path.")
    return path


def output_parent(path: str | Path, what: str = "") -> Path:
    """The folder that the output ``path`` (described as ``what`` in messages: ``"the video"``) is written into.

    Raises:
        OutputError: the folder does not exist, or cannot exist because a file is in the way.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if parent.is_dir():
        return parent
    named = f"{what} {path}" if what else str(path)
    existing = next((p for p in parent.parents if p.exists()), Path("."))
    if parent.exists() or not existing.is_dir():
        blocker = parent if parent.exists() else existing
        raise OutputError(f"cannot write {named}: {blocker} is a file, not a folder; choose another path.")
    raise OutputError(f"cannot write {named}: folder {parent} does not exist; create it first.")


def _is_file_system_failure(error: BaseException) -> bool:
    """Whether a failed write is the file system's (disk full, permissions, a rename refused), not the writer's."""
    return isinstance(error, OSError) and not isinstance(error, MotionkitError)


def _write_failed(path: Path, error: BaseException) -> OutputError:
    reason = getattr(error, "strerror", None) or str(error)
    return OutputError(f"writing {path} failed ({reason}); check the free space and permissions of its folder.")


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
