"""Edits on a subspace of coefficient space: freeze, smooth, mix from another track, retarget.

Each acts on the span of the axes it names through the orthogonal projector ``P`` (M, M) of that span
(:meth:`EditContext.projector`; ``axes="all"`` is the whole coefficient space) and the time window ``w(t)``::

    c' = c + w(t) * (c* - c) P          c*: the frozen / smoothed / mixed / retargeted coefficients

so the named axes take the values of ``c*`` and the orthogonal complement of their span stays as it was.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from typing_extensions import Self

from motionkit.errors import EditError
from motionkit.space.axes import ALL_AXES
from motionkit.space.edits.base import AxisSelection, EditContext, EditState, TimedEdit, source_coefficients

HEAD_AXES = ("yaw", "pitch", "roll")
MOUTH_AXIS = "mouth"


class _SubspaceEdit(TimedEdit):
    def _blend(
        self, state: EditState, context: EditContext, target: torch.Tensor, projector: torch.Tensor
    ) -> EditState:
        """``c + w(t) (target - c) P`` with ``target`` broadcastable to ``(B, T, M)``."""
        change = (target - state.coefficients) @ projector
        return state.shifted(self.envelope(context)[None, :, None] * change)


class Freeze(_SubspaceEdit):
    """Hold axes at the source motion's value (``at="source"``) or at the per-sequence mean over the whole track
    (``at="mean"``).

    ``axes`` names the axes to hold, or ``"all"`` for the whole coefficient space; with ``"all"``, ``keep``
    names axes that keep moving (their span is excluded). Presets: :meth:`still_head` (yaw, pitch, roll) and
    :meth:`lip_only` (everything but the mouth).
    """

    kind: Literal["freeze"] = "freeze"
    axes: AxisSelection = Field(description='Axes to hold, or "all".')
    keep: tuple[str, ...] = Field(default=(), description='With axes="all": axes that keep moving.')
    at: Literal["source", "mean"] = Field(default="source", description="Value the axes are held at.")

    @model_validator(mode="after")
    def _keep_needs_all(self) -> Self:
        if self.keep and self.axes != ALL_AXES:
            raise ValueError('keep only applies with axes="all"; otherwise just leave those axes out of axes')
        return self

    @classmethod
    def still_head(
        cls, *, at: Literal["source", "mean"] = "source", axes: tuple[str, ...] = HEAD_AXES, **window: Any
    ) -> Freeze:
        """No head motion: hold yaw, pitch and roll."""
        return cls(axes=axes, at=at, **window)

    @classmethod
    def lip_only(
        cls, mouth: str | tuple[str, ...] = MOUTH_AXIS, *, at: Literal["source", "mean"] = "source", **window: Any
    ) -> Freeze:
        """Only the lips move: hold every coefficient direction except the mouth axis (or axes)."""
        keep = (mouth,) if isinstance(mouth, str) else tuple(mouth)
        return cls(axes=ALL_AXES, keep=keep, at=at, **window)

    def transform(self, state: EditState, context: EditContext) -> EditState:
        projector = context.projector(self.axes, self.keep)
        if self.at == "source":
            target = source_coefficients(state, context, "Freeze(at='source')", "Freeze(..., at='mean')")
        else:
            target = state.coefficients.mean(dim=1, keepdim=True)
        return self._blend(state, context, target, projector)


class Smooth(_SubspaceEdit):
    """Low-pass the motion along axes over time.

    ``method="gaussian"``: Gaussian kernel of standard deviation ``sigma`` seconds, edges extended with the end
    values. ``method="savgol"``: Savitzky-Golay filter (local polynomial of degree ``polyorder`` over ``length``
    seconds, rounded to an odd number of frames, at least ``polyorder + 2`` (a shorter window would reproduce
    the input) and at most the track; polynomial fit at the edges).
    Filtering runs in float64 on the CPU (scipy).
    """

    kind: Literal["smooth"] = "smooth"
    axes: AxisSelection = Field(default=ALL_AXES, description='Axes to smooth, or "all".')
    method: Literal["gaussian", "savgol"] = "gaussian"
    sigma: float = Field(default=0.08, gt=0.0, description="Gaussian standard deviation in seconds.")
    length: float = Field(default=0.28, gt=0.0, description="Savitzky-Golay window in seconds.")
    polyorder: int = Field(default=2, ge=0, le=6, description="Savitzky-Golay polynomial degree.")

    def _filtered(self, values: np.ndarray, fps: float) -> np.ndarray:
        from scipy.ndimage import gaussian_filter1d  # imported on use: scipy slows down `import motionkit`
        from scipy.signal import savgol_filter

        frames = values.shape[1]
        if self.method == "gaussian":
            return np.asarray(gaussian_filter1d(values, sigma=self.sigma * fps, axis=1, mode="nearest"))
        shortest = self.polyorder + 3 - self.polyorder % 2  # the smallest odd window >= polyorder + 2
        window = min(max(round(self.length * fps) // 2 * 2 + 1, shortest), frames if frames % 2 else frames - 1)
        if window < shortest:
            raise EditError(
                f"Smooth(method='savgol'): polyorder {self.polyorder} needs a window of at least {shortest} frames, "
                f"but the track has {frames}; lower polyorder or use method='gaussian'."
            )
        return np.asarray(savgol_filter(values, window, self.polyorder, axis=1, mode="interp"))

    def transform(self, state: EditState, context: EditContext) -> EditState:
        projector = context.projector(self.axes)
        values = state.coefficients.detach().to("cpu", torch.float64).numpy()
        smoothed = torch.from_numpy(self._filtered(values, context.fps)).to(device=context.device, dtype=context.dtype)
        return self._blend(state, context, smoothed, projector)


class Mix(_SubspaceEdit):
    """Take axes from another track: the named axes follow the reference track, frame by frame.

    The reference is resolved by name at apply time (``program.apply(track, space, references={name: track})``);
    it must have the same fps, batch 1 or the edited track's batch, and at least as many frames (the first ``T``
    are used; with ``apply(..., first_frame=f)``, frames ``f .. f + T - 1``).
    """

    kind: Literal["mix"] = "mix"
    reference: str = Field(min_length=1, description="Name of the reference track passed to apply().")
    axes: AxisSelection = Field(description='Axes taken from the reference, or "all".')

    def transform(self, state: EditState, context: EditContext) -> EditState:
        other = context.reference(self.reference, "Mix")
        needed = context.first_frame + context.frames
        if other.frames < needed:
            raise EditError(
                f"Mix: reference {self.reference!r} has {other.frames} frames but the edited track {needed}; "
                "give a reference at least as long (MotionTrack.concat, or slice the edited track)."
            )
        target = context.coefficients(other.latents[:, context.first_frame : context.first_frame + context.frames])
        return self._blend(state, context, target, context.projector(self.axes))


class Retarget(_SubspaceEdit):
    """Relative motion transfer: the edited track is the driving motion, re-based on a target portrait::

        c'(t) = c_target_source + (c(t) - c_anchor)         along the named axes

    ``c_anchor`` is the driving track's first frame (``anchor="first"``) or its time mean (``"mean"``). The target
    source is ``track.source`` (``target=None``) or the ``source`` of the reference track named ``target``; in the
    latter case the result's ``source`` becomes that portrait's source motion, since the track now belongs to it.
    """

    kind: Literal["retarget"] = "retarget"
    target: str | None = Field(default=None, min_length=1, description="Reference whose source is the target.")
    axes: AxisSelection = Field(default=ALL_AXES, description='Axes to retarget, or "all".')
    anchor: Literal["first", "mean"] = "first"

    def transform(self, state: EditState, context: EditContext) -> EditState:
        source = state.source
        if self.target is not None:
            reference = context.reference(self.target, "Retarget")
            if reference.source is None:
                raise EditError(
                    f"Retarget: reference {self.target!r} has no source motion; build it with "
                    "MotionTrack(..., source=r_s) of the target portrait."
                )
            source = reference.source.to(device=context.device, dtype=context.latent_dtype)
            source = source.expand(context.batch, -1)
        retargeted = EditState(state.coefficients, source)
        target = source_coefficients(retargeted, context, "Retarget", "Retarget(target='<reference name>')")
        anchor = state.coefficients[:, :1] if self.anchor == "first" else state.coefficients.mean(dim=1, keepdim=True)
        shifted = state.coefficients + (target - anchor)
        return self._blend(retargeted, context, shifted, context.projector(self.axes))
