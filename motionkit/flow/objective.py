"""Training objective of the flow transformer: FLOAT's conditional flow matching with condition dropout.

FLOAT released no training code; this follows its training-mode forward (spec section 14) and paper. For a batch of
windows with clean motion ``x1`` (``B, L, D``) and conditions:

1. **Condition dropout** (per sample, independently, to zero): audio ``wa`` of the current frames, source motion
   ``wr`` and emotion ``we`` with probabilities ``config.audio_dropout``, ``reference_dropout``, ``emotion_dropout``
   (FLOAT: 0.1 each; this teaches the unconditional branches used by guidance), and the context inputs ``prev_x``
   and ``prev_wa`` each with ``config.context_dropout`` (FLOAT: 0.5).
2. **OT path**: ``t ~ p(t)`` per sample (default ``U(0, 1)``; pluggable), ``x0 ~ N(0, I)``,
   ``x_t = (1 - t) x0 + t x1``, target velocity ``u = x1 - x0``; prediction ``v = model(x_t, t, ...)[:, L':]``.
3. **Losses** (means over every element)::

       L_OT  = mean_{b,i,d} w_d (v[b,i,d] - u[b,i,d])^2                                   i = 0 .. L-1
       L_vel = mean_{b,i,d} w_d ((v[b,i+1,d] - v[b,i,d]) - (u[b,i+1,d] - u[b,i,d]))^2     i = 0 .. L-2
       L     = lambda_OT L_OT + lambda_vel L_vel       (config.ot_loss_weight, velocity_loss_weight; FLOAT: 1, 1)

   ``w_d`` is 1 for every dimension (FLOAT) unless ``config.axis_loss_weights`` gives one weight per dimension
   (rescaled to mean 1, :func:`axis_weights`): a model over named axes of very different smoothness can ask for the
   precision of some of them.

   ``L_vel`` matches the first-order temporal differences (frame-to-frame change, the motion's "velocity") of the
   predicted and target fields over the ``L`` current frames only (context outputs are discarded, as in
   sampling). Since the one-step data estimate is ``x1_hat = x_t + (1 - t) v``, it equals
   ``mean((Delta x1_hat - Delta x1)^2) / (1 - t)^2``: it penalises temporal jitter of the predicted motion.

   With ``config.boundary_velocity`` (motionkit's option, off in FLOAT) ``L_vel`` also scores the step from the
   last context frame into the window, for the samples whose ``prev_x`` is kept and real (``context_valid``: not
   the zero padding before a clip's start). The context frame is clean
   (``x1_hat = x1 = prev_x[-1]`` there), so that step's error is ``x1_hat[0] - x1[0] = (1 - t) (v[0] - u[0])`` and
   its term is ``w_d (v[b,0,d] - u[b,0,d])^2``, averaged with the others::

       L_vel = (sum_{b,i,d} w_d (Delta v - Delta u)^2 + w sum_{b kept, d} w_d (v[b,0,d] - u[b,0,d])^2)
               / (B (L - 1) D + w n_kept D)            w = config.boundary_velocity_weight

   Without it a window's first frame is held to its context only through the OT loss, and sampled windows can
   jump where they meet (the "seam").

Random draws, in order, from ``generator`` (on the generator's device, then moved to ``x1``'s device): ``t`` via the
time sampler, ``x0`` (``B, L, D``), then the dropout uniforms (``B, 5``) in the order audio, reference, emotion,
prev_x, prev_wa. A seeded generator makes the loss reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from motionkit.config.flow import FlowConfig
from motionkit.errors import ShapeError
from motionkit.flow.guidance import VectorField
from motionkit.flow.inputs import VectorFieldInputs
from motionkit.validation import check_tensor

TimeSampler = Callable[[int, "torch.Generator | None", torch.device], torch.Tensor]
"""``time_sampler(batch, generator, device) -> t (batch,)`` in ``[0, 1]``."""


def uniform_time(batch: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """``t ~ U(0, 1)`` per sample, shape ``(batch,)`` (FLOAT's time distribution)."""
    return torch.rand(batch, generator=generator, device=device)


class LossOutput(NamedTuple):
    """``total = lambda_OT * ot + lambda_vel * vel`` (scalars; ``total`` carries the graph)."""

    total: torch.Tensor
    ot: torch.Tensor
    vel: torch.Tensor


@dataclass(frozen=True)
class ConditionDropout:
    """Per-sample dropout decisions, each a ``(B,)`` bool tensor, True = that input is replaced by zeros."""

    audio: torch.Tensor
    reference: torch.Tensor
    emotion: torch.Tensor
    prev_x: torch.Tensor
    prev_wa: torch.Tensor

    @classmethod
    def draw(
        cls,
        batch: int,
        config: FlowConfig,
        generator: torch.Generator | None = None,
        device: torch.device | None = None,
    ) -> ConditionDropout:
        """Independent Bernoulli decisions with the probabilities of ``config`` (one ``(B, 5)`` uniform draw)."""
        draw_device = generator.device if generator is not None else device
        u = torch.rand(batch, 5, generator=generator, device=draw_device).to(device)
        p = torch.tensor(
            [
                config.audio_dropout,
                config.reference_dropout,
                config.emotion_dropout,
                config.context_dropout,
                config.context_dropout,
            ],
            device=u.device,
        )
        drop = u < p
        return cls(drop[:, 0], drop[:, 1], drop[:, 2], drop[:, 3], drop[:, 4])

    @staticmethod
    def _zero(drop: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        mask = drop.reshape(-1, *([1] * (value.dim() - 1)))
        return torch.where(mask, torch.zeros_like(value), value)

    def apply(self, inputs: VectorFieldInputs) -> VectorFieldInputs:
        """New inputs with the dropped samples zeroed (``wa``, ``wr``, ``we``, ``prev_x``, ``prev_wa``); conditions
        without a dropout pass through; ``inputs`` is not modified."""
        return inputs.replace(
            wa=self._zero(self.audio, inputs.wa),
            wr=self._zero(self.reference, inputs.wr),
            we=self._zero(self.emotion, inputs.we),
            prev_x=self._zero(self.prev_x, inputs.prev_x),
            prev_wa=self._zero(self.prev_wa, inputs.prev_wa),
        )


def flow_matching_loss(
    model: VectorField,
    x1: torch.Tensor,
    inputs: VectorFieldInputs,
    *,
    config: FlowConfig | None = None,
    generator: torch.Generator | None = None,
    time_sampler: TimeSampler = uniform_time,
    context_valid: torch.Tensor | None = None,
) -> LossOutput:
    """FLOAT's training loss for one batch of windows (see the module docstring for the exact definition).

    Args:
        model: the flow transformer (or any model with its call signature), in training mode.
        x1: ``(B, L, D)`` clean motion latents of the current frames.
        inputs: the conditions; ``prev_x`` is the clean motion of the preceding frames, ``prev_wa`` their audio.
        config: dropout probabilities and loss weights; default the model's ``config`` (also through a
            ``DistributedDataParallel`` wrapper's ``module``), else ``FlowConfig()``.
        generator: RNG for ``t``, ``x0`` and the dropout decisions.
        time_sampler: distribution of ``t``; default ``U(0, 1)``.
        context_valid: ``(B, L')`` bool, False for context frames before the clip start (zero padding); the boundary
            term of ``config.boundary_velocity`` skips samples whose last context frame is padding. Default: all
            valid.
    Returns:
        :class:`LossOutput` ``(total, ot, vel)``.
    """
    cfg = config if config is not None else _model_config(model)
    check_tensor("x1", x1, ndim=3, hint="Expected (B, L, D) clean motion latents.")
    B, L, D = x1.shape
    if L < 2:
        raise ShapeError(f"x1 needs at least 2 frames for the temporal-difference loss, got {L}.")
    draw_device = generator.device if generator is not None else x1.device
    t = time_sampler(B, generator, draw_device).to(device=x1.device, dtype=x1.dtype)
    check_tensor("t", t, ndim=1, hint=f"The time sampler must return ({B},) times.")
    if t.shape[0] != B:
        raise ShapeError(f"the time sampler returned {t.shape[0]} times for a batch of {B}.")
    x0 = torch.randn(B, L, D, generator=generator, device=draw_device).to(device=x1.device, dtype=x1.dtype)
    dropout = ConditionDropout.draw(B, cfg, generator, x1.device)
    dropped = dropout.apply(inputs)

    t_b = t[:, None, None]
    x_t = (1 - t_b) * x0 + t_b * x1
    target = x1 - x0
    prediction = model(x_t, t, dropped)[:, -L:]
    weights = axis_weights(cfg, D, prediction)
    ot = ((prediction - target).pow(2) * weights).mean()
    step_errors = (prediction.diff(dim=1) - target.diff(dim=1)).pow(2) * weights
    if cfg.boundary_velocity and inputs.prev_x.shape[1] > 0:
        kept_mask = ~dropout.prev_x if context_valid is None else ~dropout.prev_x & context_valid[:, -1].to(x1.device)
        kept = kept_mask.to(prediction.dtype)
        boundary = (prediction[:, 0] - target[:, 0]).pow(2) * weights * kept[:, None]
        w = cfg.boundary_velocity_weight
        vel = (step_errors.sum() + w * boundary.sum()) / (step_errors.numel() + w * kept.sum() * D)
    else:
        vel = step_errors.mean()
    total = cfg.ot_loss_weight * ot + cfg.velocity_loss_weight * vel
    return LossOutput(total, ot, vel)


def axis_weights(config: FlowConfig, dim: int, like: torch.Tensor) -> torch.Tensor:
    """``(D,)`` the loss weight ``w_d`` of each motion dimension: ``config.axis_loss_weights`` over their mean (so the
    losses keep their scale), or ones."""
    if config.axis_loss_weights is None:
        return torch.ones(dim, dtype=like.dtype, device=like.device)
    if len(config.axis_loss_weights) != dim:
        raise ShapeError(f"axis_loss_weights has {len(config.axis_loss_weights)} entries for {dim} motion dimensions.")
    weights = torch.tensor(config.axis_loss_weights, dtype=like.dtype, device=like.device)
    return weights / weights.mean()


def _model_config(model: object) -> FlowConfig:
    for candidate in (model, getattr(model, "module", None)):
        config = getattr(candidate, "config", None)
        if isinstance(config, FlowConfig):
            return config
    return FlowConfig()
