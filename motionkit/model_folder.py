"""The model folder: motionkit's format for a whole model, readable without pickle, for every model family.

::

    folder/
      config.json      {"format": "motionkit.Model", "format_version": 2, "family": <name>, "config": <config>}
      <component files> written and read by the family (:mod:`motionkit.families`; FLOAT's architecture:
                       renderer.safetensors, flow.safetensors, conditioner/, see motionkit.families.float.folder)
      axes.json        optional: named, calibrated motion axes (MotionSpace.save_axes)
      manifest.json    provenance: motionkit version, sources with sha256, licence, notes

``config.json`` is written last, so a folder whose writing was interrupted is never mistaken for a model. Its
``family`` names the code that reads the component files (version 1 folders, written before families existed, are
FLOAT's architecture). Loading checks every tensor name and shape against the configuration and reports all problems
in one :class:`~motionkit.errors.CheckpointError`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from motionkit._version import __version__
from motionkit.config.model import FamilyConfig
from motionkit.errors import CheckpointError
from motionkit.families import family
from motionkit.io.files import atomic_path, make_folder
from motionkit.protocols import MotionGenerator, PortraitRenderer, SpeechConditioner
from motionkit.space import MotionSpace

FORMAT = "motionkit.Model"
FORMAT_VERSION = 2
"""Version 2 records the model family; version 1 folders are FLOAT's architecture."""
LEGACY_FAMILY = "float"
"""The family of version 1 folders (written before families existed: every one is FLOAT's architecture)."""
CONFIG_FILE = "config.json"
AXES_FILE = "axes.json"
MANIFEST_FILE = "manifest.json"


@dataclass
class ModelParts:
    """The components of a model folder, loaded. ``space`` is the renderer's motion space with the folder's axes."""

    config: FamilyConfig
    renderer: PortraitRenderer
    conditioner: SpeechConditioner
    sampler: MotionGenerator
    space: MotionSpace
    manifest: dict[str, Any] = field(default_factory=dict)


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20, on_chunk: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in chunks (checkpoints can be several GB); ``on_chunk(bytes)`` after each."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return digest.hexdigest()


def save_model(
    folder: str | Path,
    *,
    config: FamilyConfig,
    renderer: PortraitRenderer | None,
    conditioner: SpeechConditioner,
    sampler: MotionGenerator,
    space: MotionSpace | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model folder (see the module docstring) with the component files of ``config.family``.

    Args:
        renderer: the renderer, or ``None`` for a family whose folders store none (photo).
        space: a space with named axes to store in ``axes.json`` (its basis must be the renderer's).
        manifest: provenance entries merged into ``manifest.json`` (``sources``, ``license``, ``notes``, ...);
            ``motionkit_version`` and ``created`` are added.
    """
    folder = Path(folder)
    owner = family(config.family)
    make_folder(folder)
    owner.save_components(folder, config=config, renderer=renderer, conditioner=conditioner, sampler=sampler)
    axes_path = folder / AXES_FILE
    if space is not None and space.is_calibrated:  # space.axes lists d0..d{M-1} when none are named
        space.save_axes(axes_path)
    elif axes_path.exists():
        axes_path.unlink()
    record = {
        "motionkit_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **dict(manifest or {}),
    }
    with atomic_path(folder / MANIFEST_FILE) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "family": owner.name,
        "config": config.model_dump(mode="json"),
    }
    with atomic_path(folder / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(header, indent=2) + "\n", encoding="utf-8")
    return folder


def read_config(folder: str | Path) -> FamilyConfig:
    """The configuration of a model folder, validated (no weights are read); its ``family`` is the folder's."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        what = "is a file, not a model folder" if folder.exists() else "does not exist"
        raise CheckpointError(
            f"model folder {folder} {what}; pass the folder written by `motionkit convert-float` or by training."
        )
    if not path.is_file():
        raise CheckpointError(
            f"{folder} has no {CONFIG_FILE}, so it is not a motionkit model folder (or its writing was "
            f"interrupted). Convert the official checkpoint with `motionkit convert-float` or export a trained model."
        )
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); convert or export the model again.") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise CheckpointError(
            f"{path} describes {found or 'something else'!s}, not a motionkit model ({FORMAT}); pass the model "
            f"folder itself (the folder that holds config.json and the weights)."
        )
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has model format version {version!r}; this motionkit ({__version__}) reads up to "
            f"{FORMAT_VERSION}. Upgrade motionkit."
        )
    name = header.get("family", LEGACY_FAMILY) if version >= 2 else LEGACY_FAMILY
    owner = family(name)  # an unknown family is reported before its configuration
    raw = header.get("config")
    try:
        config = owner.config_type.model_validate({**raw, "family": name} if isinstance(raw, dict) else raw)
    except ValidationError as exc:
        raise CheckpointError(f"{path} holds an invalid model configuration: {exc}") from exc
    return config


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The provenance record of a model folder (empty when absent)."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}).") from exc
    return data if isinstance(data, dict) else {}


def update_manifest(folder: str | Path, entries: Mapping[str, Any]) -> None:
    """Add or replace ``entries`` in the provenance record of a model folder (written atomically)."""
    record = {**read_manifest(folder), **entries}
    with atomic_path(Path(folder) / MANIFEST_FILE) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def is_non_commercial(license_entry: object) -> bool:
    """Whether a manifest's ``license`` entry (a dict as written by the converter, or a plain string) forbids
    commercial use."""
    if isinstance(license_entry, dict):
        if license_entry.get("commercial_use") is False:
            return True
        license_entry = license_entry.get("name", "")
    text = str(license_entry).upper()
    return "-NC" in text or "NON-COMMERCIAL" in text or "NONCOMMERCIAL" in text


def load_model(folder: str | Path, *, device: torch.device | str = "cpu") -> ModelParts:
    """Load every component of a model folder onto ``device`` (eval mode), through its family."""
    folder = Path(folder)
    config = read_config(folder)
    components = family(config.family).load(folder, config, device)
    space = components.renderer.space
    if (folder / AXES_FILE).is_file():
        space = space.load_axes(folder / AXES_FILE)
    return ModelParts(
        config=config,
        renderer=components.renderer,
        conditioner=components.conditioner,
        sampler=components.sampler,
        space=space.to(device),
        manifest=read_manifest(folder),
    )
