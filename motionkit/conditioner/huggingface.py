"""Offline loading and saving of wav2vec2 weights, with explicit names so no tensor is ever silently re-initialised.

A weights folder is a Hugging Face model folder: ``config.json`` plus ``model.safetensors`` (or sharded
``model.safetensors.index.json``, or ``pytorch_model.bin`` read with ``torch.load(weights_only=True)``). Nothing is
ever downloaded: the folder is read directly, without the Hugging Face Hub client.

The positional convolution of wav2vec2 is weight-normalised. Checkpoint files name its two tensors ``weight_g`` /
``weight_v``; torch >= 2.1 modules name them ``parametrizations.weight.original0`` / ``original1``. Loading with the
wrong name leaves a random tensor in place without an error in some transformers/torch combinations (FLOAT's own
environment on newer torch does exactly that), so every load here maps the names explicitly and then requires
every parameter of the module to have been provided.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from motionkit.errors import CheckpointError
from motionkit.io.tensors import read_pickled, read_tensors
from motionkit.validation import check_keys, raise_for_keys

WEIGHT_NORM_NAMES = {
    "weight_g": "parametrizations.weight.original0",
    "weight_v": "parametrizations.weight.original1",
}
"""Checkpoint-file name -> torch parametrization name of the weight-norm pair."""

HF_METADATA = {"format": "pt"}
"""Header metadata of the safetensors files in Hugging Face folders (what transformers writes and expects)."""

UNUSED_AT_INFERENCE = ("masked_spec_embed",)
"""Parameters a folder may lack: only used for SpecAugment masking in training."""

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def missing_folder_message(folder: Path, role: str, repo_id: str, problem: str) -> str:
    """The message of a missing or incomplete weights folder: what is needed and how to get it offline."""
    return (
        f"{role} weights: {problem}. The folder must hold config.json and the weights as model.safetensors "
        f"(or pytorch_model.bin). motionkit never downloads anything: on a machine with network, fetch them with "
        f"`huggingface-cli download {repo_id} --local-dir <folder>` (or `git clone https://huggingface.co/{repo_id}`), "
        f"copy the folder here and pass its path (FLOAT's setup keeps it in ./checkpoints/{repo_id.split('/')[-1]}). "
        f"Both file layouts load as they are, no conversion is needed; Conditioner.save_pretrained then stores a "
        f"self-contained copy. Folder given: {folder}"
    )


def read_folder(folder: str | Path, role: str, repo_id: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(config dict, state dict)`` of a Hugging Face model folder, read offline.

    Raises:
        CheckpointError: the folder, its ``config.json`` or its weights are missing or unreadable; the message
            names the files needed and how to obtain them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(missing_folder_message(folder, role, repo_id, "the folder does not exist"))
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(missing_folder_message(folder, role, repo_id, "config.json is missing"))
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{config_path} is not readable JSON ({exc}); restore the file.") from exc
    weights = next((folder / name for name in WEIGHT_FILES if (folder / name).is_file()), None)
    if weights is None:
        raise CheckpointError(missing_folder_message(folder, role, repo_id, "no weights file was found"))
    return config, _read_weights(weights)


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if path.name.endswith(".index.json"):
        try:
            weight_map: dict[str, str] = json.loads(path.read_text())["weight_map"]
        except (OSError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{path} is not a valid shard index ({exc}).") from exc
        state: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            shard_path = path.parent / shard
            if not shard_path.is_file():
                raise CheckpointError(f"shard {shard_path} listed in {path.name} is missing; copy the whole folder.")
            state.update(_read_weights(shard_path))
        return state
    if path.suffix == ".safetensors":
        return read_tensors(path, what="backbone weights", fix="the file may be truncated, copy it again")
    loaded = read_pickled(path, what="PyTorch weights", fix="copy the folder again")
    if not isinstance(loaded, Mapping):
        raise CheckpointError(f"{path} does not hold a state dict (found {type(loaded).__name__}).")
    return {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}


def to_module_names(state: Mapping[str, torch.Tensor], module: nn.Module) -> dict[str, torch.Tensor]:
    """Rename the weight-norm pair between file names and the names ``module`` uses, in whichever direction."""
    live = {name for name, _ in module.named_parameters()}
    renamed = {}
    for key, value in state.items():
        renamed[_live_name(key, live)] = value
    return renamed


def _live_name(key: str, live: set[str]) -> str:
    if key in live:
        return key
    for file_name, param_name in WEIGHT_NORM_NAMES.items():
        for old, new in ((file_name, param_name), (param_name, file_name)):
            if key.endswith("." + old):
                candidate = key[: -len(old)] + new
                if candidate in live:
                    return candidate
    return key


def to_file_names(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Module names -> checkpoint-file names (``weight_g`` / ``weight_v``), the layout every version reads."""
    renamed = {}
    for key, value in state.items():
        for file_name, param_name in WEIGHT_NORM_NAMES.items():
            if key.endswith("." + param_name):
                key = key[: -len(param_name)] + file_name
        renamed[key] = value.detach().cpu().contiguous()
    return renamed


def load_exact(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> None:
    """Load ``state`` into ``module`` requiring every parameter and buffer to be provided with the right shape.

    ``state`` uses the module's own names (see :func:`to_module_names`). Keys the module does not have are an error
    too, since they mean the file and the architecture disagree. Parameters listed in
    :data:`UNUSED_AT_INFERENCE` may be absent; they are then set to zero.

    Raises:
        CheckpointError: with the missing / unexpected / mis-shaped names.
    """
    expected = dict(module.state_dict(keep_vars=True))
    provided = dict(state)
    for name in list(expected):
        if name not in provided and name.rsplit(".", 1)[-1] in UNUSED_AT_INFERENCE:
            provided[name] = torch.zeros(expected[name].shape, dtype=expected[name].dtype)
    raise_for_keys(
        check_keys(provided, {name: tuple(tensor.shape) for name, tensor in expected.items()}),
        f"the weights of the {what} do not match the architecture in config.json",
        "Check that config.json belongs to these weights.",
    )
    module.load_state_dict(provided, strict=True)


def split_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """``({key without prefix: tensor}, [keys outside the prefix])``."""
    inside = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    outside = [k for k in state if not k.startswith(prefix)]
    return inside, outside
