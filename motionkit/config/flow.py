"""Configuration of the FlowSampler: the vector-field transformer and its sampling defaults."""

from __future__ import annotations

import math
from typing import Literal, get_args

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig

SolverName = Literal["euler", "midpoint", "heun", "rk4"]
"""Names of the ODE solvers; ``motionkit.flow.solvers.SOLVERS`` holds one class per name, in this order."""

SOLVER_NAMES: tuple[str, ...] = get_args(SolverName)

FirstContext = Literal["first_frame", "zeros"]
"""What the per-frame condition ``we`` of the first window's ``L'`` context frames is (see ``FlowConfig``)."""


class GuidanceConfig(FrozenConfig):
    """Classifier-free guidance scales (FLOAT: ``v = v_u + s_a (v_a - v_u) + s_e (v_ae - v_a)``)."""

    audio_scale: float = Field(2.0, allow_inf_nan=False, description="Audio guidance scale s_a.")
    emotion_scale: float = Field(1.0, allow_inf_nan=False, description="Emotion guidance scale s_e.")


class FlowConfig(FrozenConfig):
    """Flow-matching transformer (FMT). Defaults are the official ``float-512`` model."""

    motion_dim: int = Field(512, description="Motion latent dimension d.")
    audio_dim: int = Field(512, description="Audio condition dimension.")
    emotion_dim: int = Field(7, description="Emotion condition dimension.")
    hidden_dim: int = Field(1024, description="Transformer width h.")
    depth: int = Field(8, description="Number of transformer blocks.")
    num_heads: int = Field(8, description="Attention heads (head dim = hidden_dim / num_heads).")
    mlp_ratio: float = Field(4.0, description="MLP hidden width as a multiple of hidden_dim.")
    time_embed_dim: int = Field(256, description="Sinusoidal time-embedding size before its MLP.")
    window: int = Field(50, description="Frames L generated per window.")
    context: int = Field(10, description="Previous frames L' fed as context to each window.")
    attention_window: int = Field(
        2, description="Band half-width: frame i attends to j iff |i-j| <= this (>= context + window - 1: no mask)."
    )
    first_context: FirstContext = Field(
        "first_frame",
        description="The per-frame condition we of the first window's context frames: 'first_frame' repeats the "
        "clip's first frame (FLOAT: its emotion), 'zeros' (IMTalker: zero pose/cam/gaze before the clip).",
    )
    norm_eps: float = Field(1e-6, description="LayerNorm epsilon inside the blocks.")
    nfe: int = Field(10, description="Default length of the ODE time grid (FLOAT's Euler: nfe - 1 steps).")
    solver: SolverName = Field("euler", description="Default ODE solver.")
    guidance: GuidanceConfig = Field(default_factory=GuidanceConfig, description="Default guidance scales.")
    audio_dropout: float = Field(0.1, description="Training: probability of dropping the audio condition.")
    reference_dropout: float = Field(0.1, description="Training: probability of dropping the source motion.")
    emotion_dropout: float = Field(0.1, description="Training: probability of dropping the emotion.")
    context_dropout: float = Field(0.5, description="Training: probability of dropping each context input.")
    ot_loss_weight: float = Field(1.0, description="Training: weight lambda_OT of the flow-matching (OT) loss.")
    velocity_loss_weight: float = Field(
        1.0, description="Training: weight lambda_vel of the temporal-difference (velocity) loss."
    )
    boundary_velocity: bool = Field(
        False,
        description=(
            "Training: the velocity loss also scores the step from the last context frame into the window "
            "(samples whose context is kept and not clip-start padding); FLOAT: off. Smooths window seams."
        ),
    )
    boundary_velocity_weight: float = Field(
        1.0, ge=0.0, description="Training: weight of that boundary step relative to one step inside the window."
    )
    axis_loss_weights: tuple[float, ...] | None = Field(
        None,
        description=(
            "Training: relative weight of each motion dimension in both losses (motion_dim positive numbers, "
            "rescaled to mean 1); None: every dimension weighs 1 (FLOAT)."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> FlowConfig:
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim {self.hidden_dim} is not divisible by num_heads {self.num_heads}")
        if self.time_embed_dim % 2:
            raise ValueError("time_embed_dim must be even (cos and sin halves)")
        if self.window < 1 or self.context < 0 or self.attention_window < 0:
            raise ValueError("window must be >= 1, context and attention_window >= 0")
        if self.context > self.window:
            raise ValueError(f"context {self.context} must not exceed window {self.window} (it is cut from one window)")
        if self.nfe < 2:
            raise ValueError("nfe must be at least 2 (a time grid needs two points)")
        probabilities = (self.audio_dropout, self.reference_dropout, self.emotion_dropout, self.context_dropout)
        if not all(0.0 <= p <= 1.0 for p in probabilities):
            raise ValueError("dropout probabilities must lie in [0, 1]")
        weights = self.axis_loss_weights
        if weights is not None and (len(weights) != self.motion_dim or not all(0 < w < math.inf for w in weights)):
            raise ValueError(
                f"axis_loss_weights must be {self.motion_dim} positive numbers (one per motion dimension), "
                f"got {weights}"
            )
        return self

    @property
    def sequence_length(self) -> int:
        """Tokens per transformer call, ``L' + L`` (FLOAT: 60)."""
        return self.context + self.window

    @property
    def head_dim(self) -> int:
        return self.hidden_dim // self.num_heads
