"""Configuration of an IMTalker model: its generator and conditioner (the renderer's architecture is fixed)."""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config.conditioner import ConditionerConfig
from motionkit.config.model import FamilyConfig
from motionkit.families.imtalker.generator import IMTalkerMotionConfig
from motionkit.families.imtalker.renderer_encoders import MOTION_DIM


class IMTalkerConfig(FamilyConfig):
    """An IMTalker model: the renderer (``IMTRenderer``, fixed at 512 px and 32-d motion, so not configured), the
    motion generator and the wav2vec2 conditioner."""

    name: str = Field("imtalker-512", description="Preset or user-given model name.")
    family: str = Field("imtalker", description="Model family (motionkit.families): 'imtalker'.")
    motion: IMTalkerMotionConfig = Field(description="The motion generator (flow transformer, control projections).")
    conditioner: ConditionerConfig = Field(description="wav2vec2 last hidden state projected to the motion width.")

    @model_validator(mode="after")
    def _consistent(self) -> IMTalkerConfig:
        flow = self.motion.flow
        if flow.motion_dim != MOTION_DIM:
            raise ValueError(f"motion.flow.motion_dim {flow.motion_dim} != the renderer's {MOTION_DIM}-d motion")
        if flow.audio_dim != self.conditioner.audio_dim:
            raise ValueError(
                f"motion.flow.audio_dim {flow.audio_dim} != conditioner.audio_dim {self.conditioner.audio_dim}"
            )
        if self.conditioner.encoder != "wav2vec2" or self.conditioner.wav2vec2_features != "last":
            raise ValueError("IMTalker's conditioner reads wav2vec2's last hidden state (encoder 'wav2vec2', 'last')")
        return self

    @property
    def latent_dim(self) -> int:
        return MOTION_DIM

    @property
    def motion_rank(self) -> int:
        return MOTION_DIM

    def summary(self) -> list[tuple[str, str]]:
        m, c = self.motion, self.conditioner
        f = m.flow
        return [
            ("renderer", f"IMTalker implicit motion transfer, 512 px, {MOTION_DIM}-d motion latent"),
            (
                "flow",
                f"{f.depth} blocks x {f.hidden_dim}, {f.num_heads} heads, RoPE, windows of {f.window} + {f.context} "
                f"frames",
            ),
            ("controls", f"pose ({m.pose_dim}), cam ({m.cam_dim}), gaze ({m.gaze_dim}) per frame, optional"),
            ("sampling", f"nfe {f.nfe}, {f.solver}, audio guidance {f.guidance.audio_scale:g}"),
            (
                "conditioner",
                f"wav2vec2 last hidden state ({c.wav2vec2_layers} layers x {c.wav2vec2_hidden} -> {c.audio_dim}), "
                f"{c.sample_rate} Hz audio, {c.fps:g} fps",
            ),
        ]
