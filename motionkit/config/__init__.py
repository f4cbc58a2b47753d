"""Frozen pydantic configurations of every component, and named presets (``float-512``, ``tiny``)."""

from motionkit.config._base import FrozenConfig
from motionkit.config.conditioner import ConditionerConfig, MelEncoderConfig, StreamConfig
from motionkit.config.flow import FlowConfig, GuidanceConfig
from motionkit.config.model import PRESETS, ModelConfig, preset
from motionkit.config.renderer import RendererConfig

__all__ = [
    "PRESETS",
    "ConditionerConfig",
    "FlowConfig",
    "FrozenConfig",
    "GuidanceConfig",
    "MelEncoderConfig",
    "ModelConfig",
    "RendererConfig",
    "StreamConfig",
    "preset",
]
