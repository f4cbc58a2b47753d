"""What every edit shares: the state an edit transforms, the context it reads, time windows and axis subsets.

An edit maps coefficients ``c`` (B, T, M) to ``c + dc``. The program composes the latents back as
``x' = x + V (c' - c)``, so the residual ``x - V V^T x`` and every coefficient direction that an edit does not
name are left as they were.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

import torch
from pydantic import BeforeValidator, Field, model_validator
from typing_extensions import Self

from motionkit.errors import EditError
from motionkit.space._model import SpaceModel
from motionkit.space.axes import ALL_AXES, Axis
from motionkit.space.space import MotionSpace
from motionkit.types import MotionTrack

FRAME_TIME_TOLERANCE = 1e-9
"""Seconds of slack when deciding whether frame ``k`` (at ``k / fps``) lies inside a time window."""

SUBSPACE_CONDITION_LIMIT = 1e-8
"""Smallest eigenvalue of the Gram matrix of the named axes' directions before they count as dependent."""


def _single_name_to_tuple(value: Any) -> Any:
    return (value,) if isinstance(value, str) and value != ALL_AXES else value


AxisNames = Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Field(min_length=1)]
AxisSelection = Annotated[Literal["all"] | AxisNames, BeforeValidator(_single_name_to_tuple)]
"""``"all"`` (the whole coefficient space) or one or more axis names (a single name may be given as a string)."""


@dataclass(frozen=True)
class EditState:
    """What edits transform: coefficients ``(B, T, M)`` in the compute dtype and the source motion ``(B, D)``."""

    coefficients: torch.Tensor
    source: torch.Tensor | None

    def shifted(self, delta: torch.Tensor) -> EditState:
        """The state with ``delta`` (broadcastable to ``(B, T, M)``) added to the coefficients."""
        return replace(self, coefficients=self.coefficients + delta)


@dataclass(frozen=True)
class EditContext:
    """Everything an edit may read besides the state: the space, the timing and the reference tracks."""

    space: MotionSpace
    fps: float
    frames: int
    batch: int
    dtype: torch.dtype
    """Compute dtype of coefficients (float32 for half-precision tracks)."""
    latent_dtype: torch.dtype
    device: torch.device
    references: Mapping[str, MotionTrack]
    first_frame: int = 0
    """Index of the track's first frame in a longer stream (a live session's chunk): frame ``k`` is at
    ``(first_frame + k) / fps``."""
    total_duration: float | None = None
    """Length in seconds of the whole stream (``math.inf`` while a live session runs); None: up to the last frame."""

    @property
    def duration(self) -> float:
        """Length of the whole track or stream in seconds: ``total_duration``, else ``(first_frame + T) / fps``."""
        if self.total_duration is not None:
            return self.total_duration
        return (self.first_frame + self.frames) / self.fps

    def times(self) -> torch.Tensor:
        """Frame times ``(first_frame + k) / fps`` in seconds, ``(T,)`` float64."""
        frames = torch.arange(self.first_frame, self.first_frame + self.frames, dtype=torch.float64, device=self.device)
        return frames / self.fps

    def axis(self, name: str) -> Axis:
        return self.space.axis(name)

    def direction(self, name: str) -> torch.Tensor:
        """The unit direction ``u`` (M,) of axis ``name`` in the compute dtype."""
        return self.axis(name).vector().to(device=self.device, dtype=self.dtype)

    def reader(self, name: str) -> torch.Tensor:
        """The direction ``w`` (M,) that reads axis ``name`` (:meth:`MotionSpace.reader`) in the compute dtype:
        edits that read an axis (scale, set, absolute keyframes) read it as plots do."""
        return self.space.reader(name).to(device=self.device, dtype=self.dtype)

    def coefficients(self, latents: torch.Tensor) -> torch.Tensor:
        """``V^T x`` of latents ``(..., D)`` in the compute dtype on the track's device."""
        return self.space.project(latents.to(device=self.device, dtype=self.dtype))

    def projector(self, axes: tuple[str, ...] | Literal["all"], keep: tuple[str, ...] = ()) -> torch.Tensor:
        """Orthogonal projector ``P`` (M, M) onto the span of ``axes`` (``"all"``: the identity), minus ``keep``.

        For axis directions ``U`` (k, M): ``P = U^T (U U^T)^{-1} U``, so ``U (c + (c* - c) P) = U c*`` sets every
        named axis at once even when the axes are not orthogonal. With ``axes == "all"`` and ``keep`` given,
        ``P = I - P_keep``: everything except the kept axes' span.
        """
        if isinstance(axes, str):  # "all"
            identity = torch.eye(self.space.rank, dtype=torch.float64, device=self.device)
            projector = identity - self._span_projector(keep) if keep else identity
        else:
            projector = self._span_projector(axes)
        return projector.to(self.dtype)

    def _span_projector(self, names: tuple[str, ...]) -> torch.Tensor:
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise EditError(f"axes {duplicates} are listed more than once.")
        directions = torch.stack([self.axis(name).vector() for name in names]).to(self.device)
        gram = directions @ directions.T
        if float(torch.linalg.eigvalsh(gram).min()) < SUBSPACE_CONDITION_LIMIT:
            raise EditError(
                f"axes {list(names)} are linearly dependent (one is a combination of the others); name fewer axes."
            )
        return directions.T @ torch.linalg.solve(gram, directions)

    def reference(self, name: str, edit: str) -> MotionTrack:
        """The reference track ``name``, checked for frame rate, batch and latent size."""
        if name not in self.references:
            known = sorted(self.references) or "none"
            raise EditError(
                f"{edit} needs the reference track {name!r} but apply() got references: {known}. "
                f"Pass it as program.apply(track, space, references={{{name!r}: other_track}})."
            )
        track = self.references[name]
        if not math.isclose(track.fps, self.fps, rel_tol=0.0, abs_tol=FRAME_TIME_TOLERANCE):
            raise EditError(
                f"{edit}: reference {name!r} runs at {track.fps:g} fps but the edited track at {self.fps:g} fps; "
                "resample one of them to the other's frame rate first."
            )
        if track.dim != self.space.dim:
            raise EditError(f"{edit}: reference {name!r} has latent size {track.dim}, the space {self.space.dim}.")
        if track.batch not in (1, self.batch):
            raise EditError(
                f"{edit}: reference {name!r} has batch {track.batch}; it must be 1 (shared) or {self.batch} "
                "(one per sequence of the edited track)."
            )
        return track


