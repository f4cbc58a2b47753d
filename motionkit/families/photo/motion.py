"""The photo family's motion generator: a flow sampler over the normalised parameter vector, in real units outside.

The flow model works on ``z = (x - mean) / scale`` per axis (``mean``, ``scale``: ``(P,)`` buffers measured on the
training data and stored with the weights), so that degrees of yaw and mouth ratios weigh alike in its loss.
:class:`ParameterMotion` hides that: it takes the portrait's own parameters and yields tracks in the axes' units,
clamped to their ranges::

    z_source = (x_source - mean) / scale
    s_t      = a * s_(t-1) + (1 - a) * z_t,   s_0 = z_0           per axis, a = ParameterAxis.smoothing
    u_t      = mean + scale * s_t                                  for every frame z_t the flow sampler yields
    x_t      = clamp(u_t - w_t * (u_0 - x_source), minimum, maximum)
    w_t      = (1 + cos(pi * t / N)) / 2 for t < N, else 0        per axis, N = ParameterAxis.onset * fps frames

The smoothing (:class:`AxisSmoothing`) and the onset (:class:`AxisOnset`: the track starts at the portrait's own
values and eases into the sampled motion) are causal and carry their state from one window or live chunk to the
next, so a track is the same whether it is sampled whole, streamed or sampled live; an axis with ``a = 0`` and
``N = 0`` passes unchanged, bit for bit.

Its motion space is the parameter vector itself (:func:`parameter_space`: identity basis, one axis per parameter
with its unit), so every edit of an EditProgram is exact: a nod of 8 degrees adds exactly 8 to ``pitch``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from motionkit.config.flow import GuidanceConfig
from motionkit.errors import ConfigError
from motionkit.families.photo.config import PhotoMotionConfig
from motionkit.flow import FlowSampler
from motionkit.flow.live import LiveMotion
from motionkit.flow.noise import NoiseInput
from motionkit.space import Axis, MotionSpace
from motionkit.types import Conditions, MotionTrack
from motionkit.validation import check_tensor


def parameter_space(config: PhotoMotionConfig) -> MotionSpace:
    """The motion space of the parameter vector: identity basis ``(P, P)``; axis ``i`` is parameter ``i`` in its
    unit (scale 1, offset 0), so readings are the values themselves."""
    rank = len(config.axes)
    axes = [Axis.basis(i, rank, name=axis.name, unit=axis.unit) for i, axis in enumerate(config.axes)]
    return MotionSpace(torch.eye(rank), axes)


class AxisSmoothing:
    """Causal exponential smoothing of a track's frames, per axis: ``s_t = a s_(t-1) + (1 - a) z_t``, ``s_0 = z_0``.

    One instance smooths one track, chunk after chunk: the last smoothed frame is kept for the next chunk.

    Args:
        coefficients: ``(P,)`` the coefficient ``a`` in ``[0, 1)`` of each axis (0: the axis passes unchanged).
    """

    def __init__(self, coefficients: torch.Tensor) -> None:
        self.coefficients = coefficients
        self.active = bool((coefficients > 0).any())
        self.last: torch.Tensor | None = None

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, n, P)`` -> ``(B, n, P)`` smoothed, continuing from the previous chunk's last frame."""
        if not self.active or frames.shape[1] == 0:
            return frames
        a = self.coefficients.to(frames)
        previous, smoothed = self.last, []
        for frame in frames.unbind(dim=1):
            previous = frame if previous is None else a * previous + (1 - a) * frame
            smoothed.append(previous)
        self.last = previous
        return torch.stack(smoothed, dim=1)


class AxisOnset:
    """The start of a track eased from the portrait's own values into the sampled motion, per axis:
    ``x'_t = x_t - w_t (x_0 - x_source)`` with ``w_t = (1 + cos(pi t / N)) / 2`` for ``t < N``, 0 after.

    ``w_0 = 1``, so frame 0 is the portrait's value; the correction fades with zero slope at both ends, and frames
    from ``N`` on pass unchanged, bit for bit. One instance follows one track, chunk after chunk (it keeps the
    track's first frame and counts the frames it has seen).

    Args:
        frames: ``(P,)`` the onset length ``N`` of each axis in frames (0: the axis passes unchanged).
        source: ``(B, P)`` the portrait's own values, in the same units as the frames.
    """

    def __init__(self, frames: torch.Tensor, source: torch.Tensor) -> None:
        self.frames = frames
        self.source = source
        self.longest = int(frames.max()) if frames.numel() else 0
        self.start: torch.Tensor | None = None
        self.seen = 0

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        """``(B, n, P)`` -> ``(B, n, P)``, the frames ``seen .. seen + n - 1`` of the track."""
        first, count = self.seen, values.shape[1]
        self.seen += count
        if first >= self.longest or count == 0:
            return values
        if self.start is None:
            self.start = values[:, 0].clone()
        frames = self.frames.to(values)
        times = torch.arange(first, first + count, device=values.device, dtype=values.dtype)[:, None]
        ease = 0.5 * (1 + torch.cos(torch.pi * times / frames.clamp(min=1)))
        weight = torch.where(times < frames, ease, torch.zeros_like(ease))  # (n, P)
        return values - weight * (self.start - self.source.to(values))[:, None, :]


