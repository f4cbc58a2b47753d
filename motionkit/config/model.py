"""The whole-model configuration of FLOAT's architecture (its presets live with the model families)."""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig
from motionkit.config.conditioner import ConditionerConfig
from motionkit.config.flow import FlowConfig
from motionkit.config.renderer import RendererConfig


class ModelConfig(FrozenConfig):
    """Configuration of a full model: renderer, conditioner and flow sampler, consistent with each other."""

    name: str = Field("float-512", description="Preset or user-given model name.")
    family: str = Field(
        "float",
        description="Model family whose code writes and reads this model's files (motionkit.families): 'float' "
        "(FLOAT's architecture, official or trained by motionkit) or 'synthetic-demo'.",
    )
    renderer: RendererConfig = Field(default_factory=RendererConfig)
    conditioner: ConditionerConfig = Field(default_factory=ConditionerConfig)
    flow: FlowConfig = Field(default_factory=FlowConfig)

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.flow.motion_dim != self.renderer.latent_dim:
            raise ValueError(
                f"flow.motion_dim {self.flow.motion_dim} != renderer.latent_dim {self.renderer.latent_dim}"
            )
        if self.flow.audio_dim != self.conditioner.audio_dim:
            raise ValueError(
                f"flow.audio_dim {self.flow.audio_dim} != conditioner.audio_dim {self.conditioner.audio_dim}"
            )
        if self.flow.emotion_dim != self.conditioner.emotion_dim:
            raise ValueError(
                f"flow.emotion_dim {self.flow.emotion_dim} != conditioner.emotion_dim {self.conditioner.emotion_dim}"
            )
        return self
