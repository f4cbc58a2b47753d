"""The synthetic-demo configuration: FLOAT's architecture at 64 px, trained by motionkit on the synthetic world."""

from __future__ import annotations

from motionkit.config.conditioner import ConditionerConfig, MelEncoderConfig
from motionkit.config.flow import FlowConfig
from motionkit.config.model import ModelConfig
from motionkit.config.renderer import RendererConfig

FAMILY_NAME = "synthetic-demo"


def synthetic_demo() -> ModelConfig:
    """motionkit's demo model, trained on the synthetic world by motionkit.train.demo (see docs/demo-model.md)."""
    return ModelConfig(
        name="synthetic-demo",
        family=FAMILY_NAME,
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


PRESETS = {"synthetic-demo": synthetic_demo}
