"""motionkit: audio-driven talking portraits in an orthogonal motion-latent space (after FLOAT).

Components (each usable alone): MotionSpace (basis, axes, edits), Conditioner (audio/emotion features),
FlowSampler (flow-matching motion generator), Renderer (motion auto-encoder), glued by Pipeline.
"""

from motionkit.runtime import set_passive_wait_policy

set_passive_wait_policy()  # before anything imports torch: idle OpenMP threads sleep (see motionkit.runtime)

from motionkit._version import __version__
from motionkit.conditioner import Conditioner
from motionkit.config import LiveConfig, ModelConfig
from motionkit.errors import MotionkitError
from motionkit.families import preset
from motionkit.flow import FlowSampler
from motionkit.pipeline import LiveFrame, LiveSession, Pipeline, Video
from motionkit.renderer import Renderer
from motionkit.space import Axis, EditProgram, MotionSpace
from motionkit.types import Conditions, MotionTrack, SourceFace

__all__ = [
    "Axis",
    "Conditioner",
    "Conditions",
    "EditProgram",
    "FlowSampler",
    "LiveConfig",
    "LiveFrame",
    "LiveSession",
    "ModelConfig",
    "MotionSpace",
    "MotionTrack",
    "MotionkitError",
    "Pipeline",
    "Renderer",
    "SourceFace",
    "Video",
    "__version__",
    "preset",
]
