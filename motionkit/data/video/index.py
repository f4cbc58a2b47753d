"""Scanning a folder of videos into usable clips, with a JSON index that caches the scan.

Every video under the folder (``.mp4 .mov .mkv .webm``, recursively) is probed once
(:func:`motionkit.data.video.probe.probe_clip`); unusable files are skipped with a :class:`SkippedFileWarning` and
counted in a :class:`DatasetSummary`. With an index file, files whose size and modification time are unchanged are
not decoded again under the same settings and cropper name.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from motionkit.data.video.clip import DEFAULT_SCAN, ClipInfo, FaceCropper, ScanSettings, SkippedFileWarning
from motionkit.data.video.probe import probe_clip
from motionkit.errors import ConfigError, DataError
from motionkit.io.files import atomic_path

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")
INDEX_FORMAT = "motionkit.video-index"
INDEX_VERSION = 1
INDEX_FILE = "video_index.json"
"""Name of a training run's cached scan in its output folder."""


def default_index_path(output_dir: str | Path) -> Path:
    """Where a training run caches its scan of the video folder."""
    return Path(output_dir) / INDEX_FILE


@dataclass
class DatasetSummary:
    """Counts of a scan: files seen, clips kept, files skipped per reason (with the paths and details)."""

    root: Path
    total: int = 0
    kept: int = 0
    kept_frames: int = 0
    fps: float = 25.0
    skipped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def skip(self, path: Path, error: DataError) -> None:
        self.skipped.setdefault(error.reason, []).append((str(path), str(error)))

    @property
    def skipped_count(self) -> int:
        return sum(len(items) for items in self.skipped.values())

    def __str__(self) -> str:
        hours = self.kept_frames / self.fps / 3600
        line = (
            f"dataset {self.root}: {self.total} files, {self.kept} clips kept "
            f"({self.kept_frames} frames, {hours:.2f} h), {self.skipped_count} skipped"
        )
        if self.skipped:
            reasons = ", ".join(f"{reason} {len(items)}" for reason, items in sorted(self.skipped.items()))
            line += f" ({reasons})"
        return line


def list_videos(root: str | Path) -> list[Path]:
    """Video files under ``root`` (recursively), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"video folder {root} does not exist or is not a folder.")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _file_key(path: Path, root: Path) -> dict[str, Any]:
    stat = path.stat()
    return {"path": str(path.relative_to(root)), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _settings_key(settings: ScanSettings, cropper: FaceCropper) -> str:
    payload = json.dumps({"settings": asdict(settings), "cropper": cropper.name}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class VideoDataset:
    """The usable clips of a folder and the summary of the scan."""

    root: Path
    clips: tuple[ClipInfo, ...]
    summary: DatasetSummary


def scan_folder(
    root: str | Path,
    cropper: FaceCropper,
    settings: ScanSettings = DEFAULT_SCAN,
    *,
    index_path: str | Path | None = None,
    verbose: bool = True,
) -> VideoDataset:
    """Scan every video under ``root``; skip unusable ones with a warning; print the summary when ``verbose``.

    With ``index_path``, results (usable clips and skipped files) are cached in that JSON file and reused for files
    whose size and modification time are unchanged under the same settings and cropper name.
    """
    root = Path(root)
    files = list_videos(root)
    key = _settings_key(settings, cropper)
    cached: dict[str, dict[str, Any]] = {}
    if index_path is not None and Path(index_path).is_file():
        try:
            index = json.loads(Path(index_path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            index = {}
        if index.get("format") == INDEX_FORMAT and index.get("settings_key") == key:
            cached = {entry["file"]["path"]: entry for entry in index.get("entries", [])}
    summary = DatasetSummary(root=root, fps=settings.fps)
    clips: list[ClipInfo] = []
    entries: list[dict[str, Any]] = []
    for path in files:
        summary.total += 1
        file_key = _file_key(path, root)
        entry = cached.get(file_key["path"])
        if entry is None or entry["file"] != file_key:
            try:
                info = probe_clip(path, cropper, settings)
                entry = {"file": file_key, "clip": {**info.to_json(), "path": file_key["path"]}}
            except DataError as error:
                entry = {"file": file_key, "skipped": {"reason": error.reason, "message": str(error)}}
        entries.append(entry)
        if "skipped" in entry:
            skipped = DataError(entry["skipped"]["message"], reason=entry["skipped"]["reason"])
            summary.skip(path, skipped)
            warnings.warn(f"{skipped} Skipped.", SkippedFileWarning, stacklevel=2)
            continue
        info = ClipInfo.from_json({**entry["clip"], "path": str(root / entry["clip"]["path"])})
        clips.append(info)
        summary.kept += 1
        summary.kept_frames += info.frames
    if index_path is not None:
        payload = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "settings_key": key, "entries": entries}
        with atomic_path(index_path) as tmp:
            tmp.write_text(json.dumps(payload) + "\n", encoding="utf-8")
    if verbose:
        print(summary, file=sys.stderr)
    return VideoDataset(root=root, clips=tuple(clips), summary=summary)
