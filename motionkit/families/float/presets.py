"""FLOAT's configurations: the official ``float-512`` and a tiny one of the same architecture for tests."""

from __future__ import annotations

from motionkit.config.conditioner import ConditionerConfig, MelEncoderConfig
from motionkit.config.flow import FlowConfig
from motionkit.config.model import ModelConfig
from motionkit.config.renderer import RendererConfig

FAMILY_NAME = "float"


def float_512() -> ModelConfig:
    """The official FLOAT model: 512 px, D = 512, M = 20, wav2vec2 audio features (the field defaults)."""
    return ModelConfig(name="float-512", family=FAMILY_NAME)


def tiny() -> ModelConfig:
    """Small shapes for tests: 64 px, D = 32, M = 8, mel audio features."""
    return ModelConfig(
        name="tiny",
        family=FAMILY_NAME,
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


PRESETS = {"float-512": float_512, "tiny": tiny}
