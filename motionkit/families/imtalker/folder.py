"""The component files of an IMTalker model folder.

::

    folder/
      renderer.safetensors   IMTalkerRenderer.state_dict() (parameters and the BatchNorm statistics)
      motion.safetensors     IMTalkerMotion.state_dict() (fmt.*, pose/cam/gaze projections)
      conditioner/           Conditioner.save_pretrained(...) (audio projection, wav2vec2 folder)

The rest of the folder (``config.json``, ``axes.json``, ``manifest.json``) is :mod:`motionkit.model_folder`'s.
"""

from __future__ import annotations

from pathlib import Path

from motionkit.conditioner import Conditioner
from motionkit.errors import CheckpointError
from motionkit.families.base import ModelComponents, WeightFile, check_and_load, load_conditioner
from motionkit.families.imtalker.config import IMTalkerConfig
from motionkit.families.imtalker.generator import IMTalkerMotion
from motionkit.families.imtalker.renderer import IMTalkerRenderer
from motionkit.io.tensors import write_tensors

RENDERER_FILE = "renderer.safetensors"
MOTION_FILE = "motion.safetensors"
CONDITIONER_FOLDER = "conditioner"
FORMAT = "motionkit.Model"
FORMAT_VERSION = "2"

WEIGHT_FILES = {
    "renderer": WeightFile(RENDERER_FILE),
    "motion": WeightFile(MOTION_FILE),
    "conditioner": WeightFile(f"{CONDITIONER_FOLDER}/conditioner.safetensors"),
    "wav2vec2 (frozen)": WeightFile(f"{CONDITIONER_FOLDER}/wav2vec2/model.safetensors", required=False),
}
"""Component -> its weights file inside the model folder (``motionkit info`` counts their parameters)."""


def save_components(
    folder: Path,
    *,
    config: IMTalkerConfig,
    renderer: IMTalkerRenderer,
    conditioner: Conditioner,
    sampler: IMTalkerMotion,
) -> None:
    """Write the renderer, motion and conditioner files of a model folder of ``config``."""
    if not isinstance(renderer, IMTalkerRenderer) or not isinstance(sampler, IMTalkerMotion):
        raise CheckpointError(
            f"an IMTalker model folder holds an IMTalkerRenderer and an IMTalkerMotion, got "
            f"{type(renderer).__name__} and {type(sampler).__name__}."
        )
    if sampler.motion_config != config.motion or conditioner.config != config.conditioner:
        raise CheckpointError(
            "the components were built with configurations other than the model configuration being saved; save "
            "them with the IMTalkerConfig they were built from."
        )
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION}
    write_tensors(folder / RENDERER_FILE, renderer.state_dict(), metadata)
    write_tensors(folder / MOTION_FILE, sampler.state_dict(), metadata)
    conditioner.save_pretrained(folder / CONDITIONER_FOLDER)


def load_components(folder: Path, config: IMTalkerConfig) -> ModelComponents:
    """The components of a model folder written by :func:`save_components`, on the CPU."""
    renderer = IMTalkerRenderer()
    check_and_load(renderer, folder / RENDERER_FILE)
    motion = IMTalkerMotion(config.motion)
    check_and_load(motion, folder / MOTION_FILE)
    conditioner = load_conditioner(folder / CONDITIONER_FOLDER, config.conditioner)
    return ModelComponents(renderer=renderer, conditioner=conditioner, sampler=motion)
