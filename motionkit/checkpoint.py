"""The model folder: one checkpoint holding every component, readable without pickle.

::

    folder/
      config.json            {"format": "motionkit.Model", "format_version": 1, "config": <ModelConfig>}
      renderer.safetensors   Renderer.state_dict()
      flow.safetensors       FlowSampler.state_dict()
      conditioner/           Conditioner.save_pretrained(...) (its own config, weights and backbone folders)
      axes.json              optional: named, calibrated motion axes (MotionSpace.save_axes)
      manifest.json          provenance: motionkit version, sources with sha256, licence, notes

``config.json`` is written last, so a folder whose writing was interrupted is never mistaken for a model.
Loading checks every tensor name and shape against the configuration and reports all problems in one
:class:`~motionkit.errors.CheckpointError`.
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
from motionkit.conditioner import Conditioner
from motionkit.config.model import ModelConfig
from motionkit.errors import CheckpointError
from motionkit.flow import FlowSampler
from motionkit.io.files import atomic_path
from motionkit.io.tensors import read_tensors, write_tensors
from motionkit.renderer import Renderer
from motionkit.space import MotionSpace
from motionkit.validation import check_keys, raise_for_keys

FORMAT = "motionkit.Model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
RENDERER_FILE = "renderer.safetensors"
FLOW_FILE = "flow.safetensors"
CONDITIONER_FOLDER = "conditioner"
AXES_FILE = "axes.json"
MANIFEST_FILE = "manifest.json"


@dataclass
class ModelParts:
    """The components of a model folder, loaded. ``space`` is the renderer's basis with the folder's axes."""

    config: ModelConfig
    renderer: Renderer
    conditioner: Conditioner
    sampler: FlowSampler
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


def _write_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> None:
    write_tensors(path, tensors, {"format": FORMAT, "format_version": str(FORMAT_VERSION)})


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    return read_tensors(path, what="model weights", fix="the model folder is incomplete; convert or export it again")


def _check_and_load(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], path: Path) -> None:
    """Load ``tensors`` into ``module`` after listing every missing, unexpected and mis-shaped name."""
    expected = {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
    raise_for_keys(
        check_keys(tensors, expected),
        f"{path} does not match the model in config.json",
        "The folder mixes files of different models; convert or export it again.",
    )
    module.load_state_dict(dict(tensors), strict=True)


def save_model(
    folder: str | Path,
    *,
    config: ModelConfig,
    renderer: Renderer,
    conditioner: Conditioner,
    sampler: FlowSampler,
    space: MotionSpace | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model folder (see the module docstring).

    Args:
        space: a space with named axes to store in ``axes.json`` (its basis must be the renderer's).
        manifest: provenance entries merged into ``manifest.json`` (``sources``, ``license``, ``notes``, ...);
            ``motionkit_version`` and ``created`` are added.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_tensors(folder / RENDERER_FILE, renderer.state_dict())
    _write_tensors(folder / FLOW_FILE, sampler.state_dict())
    conditioner.save_pretrained(folder / CONDITIONER_FOLDER)
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
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": config.model_dump(mode="json")}
    with atomic_path(folder / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(header, indent=2) + "\n", encoding="utf-8")
    return folder


def read_config(folder: str | Path) -> ModelConfig:
    """The :class:`ModelConfig` of a model folder, validated (no weights are read)."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise CheckpointError(
            f"model folder {folder} does not exist; pass the folder written by "
            f"`motionkit convert-float` or by training."
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
            f"folder itself (it holds renderer.safetensors, flow.safetensors and conditioner/)."
        )
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has model format version {version!r}; this motionkit ({__version__}) reads up to "
            f"{FORMAT_VERSION}. Upgrade motionkit."
        )
    try:
        return ModelConfig.model_validate(header.get("config"))
    except ValidationError as exc:
        raise CheckpointError(f"{path} holds an invalid model configuration: {exc}") from exc


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


def load_model(folder: str | Path, *, device: torch.device | str = "cpu") -> ModelParts:
    """Load every component of a model folder onto ``device`` (eval mode)."""
    folder = Path(folder)
    config = read_config(folder)
    renderer = Renderer(config.renderer)
    _check_and_load(renderer, _read_tensors(folder / RENDERER_FILE), folder / RENDERER_FILE)
    sampler = FlowSampler(config.flow)
    _check_and_load(sampler, _read_tensors(folder / FLOW_FILE), folder / FLOW_FILE)
    conditioner_folder = folder / CONDITIONER_FOLDER
    if not conditioner_folder.is_dir():
        raise CheckpointError(f"{conditioner_folder} is missing: the model folder is incomplete.")
    conditioner = Conditioner.from_pretrained(conditioner_folder)
    if conditioner.config != config.conditioner:
        raise CheckpointError(
            f"{conditioner_folder} holds a conditioner configured differently from {folder / CONFIG_FILE}; the "
            f"folder mixes files of different models. Convert or export it again."
        )
    space = renderer.space
    if (folder / AXES_FILE).is_file():
        space = space.load_axes(folder / AXES_FILE)
    parts = ModelParts(config, renderer, conditioner, sampler, space, read_manifest(folder))
    for module in (parts.renderer, parts.conditioner, parts.sampler):
        module.to(device).eval()
    parts.space = parts.space.to(device)
    return parts