class ParameterMotion(nn.Module):
    """Audio -> parameter tracks in real units (a :class:`~motionkit.protocols.MotionGenerator`).

    Args:
        config: the model's configuration; ``flow`` is the sampler's, ``axes`` name the parameters.

    Attributes:
        flow: the :class:`~motionkit.flow.FlowSampler` over normalised parameters.
        mean, scale: ``(P,)`` buffers of the normalisation (set by training; identity until then).
        minimum, maximum: ``(P,)`` buffers of the axes' ranges (from ``config``; not stored).
    """

    mean: torch.Tensor
    scale: torch.Tensor
    minimum: torch.Tensor
    maximum: torch.Tensor

    def __init__(self, config: PhotoMotionConfig) -> None:
        super().__init__()
        self.config = config
        self.flow = FlowSampler(config.flow)
        size = len(config.axes)
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("scale", torch.ones(size))
        self.register_buffer("minimum", torch.tensor([a.minimum for a in config.axes]), persistent=False)
        self.register_buffer("maximum", torch.tensor([a.maximum for a in config.axes]), persistent=False)

    @property
    def window(self) -> int:
        return self.flow.window

    @property
    def latent_dim(self) -> int:
        return len(self.config.axes)

    @property
    def default_guidance(self) -> GuidanceConfig:
        return self.flow.default_guidance

    def set_normalisation(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        """Set the per-axis ``mean`` and ``scale`` (``(P,)``, scale > 0) of the flow model's inputs."""
        size = self.latent_dim
        check_tensor("mean", mean, ndim=1, last_dim=size, hint=f"Expected ({size},).")
        check_tensor("scale", scale, ndim=1, last_dim=size, hint=f"Expected ({size},).")
        if not bool((scale > 0).all()) or not bool(torch.isfinite(mean).all()):
            raise ConfigError("the normalisation needs finite means and positive scales for every axis.")
        self.mean.copy_(mean)
        self.scale.copy_(scale)

    def neutral(self, batch: int = 1) -> torch.Tensor:
        """``(batch, P)`` the neutral portrait's parameters (each axis's ``neutral``)."""
        values = torch.tensor([axis.neutral for axis in self.config.axes], device=self.mean.device)
        return values.expand(batch, -1).clone()

    def normalise(self, values: torch.Tensor) -> torch.Tensor:
        """``(..., P)`` real units -> the flow model's ``(..., P)``."""
        return (values - self.mean) / self.scale

    def smoothing(self) -> AxisSmoothing:
        """A fresh :class:`AxisSmoothing` of the axes' ``smoothing`` coefficients, for one track."""
        return AxisSmoothing(torch.tensor([axis.smoothing for axis in self.config.axes]))

    def onset(self, source_motion: torch.Tensor) -> AxisOnset:
        """A fresh :class:`AxisOnset` of the axes' ``onset`` lengths, for one track starting at ``source_motion``
        ``(B, P)`` (real units)."""
        fps = self.config.conditioner.fps
        frames = torch.tensor([round(axis.onset * fps) for axis in self.config.axes])
        return AxisOnset(frames, source_motion)

    def denormalise(self, normalised: torch.Tensor) -> torch.Tensor:
        """``(..., P)`` flow output -> real units, clamped to each axis's range."""
        return self.clamp(normalised * self.scale + self.mean)

    def clamp(self, values: torch.Tensor) -> torch.Tensor:
        """``(..., P)`` real units clamped to each axis's range."""
        return torch.maximum(torch.minimum(values, self.maximum), self.minimum)

    def track_output(self, source_motion: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """The map from one track's flow output, chunk after chunk ``(B, n, P)``, to real units: smoothed,
        denormalised, eased in from ``source_motion`` ``(B, P)`` and clamped (the module docstring's formulas)."""
        smoothing, onset = self.smoothing(), self.onset(source_motion)
        return lambda chunk: self.clamp(onset(smoothing(chunk) * self.scale + self.mean))

    def stream(
        self,
        conditions: Iterable[Conditions],
        source_motion: torch.Tensor,
        *,
        nfe: int | None = None,
        solver: Any = None,
        guidance: GuidanceConfig | None = None,
        seed: int | None = None,
        noise: NoiseInput | None = None,
    ) -> Iterator[MotionTrack]:
        """Parameter tracks window by window (see :meth:`FlowSampler.stream`, whose arguments these are).

        Args:
            source_motion: ``(B, P)`` the portrait's own parameters in real units (:meth:`neutral` for a frontal,
                neutral face). Noise, if given, is in the normalised space.
        """
        source = self._source(source_motion)
        output = self.track_output(source)
        for part in self.flow.stream(
            conditions, self.normalise(source), nfe=nfe, solver=solver, guidance=guidance, seed=seed, noise=noise
        ):
            yield MotionTrack(output(part.latents), fps=part.fps, source=source)

    def live(
        self,
        source_motion: torch.Tensor,
        *,
        chunk_frames: int,
        lookahead_frames: int,
        nfe: int | None = None,
        seed: int = 0,
        window_frames: int | None = None,
    ) -> LiveMotion:
        """A live session (see :meth:`FlowSampler.live`) whose chunks are parameters in real units, clamped.

        Args:
            source_motion: ``(B, P)`` the portrait's own parameters in real units.
        """
        source = self._source(source_motion)
        return self.flow.live(
            self.normalise(source),
            chunk_frames=chunk_frames,
            lookahead_frames=lookahead_frames,
            nfe=nfe,
            seed=seed,
            window_frames=window_frames,
            output=self.track_output(source),
        )

    def sample(self, conditions: Conditions, source_motion: torch.Tensor, **options: Any) -> MotionTrack:
        """The whole clip's track ``(B, T, P)`` in real units (options as in :meth:`stream`)."""
        parts = list(self.stream([conditions], source_motion, **options))
        return MotionTrack(torch.cat([p.latents for p in parts], dim=1), fps=parts[0].fps, source=parts[0].source)

    def _source(self, source_motion: torch.Tensor) -> torch.Tensor:
        size = self.latent_dim
        check_tensor("source_motion", source_motion, ndim=2, last_dim=size, hint=f"Expected (B, {size}) parameters.")
        return source_motion.to(device=self.mean.device, dtype=self.mean.dtype)
