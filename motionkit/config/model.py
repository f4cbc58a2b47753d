"""Whole-model configurations: what every family's configuration has, and FLOAT's architecture's (the presets live
with the model families, :mod:`motionkit.families`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig
from motionkit.config.conditioner import ConditionerConfig
from motionkit.config.flow import FlowConfig
from motionkit.config.renderer import RendererConfig


class FamilyConfig(FrozenConfig):
    """What the configuration of a model of any family has: a name, the family, and the shape of its motion."""

    name: str = Field(description="Preset or user-given model name.")
    family: str = Field(description="Model family whose code writes and reads this model's files (motionkit.families).")

    @property
    def latent_dim(self) -> int:
        """Size ``D`` of the model's motion latents (a track is ``(B, T, D)``)."""
        raise NotImplementedError(f"{type(self).__name__} must define latent_dim")

    @property
    def motion_rank(self) -> int:
        """Number ``M`` of the motion space's basis directions (its coefficients per frame)."""
        raise NotImplementedError(f"{type(self).__name__} must define motion_rank")

    def summary(self) -> list[tuple[str, str]]:
        """``(part, description)`` lines for ``motionkit info``."""
        raise NotImplementedError(f"{type(self).__name__} must define summary")


class ModelConfig(FamilyConfig):
    """Configuration of a model of FLOAT's architecture: renderer, conditioner and flow sampler, consistent with each
    other."""

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

    @property
    def latent_dim(self) -> int:
        return self.renderer.latent_dim

    @property
    def motion_rank(self) -> int:
        return self.renderer.motion_dim

    def summary(self) -> list[tuple[str, str]]:
        r, c, f = self.renderer, self.conditioner, self.flow
        audio = (
            f"wav2vec2 audio encoder ({c.wav2vec2_layers} layers x {c.wav2vec2_hidden} -> {c.audio_dim})"
            if c.encoder == "wav2vec2"
            else f"log-mel audio encoder ({c.mel.n_mels} mels, {c.mel.layers} x {c.mel.channels} -> {c.audio_dim})"
        )
        return [
            ("renderer", f"{r.size} px, latent {r.latent_dim}, {r.motion_dim} motion directions"),
            (
                "flow",
                f"{f.depth} blocks x {f.hidden_dim}, {f.num_heads} heads, windows of {f.window} + {f.context} frames",
            ),
            (
                "sampling",
                f"nfe {f.nfe}, {f.solver}, guidance audio {f.guidance.audio_scale:g} / emotion "
                f"{f.guidance.emotion_scale:g}",
            ),
            ("conditioner", f"{audio}, {c.sample_rate} Hz audio, {c.fps:g} fps"),
        ]
