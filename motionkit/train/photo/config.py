"""Configuration of the photo-motion recipe: the synthetic voices it learns from, the training length, evaluation.

The architecture is the ``photo-motion`` model preset (:mod:`motionkit.families.photo`); the optimisation settings
are the ``flow-photo-motion`` training preset (:data:`motionkit.config.train.TRAIN_PRESETS`). Every size is a
parameter so that tests can run the recipe in miniature.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig
from motionkit.data.synthetic import PARAM_NAMES, SyntheticWorldConfig
from motionkit.families import preset
from motionkit.families.photo import PhotoMotionConfig
from motionkit.train.photo.evaluation import HEAD_CLIPS

MODEL_PRESET = "photo-motion"


class PhotoMotionRecipe(FrozenConfig):
    """The whole recipe of the photo motion model (defaults: the recipe measured in docs/photo-motion.md)."""

    model: PhotoMotionConfig = Field(
        default_factory=lambda: preset(MODEL_PRESET, PhotoMotionConfig), description="Architecture."
    )
    world: SyntheticWorldConfig = Field(
        default_factory=SyntheticWorldConfig,
        description="The synthetic world whose speech and true parameters are learnt (nothing is rendered).",
    )
    seed: int = Field(0, ge=0, description="Seed of the data, the initialisation and every training stream.")
    clips: int = Field(480, ge=2, description="Training clips; each has its own face, voice and motion.")
    clip_seconds: float = Field(8.0, gt=0, description="Length of each training clip (s).")
    start_clips: int = Field(
        7200,
        ge=0,
        description="Extra training clips one flow window long, each another face and voice (0: none): every one is "
        "a window whose context lies wholly before its clip's start, as the first window of a generated track's "
        "does, which the long clips offer once in 151 windows; with 7200 one window in 10 is one "
        "(docs/photo-motion.md, Head motion).",
    )
    steps: int | None = Field(None, gt=0, description="Flow steps (None: the training preset's).")
    batch_size: int | None = Field(None, gt=0, description="Flow batch (None: the training preset's).")
    scale_floor: float = Field(
        1e-3, gt=0, description="Smallest per-axis scale of the normalisation (a constant axis keeps its unit)."
    )
    evaluation_clips: int = Field(8, ge=0, description="Held-out clips the exported model is evaluated on (0: none).")
    evaluation_seconds: float = Field(8.0, gt=0, description="Length of each evaluation clip (s).")
    evaluation_head_clips: int = Field(
        HEAD_CLIPS, ge=1, description="Held-out clips the head statistics are measured on (one sample each)."
    )
    threads: int | None = Field(
        1,
        ge=1,
        description="torch CPU threads during the recipe (None: leave as is); fixed for reproducibility. One: the "
        "model is small, and on a 2-core machine shared with other work two threads spent ten times the CPU time "
        "per step waiting for each other (docs/photo-motion.md).",
    )

    @model_validator(mode="after")
    def _check(self) -> PhotoMotionRecipe:
        if self.model.axis_names != PARAM_NAMES:
            raise ValueError(
                f"the model's axes {self.model.axis_names} must be the synthetic world's parameters {PARAM_NAMES}, "
                "in that order"
            )
        if self.model.conditioner.sample_rate != self.world.sample_rate or self.model.conditioner.fps != self.world.fps:
            raise ValueError("the conditioner's sample rate and fps must be the world's")
        return self
