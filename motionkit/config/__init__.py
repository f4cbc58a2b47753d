"""Frozen pydantic configurations of every component (named model presets: :func:`motionkit.families.preset`)."""

from motionkit.config._base import FrozenConfig
from motionkit.config.conditioner import ConditionerConfig, MelEncoderConfig, StreamConfig
from motionkit.config.flow import FlowConfig, GuidanceConfig
from motionkit.config.live import LiveConfig
from motionkit.config.model import FamilyConfig, ModelConfig
from motionkit.config.renderer import RendererConfig

__all__ = [
    "ConditionerConfig",
    "FamilyConfig",
    "FlowConfig",
    "FrozenConfig",
    "GuidanceConfig",
    "LiveConfig",
    "MelEncoderConfig",
    "ModelConfig",
    "RendererConfig",
    "StreamConfig",
]
