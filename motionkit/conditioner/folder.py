"""The conditioner's folder format: ``config.json`` manifest, trainable weights, backbone sub-folders.

::

    folder/
      config.json                 {"format": "motionkit.Conditioner", "format_version": 1,
                                   "config": <ConditionerConfig>, "backbones": {"wav2vec2": "wav2vec2" | null,
                                                                              "emotion": "emotion" | null}}
      conditioner.safetensors     the trainable parameters under Conditioner.state_dict() names
      wav2vec2/                   Hugging Face folder of the audio backbone (optional)
      emotion/                    Hugging Face folder of the emotion classifier (optional)
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from motionkit.config.conditioner import ConditionerConfig
from motionkit.errors import CheckpointError
from motionkit.io.files import atomic_path
from motionkit.io.tensors import read_tensors, write_tensors

FORMAT = "motionkit.Conditioner"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "conditioner.safetensors"
WAV2VEC2_FOLDER = "wav2vec2"
EMOTION_FOLDER = "emotion"

Backbones = dict[str, str | None]
"""Backbone name (``wav2vec2``, ``emotion``) -> sub-folder, or None when not stored."""


def write_weights(folder: Path, tensors: dict[str, torch.Tensor]) -> None:
    write_tensors(folder / WEIGHTS_FILE, tensors, {"format": FORMAT, "format_version": str(FORMAT_VERSION)})


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    return read_tensors(
        folder / WEIGHTS_FILE, what="conditioner weights", fix="the conditioner folder is incomplete, save it again"
    )


def write_manifest(folder: Path, config: ConditionerConfig, backbones: Backbones) -> None:
    """Write ``config.json`` (atomically; callers write it last so a half-written folder is not loadable)."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.model_dump(mode="json"),
        "backbones": backbones,
    }
    with atomic_path(folder / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")


def read_manifest(folder: Path) -> tuple[ConditionerConfig, Backbones]:
    """The configuration and backbone sub-folders of a conditioner folder."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{folder} is not a motionkit conditioner folder ({CONFIG_FILE} is missing); write one with "
            "Conditioner.save_pretrained or build it with Conditioner.from_float."
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not readable JSON ({exc}).") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path} does not describe a motionkit conditioner (format {FORMAT!r} expected).")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has conditioner format version {manifest['format_version']}; this motionkit reads up to "
            f"{FORMAT_VERSION}. Upgrade motionkit."
        )
    try:
        config = ConditionerConfig.model_validate(manifest["config"])
    except Exception as exc:  # pydantic ValidationError or a missing key
        raise CheckpointError(f"{path} has an invalid conditioner config ({exc}).") from exc
    backbones = manifest.get("backbones") or {}
    return config, {name: backbones.get(name) for name in (WAV2VEC2_FOLDER, EMOTION_FOLDER)}


def backbone_path(folder: Path, saved: str | None, override: str | Path | None) -> Path | None:
    """``override`` if given, else the stored sub-folder, else None."""
    if override is not None:
        return Path(override)
    return None if saved is None else folder / saved
