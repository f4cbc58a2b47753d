"""Classifier-free guidance with separate audio and emotion scales, as a wrapper around any vector-field model.

FLOAT's guided field combines three conditionings of the same model::

    v = v_u + s_a (v_a - v_u) + s_e (v_ae - v_a)

    v_u  "uncond":     audio wa = 0, emotion we = 0
    v_ae "all-cond":   wa, we
    v_a  "audio-only": wa, we = 0

Only the members named in :data:`NULLED` are zeroed; the source motion ``wr``, the context (``prev_x``, ``prev_wa``)
and any other condition of :class:`~motionkit.flow.inputs.VectorFieldInputs` are never nulled. The branches are
evaluated in one batched forward, batch order ``[uncond, all-cond, audio-only]``. Written as ``v = c_u v_u + c_a v_a
+ c_ae v_ae`` the weights are ``c_u = 1 - s_a``, ``c_a = s_a - s_e``, ``c_ae = s_e`` (they sum to 1), so a branch
whose weight is 0 is skipped: one pass when ``s_a = s_e = 1`` (``v = v_ae``), two when ``s_a = 1``, ``s_e = 0`` or
``s_a = s_e``, three otherwise (FLOAT's defaults ``s_a = 2``, ``s_e = 1``).

Example::

    >>> from motionkit.flow import FlowTransformer
    >>> from motionkit.config import GuidanceConfig
    >>> from motionkit.families import preset
    >>> guided = ClassifierFreeGuidance(FlowTransformer(preset("tiny").flow), GuidanceConfig())
    >>> guided.branches
    ('uncond', 'all_cond', 'audio_only')
"""

from __future__ import annotations

from typing import Protocol

import torch

from motionkit.config.flow import GuidanceConfig
from motionkit.flow.inputs import VectorFieldInputs

BRANCH_ORDER = ("uncond", "all_cond", "audio_only")
"""FLOAT's batch order of the three conditionings."""

NULLED: dict[str, tuple[str, ...]] = {"uncond": ("wa", "we"), "all_cond": (), "audio_only": ("we",)}
"""Members of :class:`VectorFieldInputs` zeroed in each branch."""


class VectorField(Protocol):
    """A conditional vector-field model, called as ``model(x, t, inputs)`` like ``FlowTransformer``: state ``x``
    ``(B, L, D)``, flow time ``t`` (a number or ``(B,)``) and the conditions ``inputs``."""

    def __call__(self, x: torch.Tensor, t: torch.Tensor | float, inputs: VectorFieldInputs) -> torch.Tensor: ...


class ClassifierFreeGuidance:
    """The guided field of a :class:`VectorField` model; itself a :class:`VectorField` with the same signature.

    Args:
        model: the conditional model (e.g. a ``FlowTransformer`` or ``FlowSampler``).
        guidance: the scales ``s_a`` (audio) and ``s_e`` (emotion).
    """

    def __init__(self, model: VectorField, guidance: GuidanceConfig) -> None:
        self.model = model
        self.guidance = guidance
        s_a, s_e = guidance.audio_scale, guidance.emotion_scale
        weights = {"uncond": 1.0 - s_a, "all_cond": s_e, "audio_only": s_a - s_e}
        self.weights = weights
        self.branches: tuple[str, ...] = tuple(b for b in BRANCH_ORDER if weights[b] != 0.0)

    def __call__(self, x: torch.Tensor, t: torch.Tensor | float, inputs: VectorFieldInputs) -> torch.Tensor:
        """Guided field with the model's output shape (``(B, N, D)`` for the flow transformer)."""
        n = len(self.branches)
        if n == 1:
            return self.model(x, t, inputs.nulled(NULLED[self.branches[0]]))
        t_rep = t.repeat(n) if isinstance(t, torch.Tensor) and t.numel() > 1 else t
        batched = VectorFieldInputs.cat([inputs.nulled(NULLED[b]) for b in self.branches])
        out = self.model(x.repeat(n, *([1] * (x.dim() - 1))), t_rep, batched)
        v = dict(zip(self.branches, out.chunk(n)))
        if n == 3:
            s_a, s_e = self.guidance.audio_scale, self.guidance.emotion_scale
            return v["uncond"] + s_a * (v["audio_only"] - v["uncond"]) + s_e * (v["all_cond"] - v["audio_only"])
        first, second = self.branches
        return v[first] + self.weights[second] * (v[second] - v[first])
