"""IMTalker's motion generator: its flow transformer and control projections under motionkit's windowed sampler.

For each chunk of :class:`~motionkit.types.Conditions` (audio already projected by the IMTalker conditioner, 32-d)
the generator builds the per-frame control condition the transformer adds to the audio::

    we = P_pose(pose) + P_cam(cam) + P_gaze(gaze)       P_* = SiLU(LayerNorm(Linear(.)))   (B, T, 32)

where a control that is not given contributes zeros (zeros *after* the projection, as in the official code; a track
that is too short must be zero-padded *before* it, see :func:`~motionkit.families.imtalker.controls.align_control`).
Sampling is motionkit's :class:`~motionkit.flow.sampler.WindowedSampling` with IMTalker's rules: windows of 50 + 10
context frames, the first window's context (motion, audio, controls) all zeros
(``FlowConfig.first_context = "zeros"``), the last window padded by repeating its last frame, and guidance on the
current audio only (:class:`~motionkit.families.imtalker.guidance.AudioGuidance`). Explicit noise (one ``(B, 50, 32)``
tensor per window) reproduces the official sampler, whose window ``k`` starts from the ``k``-th ``torch.randn``.

``state_dict()`` names are the official ``FMGenerator`` names without ``model.``: ``fmt.*``, ``pose_projection.*``,
``cam_projection.*``, ``gaze_projection.*`` (the audio encoder and ``audio_projection`` are the conditioner's).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from motionkit.conditioner.audio_encoder import projection_head
from motionkit.config._base import FrozenConfig
from motionkit.config.flow import FlowConfig, GuidanceConfig
from motionkit.errors import ConfigError, ShapeError
from motionkit.face import Face, FaceStackConfig
from motionkit.families.imtalker import face_controls
from motionkit.families.imtalker.controls import ControlInput, fit_controls
from motionkit.families.imtalker.guidance import AudioGuidance
from motionkit.families.imtalker.transformer import IMTalkerTransformer
from motionkit.flow.guidance import VectorField
from motionkit.flow.inputs import VectorFieldInputs
from motionkit.flow.sampler import WindowedSampling
from motionkit.types import CONTROL_NAMES, EMOTION_LABELS, Conditions

NEUTRAL_INDEX = EMOTION_LABELS.index("neutral")
"""The emotion class IMTalker's conditions carry (it has no emotion input; anything else is refused)."""


class IMTalkerMotionConfig(FrozenConfig):
    """IMTalker's motion generator: the flow transformer's sizes and sampling defaults, and the controls' widths."""

    flow: FlowConfig = Field(description="Transformer sizes, windows and sampling defaults (emotion_dim = controls).")
    pose_dim: int = Field(3, ge=1, description="Values per frame of the head pose (SMIRK pose_params).")
    cam_dim: int = Field(3, ge=1, description="Values per frame of the camera (SMIRK cam).")
    gaze_dim: int = Field(2, ge=1, description="Values per frame of the gaze (L2CS-Net pitch, yaw).")
    projection_eps: float = Field(1e-5, gt=0.0, description="LayerNorm epsilon of the control projections.")

    @model_validator(mode="after")
    def _check(self) -> IMTalkerMotionConfig:
        if self.flow.first_context != "zeros":
            raise ValueError("IMTalker's first window has zero context: set flow.first_context to 'zeros'")
        if self.flow.attention_window < self.flow.sequence_length - 1:
            raise ValueError(
                f"IMTalker attends over the whole window: flow.attention_window must be at least "
                f"{self.flow.sequence_length - 1}"
            )
        return self

    def control_dims(self) -> dict[str, int]:
        """Width of each control, in :data:`~motionkit.types.CONTROL_NAMES` order."""
        return {"pose": self.pose_dim, "cam": self.cam_dim, "gaze": self.gaze_dim}


