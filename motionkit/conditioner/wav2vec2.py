"""Building, loading and saving the frozen Hugging Face ``Wav2Vec2Model`` backbone of the audio encoder."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from motionkit.conditioner.huggingface import (
    HF_METADATA,
    load_exact,
    read_folder,
    split_prefix,
    to_file_names,
    to_module_names,
)
from motionkit.errors import CheckpointError
from motionkit.io.files import atomic_path, make_folder
from motionkit.io.tensors import write_tensors

if TYPE_CHECKING:
    from transformers import Wav2Vec2Config, Wav2Vec2Model

AUDIO_REPO_ID = "facebook/wav2vec2-base-960h"
"""The wav2vec2 checkpoint FLOAT's audio encoder uses."""

BACKBONE_PREFIX = "wav2vec2."
"""Prefix of the backbone inside task models (``Wav2Vec2ForCTC`` files of ``facebook/wav2vec2-base-960h``)."""

ATTENTION = "sdpa"
"""Attention kernel: PyTorch's scaled-dot-product attention keeps memory linear in the clip length on CPU."""


def wav2vec2_config(config: Mapping[str, Any] | Wav2Vec2Config) -> Wav2Vec2Config:
    """A ``Wav2Vec2Config`` from a ``config.json`` dict (or a copy of a config), set up for inference."""
    from transformers import Wav2Vec2Config

    try:
        cfg = Wav2Vec2Config.from_dict(dict(config.to_dict() if isinstance(config, Wav2Vec2Config) else config))
    except Exception as exc:  # transformers raises various types on malformed configs
        raise CheckpointError(f"invalid wav2vec2 config.json ({exc}).") from exc
    cfg._attn_implementation = ATTENTION
    return cfg


def build_wav2vec2(
    config: Mapping[str, Any] | Wav2Vec2Config, state_dict: Mapping[str, torch.Tensor], what: str = "wav2vec2"
) -> Wav2Vec2Model:
    """A frozen, eval-mode ``Wav2Vec2Model`` with exactly the given weights.

    ``state_dict`` uses ``Wav2Vec2Model`` names; the weight-norm pair may be named either ``weight_g``/``weight_v``
    or ``parametrizations.weight.original0/1``. Every parameter must be present (see
    :func:`motionkit.conditioner.huggingface.load_exact`), so a name mismatch is an error, never a random tensor.
    """
    from transformers import Wav2Vec2Model

    model = Wav2Vec2Model(wav2vec2_config(config))
    load_exact(model, to_module_names(state_dict, model), what)
    return freeze(model)


ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


def freeze(model: ModuleT) -> ModuleT:
    """Eval mode and no gradients (FLOAT keeps its wav2vec2 models frozen)."""
    model.eval()
    model.requires_grad_(False)
    return model


def load_wav2vec2(folder: str | Path) -> Wav2Vec2Model:
    """Load the audio backbone from a Hugging Face folder (``Wav2Vec2Model`` or ``Wav2Vec2ForCTC`` layout), offline.

    Task heads in the file (``lm_head.*`` of a CTC model) are ignored; every backbone tensor must be present.
    """
    config, state = read_folder(folder, "wav2vec2 audio encoder", AUDIO_REPO_ID)
    if any(key.startswith(BACKBONE_PREFIX) for key in state):
        state, _heads = split_prefix(state, BACKBONE_PREFIX)
    return build_wav2vec2(config, state, f"wav2vec2 audio encoder in {folder}")


def save_wav2vec2(model: Wav2Vec2Model, folder: str | Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (file names ``weight_g``/``weight_v``) into ``folder``."""
    folder = Path(folder)
    make_folder(folder)
    write_tensors(folder / "model.safetensors", to_file_names(model.state_dict()), HF_METADATA)
    write_config(model.config.to_dict(), folder / "config.json")
    return folder


def write_config(config: Mapping[str, Any], path: Path) -> None:
    """Write a JSON config atomically (private attributes such as the attention kernel are dropped)."""
    public = {k: v for k, v in config.items() if not k.startswith("_") or k == "_name_or_path"}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(public, indent=2, sort_keys=True) + "\n")
