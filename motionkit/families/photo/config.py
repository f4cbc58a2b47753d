"""Configuration of the photo family's motion model: named parameter axes in real units, the mel conditioner and
the flow sampler over the normalised parameter vector."""

from __future__ import annotations

from pydantic import Field, model_validator

from motionkit.config._base import FrozenConfig
from motionkit.config.conditioner import ConditionerConfig
from motionkit.config.flow import FlowConfig
from motionkit.config.model import FamilyConfig


class ParameterAxis(FrozenConfig):
    """One named parameter of the track: its unit, the range the renderer accepts and its neutral value.

    Generated values are clamped to ``[minimum, maximum]``; ``neutral`` is the portrait's own value when nothing
    else is known (a frontal head, closed mouth at resting width, open eyes, resting brows).
    """

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="Axis name (yaw, mouth_open, ...).")
    unit: str = Field(description="Unit of the values: 'deg' or 'ratio' (0 .. 1).")
    minimum: float = Field(description="Smallest value the model outputs.")
    maximum: float = Field(description="Largest value the model outputs.")
    neutral: float = Field(0.0, description="The value of a neutral, frontal portrait.")
    smoothing: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Coefficient a of the causal exponential smoothing of the sampled values over frames, "
        "y_t = a y_(t-1) + (1 - a) x_t (0: none; a lag of a / (1 - a) frames). For axes whose world moves smoothly "
        "(the head's angles): it takes the frame-to-frame residue of the sampling noise out of them.",
    )
    onset: float = Field(
        0.0,
        ge=0.0,
        description="Seconds over which a track starts at the portrait's own value and eases into the sampled "
        "motion (0: none): x'_t = x_t - w_t (x_0 - x_source), w_t = (1 + cos(pi t / N)) / 2 for the first N = "
        "onset x fps frames, 0 after. Frame 0 then shows the portrait as it is, so a video or a live session does "
        "not open with a jump to wherever the first window's sample starts (about 9 degrees of yaw on average).",
    )

    @model_validator(mode="after")
    def _check(self) -> ParameterAxis:
        if not self.minimum <= self.neutral <= self.maximum or self.minimum >= self.maximum:
            raise ValueError(
                f"axis {self.name!r}: need minimum < maximum and the neutral value inside, got "
                f"[{self.minimum}, {self.maximum}] and {self.neutral}"
            )
        return self


class PhotoMotionConfig(FamilyConfig):
    """A motion model of the photo family: audio -> per-frame parameters in real units (``axes``), sampled by a
    :class:`~motionkit.flow.FlowSampler` over the parameters normalised per axis (``(x - mean) / scale``, both
    stored with the weights) and conditioned by the mel conditioner."""

    name: str = Field("photo-motion", description="Preset or user-given model name.")
    family: str = Field("photo", description="Model family (motionkit.families): 'photo'.")
    axes: tuple[ParameterAxis, ...] = Field(min_length=1, description="The parameters of a track, in order.")
    conditioner: ConditionerConfig = Field(description="Speech conditioner (mel encoder, trained with the flow).")
    flow: FlowConfig = Field(description="Flow sampler over the normalised parameter vector (motion_dim = axes).")

    @model_validator(mode="after")
    def _consistent(self) -> PhotoMotionConfig:
        names = [axis.name for axis in self.axes]
        if len(set(names)) != len(names):
            raise ValueError(f"axis names must be unique, got {names}")
        if self.flow.motion_dim != len(self.axes):
            raise ValueError(f"flow.motion_dim {self.flow.motion_dim} != the {len(self.axes)} axes")
        if self.flow.audio_dim != self.conditioner.audio_dim:
            raise ValueError(
                f"flow.audio_dim {self.flow.audio_dim} != conditioner.audio_dim {self.conditioner.audio_dim}"
            )
        if self.flow.emotion_dim != self.conditioner.emotion_dim:
            raise ValueError(
                f"flow.emotion_dim {self.flow.emotion_dim} != conditioner.emotion_dim {self.conditioner.emotion_dim}"
            )
        if self.conditioner.encoder != "mel":
            raise ValueError("the photo motion model uses the mel conditioner; set conditioner.encoder to 'mel'")
        return self

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(axis.name for axis in self.axes)

    @property
    def latent_dim(self) -> int:
        return len(self.axes)

    @property
    def motion_rank(self) -> int:
        return len(self.axes)

    def summary(self) -> list[tuple[str, str]]:
        c, f = self.conditioner, self.flow
        axes = ", ".join(f"{axis.name} ({axis.unit})" for axis in self.axes)
        return [
            ("motion", f"{len(self.axes)} named parameters: {axes}"),
            (
                "flow",
                f"{f.depth} blocks x {f.hidden_dim}, {f.num_heads} heads, windows of {f.window} + {f.context} frames",
            ),
            ("sampling", f"nfe {f.nfe}, {f.solver}, guidance audio {f.guidance.audio_scale:g}"),
            (
                "conditioner",
                f"log-mel audio encoder ({c.mel.n_mels} mels, {c.mel.layers} x {c.mel.channels} -> {c.audio_dim}), "
                f"{c.sample_rate} Hz audio, {c.fps:g} fps",
            ),
            ("renderer", "none stored: the geometric portrait renderer draws the parameters (no weights)"),
        ]
