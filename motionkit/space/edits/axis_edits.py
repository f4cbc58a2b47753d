"""Edits along one named axis: offset, scale, set, oscillate (nod / shake / tilt) and keyframes (turns).

For axis ``(u, scale, offset)`` and coefficients ``c`` (B, T, M), ``p(t) = u . c(t)`` is the coefficient along
the axis and ``w(t)`` the edit's time window (:class:`~motionkit.space.edits.base.TimedEdit`). Each edit adds
``dc(t) = w(t) * dp(t) * u``: only the projection on ``u`` changes.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from motionkit.space._model import SpaceModel
from motionkit.space.edits.base import EditBase, EditContext, EditState, TimedEdit, source_coefficients

NOD_AXIS, SHAKE_AXIS, TILT_AXIS, TURN_AXIS = "pitch", "yaw", "roll", "yaw"


class _AxisEdit(TimedEdit):
    axis: str = Field(min_length=1, description="Name of the axis the edit moves.")

    def _along(self, state: EditState, context: EditContext) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(u (M,), p (B, T), w (T,))`` for this edit's axis: its direction, the coefficient it reads
        (``reader . c``, which moves by ``x * scale`` when ``x * scale * u`` is added) and the time window."""
        u = context.direction(self.axis)
        return u, state.coefficients @ context.reader(self.axis), self.envelope(context)


class Offset(_AxisEdit):
    """Move an axis by ``value`` axis units: ``dc = w(t) * value * scale * u``."""

    kind: Literal["offset"] = "offset"
    value: float = Field(description="Displacement in axis units (e.g. degrees).")

    def transform(self, state: EditState, context: EditContext) -> EditState:
        context.axis(self.axis).check_change(self.value, "offset")
        u, _, weight = self._along(state, context)
        amount = weight * (self.value * context.axis(self.axis).scale)
        return state.shifted(amount[None, :, None] * u)


class Scale(_AxisEdit):
    """Multiply an axis's motion by ``factor`` around a centre: ``p' = p0 + factor * (p - p0)``.

    ``about``: ``"mean"`` (per-sequence mean of ``p`` over the whole track, not only the window), ``"source"``
    (the track's source motion) or ``"origin"`` (zero coefficients). ``factor = 0`` flattens the axis onto the
    centre; ``2`` doubles its motion.
    """

    kind: Literal["scale"] = "scale"
    factor: float = Field(description="Amplification of the motion along the axis.")
    about: Literal["mean", "source", "origin"] = Field(default="mean", description="Centre of the scaling.")

    def transform(self, state: EditState, context: EditContext) -> EditState:
        u, p, weight = self._along(state, context)
        if self.about == "mean":
            centre = p.mean(dim=1, keepdim=True)
        elif self.about == "source":
            centre = source_coefficients(state, context, "Scale(about='source')", "about='mean'") @ context.reader(
                self.axis
            )
        else:
            centre = torch.zeros_like(p[:, :1])
        amount = weight * (self.factor - 1.0) * (p - centre)
        return state.shifted(amount[..., None] * u)


class Set(_AxisEdit):
    """Hold an axis at an absolute reading ``value`` (axis units): ``p' = (value - offset) * scale``."""

    kind: Literal["set"] = "set"
    value: float = Field(description="Absolute reading in axis units (uses the axis offset).")

    def transform(self, state: EditState, context: EditContext) -> EditState:
        context.axis(self.axis).check_reading(self.value, "value")
        u, p, weight = self._along(state, context)
        target = context.axis(self.axis).coefficients_for(self.value)
        return state.shifted((weight * (target - p))[..., None] * u)


class Oscillate(_AxisEdit):
    """Add a sine to an axis: ``dp(t) = w(t) * amplitude * scale * sin(2 pi f (t - start) + phase)``.

    The sine is timed from ``start``, so with ``phase = 0`` it begins at zero. Presets: :meth:`nod` (pitch),
    :meth:`shake` (yaw), :meth:`tilt` (roll); their defaults assume axes calibrated in degrees.
    """

    kind: Literal["oscillate"] = "oscillate"
    amplitude: float = Field(description="Peak displacement in axis units.")
    frequency: float = Field(gt=0.0, description="Cycles per second (Hz).")
    phase: float = Field(default=0.0, description="Phase at `start`, in radians.")

    def transform(self, state: EditState, context: EditContext) -> EditState:
        context.axis(self.axis).check_change(self.amplitude, "amplitude")
        u, _, weight = self._along(state, context)
        angle = 2.0 * math.pi * self.frequency * (context.times() - self.start) + self.phase
        wave = torch.sin(angle).to(context.dtype)
        amount = weight * wave * (self.amplitude * context.axis(self.axis).scale)
        return state.shifted(amount[None, :, None] * u)

    @classmethod
    def nod(cls, amplitude: float = 8.0, frequency: float = 1.5, *, axis: str = NOD_AXIS, **window: Any) -> Oscillate:
        """A nod: oscillation of ``"pitch"`` (``window``: ``start``, ``end``, ``fade_in``, ``fade_out``, ``phase``)."""
        return cls(axis=axis, amplitude=amplitude, frequency=frequency, **window)

    @classmethod
    def shake(
        cls, amplitude: float = 10.0, frequency: float = 1.5, *, axis: str = SHAKE_AXIS, **window: Any
    ) -> Oscillate:
        """A head shake ("no"): oscillation of ``"yaw"`` (same keywords as :meth:`nod`)."""
        return cls(axis=axis, amplitude=amplitude, frequency=frequency, **window)

    @classmethod
    def tilt(cls, amplitude: float = 6.0, frequency: float = 1.0, *, axis: str = TILT_AXIS, **window: Any) -> Oscillate:
        """A side-to-side head tilt: oscillation of ``"roll"`` (same keywords as :meth:`nod`)."""
        return cls(axis=axis, amplitude=amplitude, frequency=frequency, **window)


