"""IMTalker's classifier-free guidance: on the audio of the current window only (its ``forward_with_cfg``).

::

    v = v_u + s (v_c - v_u)        v_c: all conditions;  v_u: the same with the current audio wa = 0

The context audio ``prev_wa``, the controls (pose, camera, gaze), the source motion and the context motion are never
nulled. Both branches run in one batched forward, batch order ``[uncond, cond]``; with ``s = 1`` exactly only the
conditional branch runs (as in the official code). IMTalker has no emotion input, so the emotion scale of a
:class:`~motionkit.config.GuidanceConfig` must stay at its neutral value 1.
"""

from __future__ import annotations

import torch

from motionkit.config.flow import GuidanceConfig
from motionkit.errors import ConfigError
from motionkit.flow.guidance import ClassifierFreeGuidance, VectorField
from motionkit.flow.inputs import VectorFieldInputs

NULLED_AUDIO = ("wa",)
"""Members of :class:`~motionkit.flow.inputs.VectorFieldInputs` zeroed in the unconditional branch."""

NEUTRAL_EMOTION_SCALE = 1.0
"""The only emotion scale an IMTalker model accepts (it has no emotion condition to guide)."""


class AudioGuidance(ClassifierFreeGuidance):
    """IMTalker's guided field of a :class:`~motionkit.flow.guidance.VectorField` (same call signature).

    Args:
        model: the conditional vector field (IMTalker's transformer).
        guidance: ``audio_scale`` is IMTalker's ``a_cfg_scale``; ``emotion_scale`` must be 1.
    """

    def __init__(self, model: VectorField, guidance: GuidanceConfig) -> None:
        if guidance.emotion_scale != NEUTRAL_EMOTION_SCALE:
            raise ConfigError(
                f"IMTalker has no emotion input, so there is no emotion guidance: got emotion_scale "
                f"{guidance.emotion_scale:g}; leave it at {NEUTRAL_EMOTION_SCALE:g} and set only the audio scale."
            )
        self.model = model
        self.guidance = guidance
        scale = guidance.audio_scale
        self.weights = {"uncond": 1.0 - scale, "all_cond": scale}
        self.branches = ("all_cond",) if scale == 1.0 else ("uncond", "all_cond")

    def __call__(self, x: torch.Tensor, t: torch.Tensor | float, inputs: VectorFieldInputs) -> torch.Tensor:
        """Guided field with the model's output shape."""
        if len(self.branches) == 1:
            return self.model(x, t, inputs)
        t_both = t.repeat(2) if isinstance(t, torch.Tensor) and t.numel() > 1 else t
        both = VectorFieldInputs.cat([inputs.nulled(NULLED_AUDIO), inputs])
        uncond, cond = self.model(x.repeat(2, *([1] * (x.dim() - 1))), t_both, both).chunk(2)
        return uncond + self.guidance.audio_scale * (cond - uncond)
