"""Configuration of the synthetic-demo recipe: data sizes, training lengths, calibration and evaluation.

The architecture is the ``synthetic-demo`` model preset (:func:`motionkit.config.preset`); the optimisation
settings of the two stages are the ``ae-synthetic-demo`` and ``flow-synthetic-demo`` training presets
(:data:`motionkit.config.train.TRAIN_PRESETS`). Every size here is a parameter so that tests can run the
recipe in miniature.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig
from motionkit.config.model import ModelConfig
from motionkit.data.synthetic import SyntheticWorldConfig, close_up
from motionkit.families import preset

DEMO_PRESET = "synthetic-demo"


class SyntheticDemoConfig(FrozenConfig):
    """The whole recipe of the demo model (defaults: the recipe measured in docs/demo-model.md)."""

    model: ModelConfig = Field(default_factory=lambda: preset(DEMO_PRESET, ModelConfig), description="Architecture.")
    world: SyntheticWorldConfig = Field(
        default_factory=close_up,
        description="The synthetic world of training, calibration and evaluation (its size is replaced by the "
        "renderer's; default: the close-up framing, motionkit.data.synthetic.close_up).",
    )
    seed: int = Field(0, ge=0, description="Seed of the data, the initialisation and every training stream.")
    identities: int = Field(160, ge=2, description="Training faces; each speaks one clip and shows random poses.")
    clip_seconds: float = Field(8.0, gt=0, description="Length of each training identity's talking clip (s).")
    pose_frames: int = Field(24, ge=0, description="Extra frames per identity in uniformly random poses (AE only).")
    portrait_source_rate: float = Field(
        0.5, ge=0, le=1, description="Share of auto-encoder pairs whose source is the identity's neutral portrait."
    )
    parameter_loss: float = Field(
        5.0, ge=0, description="Weight of the auxiliary loss on the known pose/mouth/eye parameters (0: off)."
    )
    parameter_forcing: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of auto-encoder pairs decoded from the known parameters (teacher forcing, "
        "AELossConfig.parameter_forcing; needs parameter_loss > 0).",
    )
    ae_steps: int | None = Field(None, gt=0, description="Auto-encoder steps (None: the training preset's).")
    ae_batch_size: int | None = Field(None, gt=0, description="Auto-encoder batch (None: the training preset's).")
    flow_steps: int | None = Field(None, gt=0, description="Flow steps (None: the training preset's).")
    flow_batch_size: int | None = Field(None, gt=0, description="Flow batch (None: the training preset's).")
    calibration_clips: int = Field(8, ge=1, description="Held-out clips whose frames calibrate the named axes.")
    calibration_seconds: float = Field(8.0, gt=0, description="Length of each calibration clip (s).")
    calibration_pose_frames: int = Field(
        48, ge=0, description="Frames in uniformly random poses added per calibration face (see calibrate_axes)."
    )
    evaluation_clips: int = Field(6, ge=0, description="Held-out clips the exported model is evaluated on (0: none).")
    evaluation_seconds: float = Field(8.0, gt=0, description="Length of each evaluation clip (s).")
    workers: int = Field(2, ge=1, description="Processes that render the synthetic data.")
    threads: int | None = Field(
        2,
        ge=1,
        description="torch CPU threads during the recipe (None: leave as is). A fixed count keeps the result "
        "reproducible on one machine; two threads make an auto-encoder step 1.6x faster than one on a 2-core CPU "
        "(see docs/demo-model.md).",
    )

    @model_validator(mode="after")
    def _check(self) -> SyntheticDemoConfig:
        if self.model.conditioner.encoder != "mel":
            raise ValueError("the synthetic demo trains the mel conditioner; set model.conditioner.encoder to 'mel'")
        return self
