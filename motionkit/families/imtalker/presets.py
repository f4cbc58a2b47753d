"""IMTalker's configurations: the official generator and conditioner (``generator/options/base_options.py``
defaults, spec section 3.1) and test-sized ones of the same architecture."""

from __future__ import annotations

from motionkit.config.conditioner import ConditionerConfig
from motionkit.config.flow import FlowConfig, GuidanceConfig
from motionkit.families.imtalker.config import IMTalkerConfig
from motionkit.families.imtalker.generator import IMTalkerMotionConfig

FAMILY_NAME = "imtalker"
"""The ``family`` of IMTalker model folders."""

MOTION_DIM = 32
"""IMTalker's motion latent (the renderer's ``t``), its projected audio and its projected controls."""

AUDIO_SCALE = 2.0
"""Default audio guidance: app.py's slider default and the README's example (the CLI default of generate.py is 3)."""


def imtalker_flow() -> FlowConfig:
    """The official flow transformer: 8 blocks x 512, 8 heads, windows of 50 + 10 frames attended in full (no mask),
    Euler on 10 grid points, zero context before the first window."""
    window, context = 50, 10
    return FlowConfig(
        motion_dim=MOTION_DIM,
        audio_dim=MOTION_DIM,
        emotion_dim=MOTION_DIM,
        hidden_dim=512,
        depth=8,
        num_heads=8,
        mlp_ratio=4.0,
        time_embed_dim=256,
        window=window,
        context=context,
        attention_window=window + context - 1,
        first_context="zeros",
        guidance=GuidanceConfig(audio_scale=AUDIO_SCALE),
    )


def imtalker_motion() -> IMTalkerMotionConfig:
    """The official generator (without its audio encoder, which is the conditioner's)."""
    return IMTalkerMotionConfig(flow=imtalker_flow())


def imtalker_conditioner() -> ConditionerConfig:
    """wav2vec2-base's last hidden state (interpolated to 25 fps before the transformer) -> Linear 768 -> 32,
    LayerNorm, SiLU (``audio_projection``)."""
    return ConditionerConfig(audio_dim=MOTION_DIM, wav2vec2_features="last")


def tiny_motion() -> IMTalkerMotionConfig:
    """The generator's architecture at test size (2 blocks x 64, windows of 10 + 4 frames)."""
    window, context = 10, 4
    flow = imtalker_flow().model_copy(
        update={
            "hidden_dim": 64,
            "depth": 2,
            "num_heads": 2,
            "time_embed_dim": 32,
            "window": window,
            "context": context,
            "attention_window": window + context - 1,
        }
    )
    return IMTalkerMotionConfig(flow=FlowConfig.model_validate(flow.model_dump()))


def imtalker_512() -> IMTalkerConfig:
    """The official IMTalker model (renderer at 512 px, generator and wav2vec2-base conditioner as released)."""
    return IMTalkerConfig(name="imtalker-512", motion=imtalker_motion(), conditioner=imtalker_conditioner())


PRESETS = {"imtalker-512": imtalker_512}
