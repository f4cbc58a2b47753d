"""The whole-model configuration and its named presets."""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig
from motionkit.config.conditioner import ConditionerConfig, MelEncoderConfig
from motionkit.config.flow import FlowConfig
from motionkit.config.renderer import RendererConfig
from motionkit.errors import ConfigError


class ModelConfig(FrozenConfig):
    """Configuration of a full model: renderer, conditioner and flow sampler, consistent with each other."""

    name: str = Field("float-512", description="Preset or user-given model name.")
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


def _float_512() -> ModelConfig:
    return ModelConfig(name="float-512")


def _tiny() -> ModelConfig:
    """Small shapes for tests: 64 px, D = 32, M = 8, mel audio features."""
    return ModelConfig(
        name="tiny",
        renderer=RendererConfig(size=64, latent_dim=32, motion_dim=8, channel_base=512, max_channels=32),
        conditioner=ConditionerConfig(
            encoder="mel", audio_dim=32, mel=MelEncoderConfig(n_mels=32, channels=32, layers=2)
        ),
        flow=FlowConfig(
            motion_dim=32,
            audio_dim=32,
            hidden_dim=64,
            depth=2,
            num_heads=2,
            time_embed_dim=32,
            window=10,
            context=4,
        ),
    )


def _synthetic_demo() -> ModelConfig:
    """motionkit's demo model, trained on the synthetic world by motionkit.train.demo (see docs/demo-model.md)."""
    return ModelConfig(
        name="synthetic-demo",
        renderer=RendererConfig(size=64, latent_dim=64, motion_dim=10, channel_base=1024, max_channels=64),
        conditioner=ConditionerConfig(
            encoder="mel",
            audio_dim=64,
            mel=MelEncoderConfig(n_mels=40, channels=128, layers=3, kernel_size=4),
        ),
        flow=FlowConfig(
            motion_dim=64,
            audio_dim=64,
            hidden_dim=128,
            depth=3,
            num_heads=4,
            time_embed_dim=64,
            window=50,
            context=10,
            # Seams between windows: the model always sees its context (clips' first windows still teach the
            # all-zero one) and is scored on the step into each window, weighted as 20 steps inside one: at 10 one
            # held-out clip's seams read 1.56, at 20 all read <= 1.40 (docs/demo-model.md, "The seams").
            context_dropout=0.0,
            boundary_velocity=True,
            boundary_velocity_weight=20.0,
        ),
    )


PRESETS = {"float-512": _float_512, "tiny": _tiny, "synthetic-demo": _synthetic_demo}
"""Named presets: name -> factory. Components add their presets here."""


def preset(name: str) -> ModelConfig:
    """Return the named preset configuration."""
    try:
        return PRESETS[name]()
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(f"unknown preset {name!r}; known presets: {known}.") from None