class EditBase(SpaceModel, ABC):
    """A typed, serialisable motion edit. ``kind`` names the edit in JSON."""

    kind: str

    @abstractmethod
    def transform(self, state: EditState, context: EditContext) -> EditState:
        """Return the edited state (never modifies ``state``'s tensors)."""


class TimedEdit(EditBase):
    """An edit that acts inside a time window, blended in and out with raised-cosine fades.

    The weight of frame time ``t`` (seconds) is::

        w(t) = 1[start <= t < end] * ramp((t - start) / fade_in) * ramp((end - t) / fade_out)
        ramp(x) = (1 - cos(pi * clip(x, 0, 1))) / 2        (1 when the fade is 0)

    and the edit's change of the coefficients is multiplied by ``w(t)``. ``end = None`` means the end of the
    track (``T / fps``), so a fade-out then ends with the track.
    """

    start: float = Field(default=0.0, ge=0.0, description="Window start in seconds.")
    end: float | None = Field(default=None, gt=0.0, description="Window end in seconds (None: end of the track).")
    fade_in: float = Field(default=0.0, ge=0.0, description="Seconds over which the edit blends in after start.")
    fade_out: float = Field(default=0.0, ge=0.0, description="Seconds over which the edit blends out before end.")

    @model_validator(mode="after")
    def _window_is_consistent(self) -> Self:
        if self.end is not None:
            if self.end <= self.start:
                raise ValueError(f"end ({self.end} s) must be after start ({self.start} s)")
            if self.fade_in + self.fade_out > self.end - self.start + FRAME_TIME_TOLERANCE:
                raise ValueError(
                    f"fade_in + fade_out ({self.fade_in + self.fade_out} s) is longer than the window "
                    f"({self.end - self.start} s); shorten the fades or widen the window"
                )
        return self

    def envelope(self, context: EditContext) -> torch.Tensor:
        """``w(t)`` for every frame, ``(T,)`` in the compute dtype."""
        times = context.times()
        end = context.duration if self.end is None else self.end
        inside = (times >= self.start - FRAME_TIME_TOLERANCE) & (times < end - FRAME_TIME_TOLERANCE)
        weight = inside.to(torch.float64)
        if self.fade_in > 0:
            weight = weight * _ramp((times - self.start) / self.fade_in)
        if self.fade_out > 0:
            weight = weight * _ramp((end - times) / self.fade_out)
        return weight.to(context.dtype)


def _ramp(x: torch.Tensor) -> torch.Tensor:
    return 0.5 - 0.5 * torch.cos(math.pi * x.clamp(0.0, 1.0))


def source_coefficients(state: EditState, context: EditContext, edit: str, alternative: str) -> torch.Tensor:
    """Coefficients ``(B, 1, M)`` of the state's source motion; a clear error when the track has none."""
    if state.source is None:
        raise EditError(
            f"{edit} needs the portrait's source motion, but the track has no source (MotionTrack(..., source=None)). "
            f"Build the track with source=r_s (B, D), or use {alternative}."
        )
    return context.coefficients(state.source)[:, None, :]
