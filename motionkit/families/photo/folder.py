"""The component files of a photo-family model folder: the motion model only (its renderer has no weights).

::

    folder/
      motion.safetensors   ParameterMotion.state_dict(): the flow sampler (flow.*) and the normalisation (mean, scale)
      conditioner/         Conditioner.save_pretrained(...)

The renderer, :class:`~motionkit.families.photo.renderer.PhotoRenderer` (the face stack finding the face, the geometric
renderer drawing the parameters), has no weights: loading a folder builds it and saving stores nothing of it.
"""

from __future__ import annotations

from pathlib import Path

from motionkit.conditioner import Conditioner
from motionkit.errors import CheckpointError
from motionkit.families.base import ModelComponents, WeightFile, check_and_load, load_conditioner
from motionkit.families.photo.config import PhotoMotionConfig
from motionkit.families.photo.motion import ParameterMotion
from motionkit.families.photo.renderer import PhotoRenderer
from motionkit.io.tensors import write_tensors

MOTION_FILE = "motion.safetensors"
CONDITIONER_FOLDER = "conditioner"
FORMAT = "motionkit.Model"
FORMAT_VERSION = "2"

WEIGHT_FILES = {
    "motion": WeightFile(MOTION_FILE),
    "conditioner": WeightFile(f"{CONDITIONER_FOLDER}/conditioner.safetensors"),
}
"""Component -> its weights file inside the model folder (``motionkit info`` counts their parameters)."""


def save_components(
    folder: Path,
    *,
    config: PhotoMotionConfig,
    renderer: PhotoRenderer | None,
    conditioner: Conditioner,
    sampler: ParameterMotion,
) -> None:
    """Write the motion and conditioner files of a model folder of ``config`` (the renderer, ``None`` or a
    :class:`PhotoRenderer`, stores nothing)."""
    if renderer is not None and not isinstance(renderer, PhotoRenderer):
        raise CheckpointError(
            f"a photo-family model folder draws with the geometric photo renderer, not a {type(renderer).__name__}; "
            "pass renderer=None."
        )
    if sampler.config != config or conditioner.config != config.conditioner:
        raise CheckpointError(
            "the components were built with configurations other than the model configuration being saved; save "
            "them with the PhotoMotionConfig they were built from."
        )
    write_tensors(folder / MOTION_FILE, sampler.state_dict(), {"format": FORMAT, "format_version": FORMAT_VERSION})
    conditioner.save_pretrained(folder / CONDITIONER_FOLDER)


def load_components(folder: Path, config: PhotoMotionConfig) -> ModelComponents:
    """The components of a folder written by :func:`save_components`, on the CPU, with a new :class:`PhotoRenderer`
    (its space is the parameter vector's, :func:`parameter_space`)."""
    motion = ParameterMotion(config)
    check_and_load(motion, folder / MOTION_FILE)
    conditioner = load_conditioner(folder / CONDITIONER_FOLDER, config.conditioner)
    return ModelComponents(renderer=PhotoRenderer(config), conditioner=conditioner, sampler=motion)
