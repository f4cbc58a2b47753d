"""The built-in training tasks: the motion auto-encoder (``ae``) and the flow model (``flow``).

Importing :mod:`motionkit.train` registers them with :func:`motionkit.train.register_task`, so
``run_training("ae" | "flow", config)`` and ``python -m motionkit.train ae|flow --config CONFIG.json`` train them.
:func:`export_model` turns the checkpoints of both runs into a model folder.
"""

from motionkit.train.export import checkpoint_model, checkpoint_weights, export_model, load_renderer
from motionkit.train.run import register_task
from motionkit.train.tasks.autoencoder import AutoencoderTask, build_autoencoder_task
from motionkit.train.tasks.flow import (
    FlowFeatureExtractor,
    FlowPreview,
    FlowTask,
    audio_margin,
    build_flow_task,
    cached_audio_width,
)

register_task("ae", build_autoencoder_task)
register_task("flow", build_flow_task)

__all__ = [
    "AutoencoderTask",
    "FlowFeatureExtractor",
    "FlowPreview",
    "FlowTask",
    "audio_margin",
    "build_autoencoder_task",
    "build_flow_task",
    "cached_audio_width",
    "checkpoint_model",
    "checkpoint_weights",
    "export_model",
    "load_renderer",
]
