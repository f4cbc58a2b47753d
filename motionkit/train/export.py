"""Trained weights out of training checkpoints: the frozen auto-encoder of flow training, and model-folder export.

A training checkpoint (``<run>/checkpoints/step-XXXXXXXX``) holds ``<module>.safetensors`` and, for modules with an
EMA, ``<module>.ema.safetensors``; the EMA weights are the ones to use for inference and are preferred. Export
turns an ``ae`` run's renderer and a ``flow`` run's flow model and conditioner into a model folder
(:func:`motionkit.model_folder.save_model`) that ``load_model`` and the Pipeline read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from motionkit.conditioner import Conditioner
from motionkit.config.model import ModelConfig
from motionkit.config.renderer import RendererConfig
from motionkit.errors import CheckpointError, ConfigError
from motionkit.families import preset
from motionkit.families.float.folder import RENDERER_FILE
from motionkit.flow import FlowSampler
from motionkit.io.tensors import read_tensors
from motionkit.model_folder import read_config, save_model
from motionkit.renderer import Renderer
from motionkit.space import MotionSpace
from motionkit.train.checkpoint import CONFIG_FILE, STATE_FILE


def _read(path: Path) -> dict[str, torch.Tensor]:
    return read_tensors(path, what="checkpoint file", fix="the checkpoint is incomplete; use another one")


def checkpoint_weights(folder: str | Path, module: str, *, ema: bool = True) -> dict[str, torch.Tensor]:
    """The weights of ``module`` in a training checkpoint folder: its EMA (``<module>.ema.safetensors``) when
    ``ema`` and present, else the trained weights (``<module>.safetensors``)."""
    folder = Path(folder)
    if not (folder / STATE_FILE).is_file():
        raise CheckpointError(f"{folder} is not a training checkpoint folder (no {STATE_FILE}).")
    averaged = folder / f"{module}.ema.safetensors"
    plain = folder / f"{module}.safetensors"
    if ema and averaged.is_file():
        return _read(averaged)
    if plain.is_file():
        return _read(plain)
    raise CheckpointError(f"checkpoint {folder} holds no weights of {module!r}; is it a run of the right kind?")


def checkpoint_model(folder: str | Path) -> ModelConfig:
    """The model configuration a training checkpoint was trained with (from its ``config.json``)."""
    path = Path(folder) / CONFIG_FILE
    try:
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is missing or unreadable ({exc}); is {folder} a training checkpoint?") from exc
    model = config.get("model", "float-512")
    if isinstance(model, str):
        return preset(model, ModelConfig)
    try:
        return ModelConfig.model_validate(model)
    except ValidationError as exc:
        raise CheckpointError(f"{path} holds an invalid model configuration: {exc}") from exc


def load_weights(module: nn.Module, weights: Mapping[str, torch.Tensor], source: str) -> None:
    """``module.load_state_dict(weights)`` with a :class:`CheckpointError` naming ``source`` on any mismatch."""
    try:
        module.load_state_dict(dict(weights))
    except RuntimeError as exc:
        raise CheckpointError(f"the weights in {source} do not fit this model: {exc}") from exc


def load_renderer(path: str | Path, config: RendererConfig, *, ema: bool = True) -> Renderer:
    """A frozen renderer (eval mode, no gradients) from an ``ae`` training checkpoint or a model folder."""
    path = Path(path)
    renderer = Renderer(config)
    if (path / STATE_FILE).is_file():
        load_weights(renderer, checkpoint_weights(path, "renderer", ema=ema), str(path))
    elif (path / RENDERER_FILE).is_file():
        folder_config = read_config(path)
        if not isinstance(folder_config, ModelConfig) or folder_config.renderer != config:
            raise ConfigError(f"the model folder {path} holds a renderer configured differently from this model.")
        load_weights(renderer, _read(path / RENDERER_FILE), str(path / RENDERER_FILE))
    else:
        raise CheckpointError(
            f"{path} is neither a training checkpoint of an auto-encoder run (step-XXXXXXXX folder) nor a model "
            "folder; pass one of them as the auto-encoder."
        )
    return renderer.requires_grad_(False).eval()


def export_model(
    folder: str | Path,
    *,
    autoencoder: str | Path,
    flow: str | Path,
    conditioner: str | Path | None = None,
    space: MotionSpace | None = None,
    manifest: Mapping[str, Any] | None = None,
    ema: bool = True,
) -> Path:
    """Write a model folder from an ``ae`` checkpoint (the renderer) and a ``flow`` checkpoint (the flow model and
    the jointly trained conditioner), using EMA weights when ``ema``.

    Args:
        folder: the model folder to write (see :mod:`motionkit.model_folder`).
        autoencoder: checkpoint folder of the auto-encoder run.
        flow: checkpoint folder of the flow run; its model configuration is the exported one.
        conditioner: the conditioner folder the flow run started from (needed for wav2vec2 models, whose backbone
            is not in the checkpoint's trained weights when the audio encoder was frozen).
        space: a space with calibrated axes (its basis must be the renderer's) to store as ``axes.json``.
        manifest: provenance merged into ``manifest.json``.
    """
    model = checkpoint_model(flow)
    if checkpoint_model(autoencoder).renderer != model.renderer:
        raise ConfigError(f"the auto-encoder run {autoencoder} trained another renderer than the flow run {flow} used.")
    renderer = load_renderer(autoencoder, model.renderer, ema=ema)
    sampler = FlowSampler(model.flow)
    load_weights(sampler, checkpoint_weights(flow, "flow", ema=ema), str(flow))
    if conditioner is not None:
        audio = Conditioner.from_pretrained(conditioner)
    elif model.conditioner.encoder == "mel":
        audio = Conditioner(model.conditioner)
    else:
        raise ConfigError("exporting a wav2vec2 model needs the conditioner folder the flow run started from.")
    trained = Path(flow) / "conditioner.safetensors"
    if trained.is_file():
        load_weights(audio, checkpoint_weights(flow, "conditioner", ema=ema), str(flow))
    elif conditioner is None:
        raise CheckpointError(f"{flow} holds no conditioner weights; pass the conditioner folder the run used.")
    if space is not None and not torch.equal(space.basis.cpu(), renderer.space.basis):
        raise ConfigError("the calibrated space's basis is not the exported renderer's; calibrate it on this renderer.")
    return save_model(
        folder,
        config=model,
        renderer=renderer,
        conditioner=audio,
        sampler=sampler,
        space=space,
        manifest=manifest,
    )
