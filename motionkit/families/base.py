"""What a model family is: the one place that knows a set of models' layouts, presets and how to load them.

A *family* is a set of models made of the same component classes: FLOAT (its official weights, converted, or its
architecture trained by motionkit) and synthetic-demo (FLOAT's architecture at a small size, trained by motionkit on
the synthetic world). A family's folder (``motionkit/families/<name>/``) holds everything specific to it: the
layout of its third-party checkpoints and their converter, its configuration presets, and the functions that write
and read the component files of its model folders. Components know only their own ``state_dict`` and
configuration; the model folder (:mod:`motionkit.model_folder`) records the family's name and asks the registry
(:mod:`motionkit.families`) for the family that loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from motionkit.conditioner import Conditioner
from motionkit.errors import CheckpointError
from motionkit.io.tensors import read_tensors
from motionkit.validation import check_keys, raise_for_keys

if TYPE_CHECKING:
    from motionkit.config.conditioner import ConditionerConfig
    from motionkit.config.model import FamilyConfig
    from motionkit.protocols import MotionGenerator, PortraitRenderer, SpeechConditioner

ComponentSaver = Callable[..., None]
"""``save(folder, config=..., renderer=..., conditioner=..., sampler=...)``: write a model's component files."""


@dataclass(frozen=True)
class WeightFile:
    """A safetensors file inside a family's model folder: its path relative to the folder, and whether every model
    of the family has it (optional files: backbones a model may be saved without)."""

    path: str
    required: bool = True


@dataclass(frozen=True)
class ModelComponents:
    """The three components of one model, as a family builds them (on the CPU, in eval mode)."""

    renderer: PortraitRenderer
    conditioner: SpeechConditioner
    sampler: MotionGenerator


@dataclass(frozen=True)
class ModelFamily:
    """A model family (see the module docstring).

    Attributes:
        name: the ``family`` recorded in its model folders' ``config.json``.
        summary: one line for ``motionkit info`` and the docs.
        config_type: the family's configuration class (its model folders' ``config.json`` holds one).
        presets: configuration name -> factory of a ``config_type`` with ``family == name``.
        save_components: writes the component files of a model folder (the model folder writes the rest).
        load_components: ``(folder, config) -> ModelComponents``, reading what ``save_components`` wrote.
        weight_files: component label -> the weights file it is stored in (``motionkit info`` reads their headers).
    """

    name: str
    summary: str
    config_type: type[FamilyConfig]
    presets: Mapping[str, Callable[[], FamilyConfig]]
    save_components: ComponentSaver
    load_components: Callable[[Path, Any], ModelComponents]
    weight_files: Mapping[str, WeightFile]

    def load(self, folder: Path, config: FamilyConfig, device: torch.device | str = "cpu") -> ModelComponents:
        """The components of the model folder ``folder`` (whose configuration is ``config``) on ``device``."""
        components = self.load_components(folder, config)
        for component in (components.renderer, components.conditioner, components.sampler):
            component.to(device).eval()
        return components


def check_and_load(module: torch.nn.Module, path: Path) -> None:
    """Load ``path`` into ``module`` after listing every missing, unexpected and mis-shaped name."""
    tensors: Mapping[str, torch.Tensor] = read_tensors(
        path, what="model weights", fix="the model folder is incomplete; convert or export it again"
    )
    expected = {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
    raise_for_keys(
        check_keys(tensors, expected),
        f"{path} does not match the model in config.json",
        "The folder mixes files of different models; convert or export it again.",
    )
    module.load_state_dict(dict(tensors), strict=True)


def load_conditioner(folder: Path, expected: ConditionerConfig) -> Conditioner:
    """The conditioner saved in ``folder`` (``Conditioner.save_pretrained``), refused when it is missing or configured
    differently from ``expected``, the model folder's ``config.json``."""
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is missing: the model folder is incomplete.")
    conditioner = Conditioner.from_pretrained(folder)
    if conditioner.config != expected:
        raise CheckpointError(
            f"{folder} holds a conditioner configured differently from the folder's config.json; the folder mixes "
            "files of different models. Convert or export it again."
        )
    return conditioner