class Key(SpaceModel):
    """One keyframe: the axis ``value`` (axis units) at ``time`` seconds. JSON: ``{"time": 1.0, "value": 15}``
    or the pair ``[1.0, 15]``."""

    time: float = Field(ge=0.0)
    value: float

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, data: Any) -> Any:
        if isinstance(data, (list, tuple)) and len(data) == 2:
            return {"time": data[0], "value": data[1]}
        return data


Interpolation = Literal["linear", "cubic", "ease-in-out"]


class Keyframes(EditBase):
    """Drive an axis through keyframes, interpolated at every frame time and held constant outside the keys.

    ``interpolation``: ``"linear"``; ``"cubic"`` (natural C2 cubic spline through all keys; may overshoot);
    ``"ease-in-out"`` (per segment ``v_i + (v_{i+1} - v_i)(3s^2 - 2s^3)``, zero velocity at every key).
    ``mode``: ``"absolute"`` sets the reading to ``v(t)`` (needs a calibrated offset); ``"relative"`` adds
    ``v(t)`` units to the motion that is there (``dp = v(t) * scale``). :meth:`turn` builds a relative turn.
    """

    kind: Literal["keyframes"] = "keyframes"
    axis: str = Field(min_length=1)
    keys: tuple[Key, ...] = Field(min_length=1)
    interpolation: Interpolation = "linear"
    mode: Literal["absolute", "relative"] = "absolute"

    @field_validator("keys")
    @classmethod
    def _increasing(cls, keys: tuple[Key, ...]) -> tuple[Key, ...]:
        times = [key.time for key in keys]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"key times must be strictly increasing, got {times}")
        return keys

    @classmethod
    def turn(
        cls,
        angle: float = 15.0,
        *,
        start: float = 0.0,
        duration: float = 1.0,
        axis: str = TURN_AXIS,
        interpolation: Interpolation = "ease-in-out",
    ) -> Keyframes:
        """Turn by ``angle`` axis units between ``start`` and ``start + duration`` seconds, then stay turned."""
        keys = (Key(time=start, value=0.0), Key(time=start + duration, value=angle))
        return cls(axis=axis, keys=keys, interpolation=interpolation, mode="relative")

    def values(self, times: np.ndarray) -> np.ndarray:
        """The interpolated axis value at ``times`` (seconds), float64."""
        key_times = np.array([key.time for key in self.keys], dtype=np.float64)
        key_values = np.array([key.value for key in self.keys], dtype=np.float64)
        clamped = np.clip(times, key_times[0], key_times[-1])
        if len(self.keys) == 1 or self.interpolation == "linear":
            return np.interp(clamped, key_times, key_values)
        if self.interpolation == "cubic":
            from scipy.interpolate import CubicSpline  # imported on use: scipy slows down `import motionkit`

            return np.asarray(CubicSpline(key_times, key_values, bc_type="natural")(clamped), dtype=np.float64)
        segment = np.clip(np.searchsorted(key_times, clamped, side="right") - 1, 0, len(key_times) - 2)
        left, right = key_times[segment], key_times[segment + 1]
        s = (clamped - left) / (right - left)
        eased = s * s * (3.0 - 2.0 * s)
        return key_values[segment] + (key_values[segment + 1] - key_values[segment]) * eased

    def transform(self, state: EditState, context: EditContext) -> EditState:
        axis = context.axis(self.axis)
        check = axis.check_change if self.mode == "relative" else axis.check_reading
        for key in self.keys:
            check(key.value, f"keyframe at {key.time:g} s:")
        u = context.direction(self.axis)
        values = torch.from_numpy(self.values(context.times().cpu().numpy())).to(context.device)
        if self.mode == "relative":
            amount = (values * axis.scale).to(context.dtype)[None, :]
        else:
            target = ((values - axis.offset) * axis.scale).to(context.dtype)
            amount = target[None, :] - state.coefficients @ context.reader(self.axis)
        return state.shifted(amount[..., None] * u)