class IMTalkerMotion(WindowedSampling, nn.Module):
    """IMTalker's ``FMGenerator`` without its audio encoder (a :class:`~motionkit.protocols.MotionGenerator`).

    ``sample`` / ``stream`` take the same arguments as :class:`~motionkit.flow.FlowSampler`'s; ``guidance`` is a
    :class:`~motionkit.config.GuidanceConfig` whose ``audio_scale`` is IMTalker's ``a_cfg_scale`` (its emotion scale
    must be 1). ``source_motion`` is the renderer's motion latent of the portrait (``ref_x``, ``t_r``).

    Args:
        config: the generator's configuration (default model: ``motionkit.families.imtalker.presets``).
    """

    def __init__(self, config: IMTalkerMotionConfig) -> None:
        super().__init__()
        self._init_sampling()
        self.motion_config = config
        self.config = config.flow
        self.fmt = IMTalkerTransformer(config.flow)
        width, eps = config.flow.audio_dim, config.projection_eps
        dims = config.control_dims()
        self.pose_projection = projection_head(dims["pose"], width, eps)
        self.cam_projection = projection_head(dims["cam"], width, eps)
        self.gaze_projection = projection_head(dims["gaze"], width, eps)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, inputs: VectorFieldInputs) -> torch.Tensor:
        """The unguided vector field (:meth:`IMTalkerTransformer.forward`)."""
        out: torch.Tensor = self.fmt(x, t, inputs)
        return out

    def parameter_like(self) -> torch.Tensor:
        return self.fmt.c_embedder.weight

    def guided_field(self, model: VectorField, guidance: GuidanceConfig) -> AudioGuidance:
        return AudioGuidance(model, guidance)

    def projection(self, name: str) -> nn.Module:
        """The projection of the control ``name`` (``pose``, ``cam`` or ``gaze``)."""
        projections: dict[str, nn.Module] = {
            "pose": self.pose_projection,
            "cam": self.cam_projection,
            "gaze": self.gaze_projection,
        }
        return projections[name]

    def fit_controls(self, conditions: Conditions, controls: Mapping[str, ControlInput | None]) -> Conditions:
        """``conditions`` with the given controls (name -> a constant ``(C,)`` or a track ``(L, C)`` with at least
        the clip's frames) set (:func:`~motionkit.families.imtalker.controls.fit_controls`)."""
        return fit_controls(conditions, controls, self.motion_config.control_dims())

    @property
    def measuring_stack(self) -> FaceStackConfig:
        """The face stack that measures the controls: the refined one (its irises give the gaze)."""
        return FaceStackConfig(refined=True)

    def measure_controls(self, face: Face, shape: tuple[int, int]) -> dict[str, np.ndarray]:
        """The pose and camera (SMIRK's units) and, for a face with irises, the gaze (L2CS-Net's) of a face found by
        the face stack in a frame of ``shape = (H, W)`` (:mod:`~motionkit.families.imtalker.face_controls`)."""
        return face_controls.measure_controls(face, shape)

    def project_controls(self, conditions: Conditions) -> torch.Tensor:
        """The control condition ``we`` ``(B, T, Da)`` of ``conditions``: the sum of the given controls' projections
        (zeros for none)."""
        like = self.parameter_like()
        total = like.new_zeros(conditions.batch, conditions.frames, self.config.audio_dim)
        dims = self.motion_config.control_dims()
        for name, values in conditions.controls().items():
            if values.shape[-1] != dims[name]:
                raise ShapeError(
                    f"Conditions.{name} has {values.shape[-1]} values per frame but IMTalker's {name} has "
                    f"{dims[name]}; give a (B, T, {dims[name]}) track."
                )
            total = total + self.projection(name)(values.to(device=like.device, dtype=like.dtype))
        return total

    def prepare_conditions(self, conditions: Conditions) -> Conditions:
        """The schedule's conditions: the projected audio, and the control condition in the ``emotion`` slot (the
        transformer reads it as ``we``); a non-neutral emotion is refused (IMTalker has no emotion input)."""
        emotion = conditions.emotion
        neutral = torch.zeros(emotion.shape[-1], dtype=emotion.dtype, device=emotion.device)
        if emotion.shape[-1] > NEUTRAL_INDEX:
            neutral[NEUTRAL_INDEX] = 1
        if not bool((emotion == neutral).all()):
            raise ConfigError(
                "IMTalker has no emotion input, but these conditions carry an emotion other than neutral; drop "
                f"emotion= (--emotion). IMTalker's controls are {', '.join(CONTROL_NAMES)}."
            )
        return Conditions(conditions.audio, self.project_controls(conditions), conditions.fps)
