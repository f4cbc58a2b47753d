"""The component files of a FLOAT-architecture model folder (the FLOAT and synthetic-demo families).

::

    folder/
      renderer.safetensors   Renderer.state_dict()
      flow.safetensors       FlowSampler.state_dict()
      conditioner/           Conditioner.save_pretrained(...) (its own config, weights and backbone folders)

The rest of the folder (``config.json``, ``axes.json``, ``manifest.json``) is :mod:`motionkit.model_folder`'s.
Loading checks every tensor name and shape against the configuration and reports all problems of a file in one
:class:`~motionkit.errors.CheckpointError`.
"""

from __future__ import annotations

from pathlib import Path

from motionkit.conditioner import Conditioner
from motionkit.config.model import ModelConfig
from motionkit.errors import CheckpointError, ConfigError
from motionkit.families.base import ModelComponents, WeightFile, check_and_load, load_conditioner
from motionkit.flow import FlowSampler
from motionkit.io.tensors import write_tensors
from motionkit.renderer import Renderer

RENDERER_FILE = "renderer.safetensors"
FLOW_FILE = "flow.safetensors"
CONDITIONER_FOLDER = "conditioner"

WEIGHT_FILES = {
    "renderer": WeightFile(RENDERER_FILE),
    "flow": WeightFile(FLOW_FILE),
    "conditioner": WeightFile(f"{CONDITIONER_FOLDER}/conditioner.safetensors"),
    "wav2vec2 (frozen)": WeightFile(f"{CONDITIONER_FOLDER}/wav2vec2/model.safetensors", required=False),
    "emotion classifier (frozen)": WeightFile(f"{CONDITIONER_FOLDER}/emotion/model.safetensors", required=False),
}
"""Component -> its weights file inside the model folder (``motionkit info`` counts their parameters)."""

FORMAT = "motionkit.Model"
FORMAT_VERSION = "2"
"""Recorded in each weights file's header (the model folder's own format and version)."""


def save_components(
    folder: Path, *, config: ModelConfig, renderer: Renderer, conditioner: Conditioner, sampler: FlowSampler
) -> None:
    """Write the renderer, flow and conditioner files of a model folder of ``config``."""
    if renderer.config != config.renderer or sampler.config != config.flow or conditioner.config != config.conditioner:
        raise CheckpointError(
            "the components were built with configurations other than the model configuration being saved; save "
            "them with the ModelConfig they were built from."
        )
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION}
    write_tensors(folder / RENDERER_FILE, renderer.state_dict(), metadata)
    write_tensors(folder / FLOW_FILE, sampler.state_dict(), metadata)
    conditioner.save_pretrained(folder / CONDITIONER_FOLDER)


def load_components(folder: Path, config: ModelConfig) -> ModelComponents:
    """The components of a model folder written by :func:`save_components`, on the CPU."""
    renderer = Renderer(config.renderer)
    check_and_load(renderer, folder / RENDERER_FILE)
    sampler = FlowSampler(config.flow)
    check_and_load(sampler, folder / FLOW_FILE)
    conditioner = load_conditioner(folder / CONDITIONER_FOLDER, config.conditioner)
    return ModelComponents(renderer=renderer, conditioner=conditioner, sampler=sampler)


def float_architecture(
    renderer: object, conditioner: object, sampler: object
) -> tuple[Renderer, Conditioner, FlowSampler]:
    """The components as FLOAT's classes, for code that needs more than the protocols (training, the demo
    evaluation); a :class:`~motionkit.errors.ConfigError` when they belong to another architecture."""
    if isinstance(renderer, Renderer) and isinstance(conditioner, Conditioner) and isinstance(sampler, FlowSampler):
        return renderer, conditioner, sampler
    found = ", ".join(type(part).__name__ for part in (renderer, conditioner, sampler))
    raise ConfigError(f"this needs a model of FLOAT's architecture (Renderer, Conditioner, FlowSampler); got {found}.")
