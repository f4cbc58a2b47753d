"""What every family's converter (official checkpoints -> model folder) shares: the output check and the sources'
hashes for the manifest. A converter module sits above the model folder (docs/architecture.md), and so does this."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from motionkit.errors import OutputError
from motionkit.io.files import OVERWRITE_FIX, output_parent
from motionkit.model_folder import CONFIG_FILE, FORMAT, file_sha256
from motionkit.progress import ProgressCallback


def hash_sources(
    files: Mapping[str, Path], folders: Mapping[str, tuple[Path, str]], progress: ProgressCallback
) -> dict[str, Any]:
    """sha256 of the checkpoint files and of every file of the Hugging Face folders, for the manifest.

    Args:
        files: manifest name -> checkpoint file (recorded as ``{"file", "bytes", "sha256"}``).
        folders: manifest name -> ``(folder, Hugging Face repository)`` (recorded as ``{"repo", "folder", "files"}``).

    Hidden entries of the folders (``.git``, ``.cache``) are skipped: a ``git clone`` keeps second copies of the
    weights there.
    """
    listed = {name: visible_files(folder) for name, (folder, _) in folders.items()}
    total = sum(path.stat().st_size for path in files.values())
    total += sum(f.stat().st_size for paths in listed.values() for f in paths)
    done = 0
    progress("hashing sources", 0, total)

    def advance(size: int) -> None:
        nonlocal done
        done += size
        progress("hashing sources", done, total)

    sources: dict[str, Any] = {
        name: {"file": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path, on_chunk=advance)}
        for name, path in files.items()
    }
    for name, (folder, repo) in folders.items():
        sources[name] = {
            "repo": repo,
            "folder": folder.name,
            "files": {str(f.relative_to(folder)): file_sha256(f, on_chunk=advance) for f in listed[name]},
        }
    return sources


def visible_files(folder: Path) -> list[Path]:
    """The files under ``folder``, without hidden entries, sorted."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def check_output(out: Path, overwrite: bool) -> None:
    """Refuse an existing ``out`` (or, with ``overwrite``, anything but a model folder or an empty folder)."""
    if not out.exists():
        output_parent(out)
        return
    if not overwrite:
        raise OutputError(f"{out} already exists;", fix=OVERWRITE_FIX)
    if not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder; choose another output folder.")
    is_model = (out / CONFIG_FILE).is_file() and f'"{FORMAT}"' in (out / CONFIG_FILE).read_text(errors="replace")
    if not is_model and any(out.iterdir()):
        raise OutputError(
            f"{out} is a non-empty folder that is not a motionkit model folder, and only model folders are "
            f"replaced; choose another output folder."
        )
