"""FlowSampler: FLOAT's motion generator — the flow transformer plus guided, windowed, streamable ODE sampling.

Example::

    >>> import torch
    >>> from motionkit import Conditions, FlowSampler
    >>> from motionkit.families import preset
    >>> sampler = FlowSampler(preset("tiny").flow)
    >>> conditions = Conditions(torch.randn(1, 23, 32), torch.full((1, 23, 7), 1 / 7))
    >>> track = sampler.sample(conditions, torch.randn(1, 32), seed=0)
    >>> track.latents.shape, sampler.last_stats.model_calls
    (torch.Size([1, 23, 32]), 27)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar, cast

import torch

from motionkit.config.flow import FlowConfig, GuidanceConfig
from motionkit.errors import ConfigError, ShapeError
from motionkit.flow.cuda_graphs import CUDAGraphCache
from motionkit.flow.guidance import ClassifierFreeGuidance, VectorField
from motionkit.flow.live import LiveMotion
from motionkit.flow.noise import ExplicitNoise, NoiseInput, NoiseSource, SeededNoise
from motionkit.flow.solvers import Solver, check_time_grid, get_solver, uniform_time_grid
from motionkit.flow.transformer import FlowTransformer
from motionkit.flow.windows import WindowSampler, WindowSchedule
from motionkit.types import Conditions, MotionTrack
from motionkit.validation import check_tensor

SEED_RANGE = 2**63 - 1
"""Seeds drawn from torch's global generator (when neither ``seed`` nor ``noise`` is given) lie in [0, this)."""


@dataclass(frozen=True)
class SamplingStats:
    """What the last :meth:`FlowSampler.sample` / :meth:`FlowSampler.stream` call did.

    Attributes:
        frames: output frames ``T``.
        windows: windows sampled (``ceil(T / L)``).
        model_calls: transformer forward passes (FLOAT, 2 windows, nfe 10, Euler: 18). All guidance branches of
            one evaluation are batched into one pass.
        rows_per_call: batch rows per pass (``B`` times the number of guidance branches: ``3B`` for FLOAT's
            default scales, ``B`` when both scales are 1).
        solver: solver name.
        time_grid_points: points of the time grid (FLOAT's ``nfe``).
        seed: the seed the noise was drawn from (None when explicit noise was given).
        seconds: wall time of the whole call.
        first_window_seconds: wall time from the start of the call to the first finished window (streaming
            latency; it includes waiting for the first condition chunks).
    """

    frames: int
    windows: int
    model_calls: int
    rows_per_call: int
    solver: str
    time_grid_points: int
    seed: int | None
    seconds: float
    first_window_seconds: float


SamplingT = TypeVar("SamplingT", bound="WindowedSampling")


class WindowedSampling:
    """Guided, windowed, streamable ODE sampling of a vector-field network that the subclass also is.

    The sampling half of :class:`FlowSampler`, shared with other families' motion generators whose network differs
    (:mod:`motionkit.families.imtalker`): a subclass is an ``nn.Module`` whose ``forward(x, t, inputs)`` is a
    :class:`~motionkit.flow.guidance.VectorField`, with a :class:`~motionkit.config.FlowConfig` as ``config``. It may
    override :meth:`guided_field` (how guidance combines the network's outputs) and :meth:`prepare_conditions` (what
    the window schedule is fed for each chunk of user conditions).
    """

    config: FlowConfig
    last_stats: SamplingStats | None
    cuda_graphs: bool
    graph_cache: CUDAGraphCache

    def _init_sampling(self) -> None:
        self.last_stats = None
        self.cuda_graphs = False
        self.graph_cache = CUDAGraphCache()

    @property
    def window(self) -> int:
        """Frames sampled per window (``L``, FLOAT: 50)."""
        return self.config.window

    @property
    def latent_dim(self) -> int:
        """Size ``D`` of the motion latents sampled (``config.motion_dim``)."""
        return self.config.motion_dim

    @property
    def default_guidance(self) -> GuidanceConfig:
        """The guidance scales used when :meth:`sample` is given none (``config.guidance``)."""
        return self.config.guidance

    def guided_field(self, model: VectorField, guidance: GuidanceConfig) -> ClassifierFreeGuidance:
        """The guided field the solver integrates (FLOAT's audio/emotion classifier-free guidance)."""
        return ClassifierFreeGuidance(model, guidance)

    def prepare_conditions(self, conditions: Conditions) -> Conditions:
        """The conditions the window schedule receives for one chunk (FLOAT: the chunk itself)."""
        return conditions

    def parameter_like(self) -> torch.Tensor:
        """A tensor with the network's device and dtype (the source motion and noise follow it)."""
        raise NotImplementedError

    def use_cuda_graphs(self: SamplingT, enabled: bool = True) -> SamplingT:
        """Sample on CUDA by replaying captured graphs of the transformer's forward (:mod:`motionkit.flow.cuda_graphs`);
        returns ``self``.

        The first window of each new input signature (batch, window shape, dtype, autocast state) is captured after
        a few eager warm-up calls; later model calls replay it, with the same kernels on the same values, so
        results equal eager sampling. Other devices ignore the setting. Turning it off frees the graphs.
        """
        self.cuda_graphs = enabled
        if not enabled:
            self.graph_cache.clear()
        return self

    def sample(
        self,
        conditions: Conditions,
        source_motion: torch.Tensor,
        *,
        nfe: int | None = None,
        solver: str | Solver | None = None,
        guidance: GuidanceConfig | None = None,
        seed: int | None = None,
        noise: NoiseInput | None = None,
        time_grid: torch.Tensor | None = None,
    ) -> MotionTrack:
        """Generate the motion of a whole clip.

        Args:
            conditions: audio ``(B, T, Da)`` and per-frame emotion ``(B, T, E)`` of the whole clip.
            source_motion: ``(B, D)`` motion ``r_s`` of the source portrait (``wr``).
            nfe: points of the time grid ``linspace(0, 1, nfe)`` (FLOAT's meaning: Euler makes ``nfe - 1`` model
                calls per window). Default ``config.nfe`` (10).
            solver: ``"euler"`` (default, FLOAT-exact), ``"midpoint"``, ``"heun"``, ``"rk4"`` or a ``Solver``.
            guidance: audio / emotion scales; default ``config.guidance`` (2.0 / 1.0, FLOAT's).
            seed: noise seed; frame ``t``'s initial noise depends only on ``(seed, t)`` (see ``motionkit.flow.noise``).
            noise: explicit initial noise instead of a seed: one ``(B, L, D)`` tensor per window (a sequence or a
                ``(W, B, L, D)`` tensor), or a single ``(B, L, D)`` tensor for every window (FLOAT's
                ``--fix_noise_seed``, see ``float_fixed_noise``), or a ready ``NoiseSource`` (used as is). Without
                ``seed`` and ``noise`` a seed is drawn from torch's global generator and reported in
                :attr:`last_stats`.
            time_grid: custom strictly increasing integration times (instead of ``nfe``).
        Returns:
            ``MotionTrack`` with latents ``(B, T, D)``, ``fps = conditions.fps`` and ``source = source_motion``.
        """
        started = time.perf_counter()
        source = self._source(source_motion)
        if not isinstance(conditions, Conditions):
            raise ShapeError(f"conditions must be a motionkit.Conditions, got {type(conditions).__name__}.")
        if conditions.frames == 0:
            raise ShapeError("conditions have no frames; pass at least one frame of audio and emotion.")
        windows = math.ceil(conditions.frames / self.config.window)
        schedule, used_seed, branches = self._schedule(source, nfe, solver, guidance, seed, noise, time_grid, windows)
        with torch.no_grad():
            parts = schedule.push(self.prepare_conditions(conditions))
            last = schedule.finish()
        latents = torch.cat([*parts, last] if last is not None else parts, dim=1)
        self.last_stats = _stats(schedule, latents.shape[1], used_seed, branches, started)
        return MotionTrack(latents, fps=conditions.fps, source=source)

    def stream(
        self,
        condition_chunks: Iterable[Conditions],
        source_motion: torch.Tensor,
        *,
        nfe: int | None = None,
        solver: str | Solver | None = None,
        guidance: GuidanceConfig | None = None,
        seed: int | None = None,
        noise: NoiseInput | None = None,
        time_grid: torch.Tensor | None = None,
    ) -> Iterator[MotionTrack]:
        """Generate motion while conditions arrive: yields a ``MotionTrack`` of ``L`` frames for every completed
        window, then the remaining frames of the last (padded) window when ``condition_chunks`` is exhausted.

        The chunks may have any sizes; the concatenated output equals :meth:`sample` of the concatenated conditions
        with the same seed (or noise). Arguments as in :meth:`sample`. :attr:`last_stats` is set when the
        iterator is exhausted; its ``first_window_seconds`` is the latency to the first yielded window.
        """
        started = time.perf_counter()
        source = self._source(source_motion)
        schedule, used_seed, branches = self._schedule(source, nfe, solver, guidance, seed, noise, time_grid, None)
        frames = 0
        fps = 25.0
        for chunk in condition_chunks:
            # Grad mode is thread-local: keep no_grad around the computation only, never across a yield.
            with torch.no_grad():
                parts = schedule.push(self.prepare_conditions(chunk))
            fps = chunk.fps
            for part in parts:
                frames += part.shape[1]
                yield MotionTrack(part, fps=fps, source=source)
        with torch.no_grad():
            last = schedule.finish()
        if last is not None:
            frames += last.shape[1]
            yield MotionTrack(last, fps=fps, source=source)
        self.last_stats = _stats(schedule, frames, used_seed, branches, started)

    def _source(self, source_motion: torch.Tensor) -> torch.Tensor:
        check_tensor("source_motion", source_motion, ndim=2, last_dim=self.config.motion_dim, hint="Expected (B, D).")
        weight = self.parameter_like()
        return source_motion.to(device=weight.device, dtype=weight.dtype)

    def live(
        self,
        source_motion: torch.Tensor,
        *,
        chunk_frames: int,
        lookahead_frames: int,
        nfe: int | None = None,
        solver: str | Solver | None = None,
        guidance: GuidanceConfig | None = None,
        seed: int = 0,
        time_grid: torch.Tensor | None = None,
        window_frames: int | None = None,
        output: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> LiveMotion:
        """A live sampling session (:mod:`motionkit.flow.live`): push conditions as they arrive, get motion in
        chunks of ``chunk_frames`` frames once ``lookahead_frames`` more condition frames are in.

        ``chunk_frames = window`` with ``lookahead_frames = 0`` reproduces :meth:`sample` with the same seed.
        Other arguments as in :meth:`sample`; the noise is always seeded (frame ``t`` gets the noise of ``(seed,
        t)``), so a session is deterministic. ``window_frames`` (partial windows) and ``output`` (a map of every emitted
        chunk): see :class:`LiveMotion`.
        """
        source = self._source(source_motion)
        window_sampler, _, _ = self._window_sampler(source, nfe, solver, guidance, seed, None, time_grid, None)
        # only a family that prepares its own conditions needs them prepared (and cannot change emotion live)
        own = type(self).prepare_conditions is not WindowedSampling.prepare_conditions
        prepare = self.prepare_conditions if own else None
        return LiveMotion(window_sampler, self.config, chunk_frames, lookahead_frames, window_frames, output, prepare)

    def _schedule(
        self,
        source: torch.Tensor,
        nfe: int | None,
        solver: str | Solver | None,
        guidance: GuidanceConfig | None,
        seed: int | None,
        noise: NoiseInput | None,
        time_grid: torch.Tensor | None,
        windows: int | None,
    ) -> tuple[WindowSchedule, int | None, int]:
        """The window schedule of one call, the seed used, and the number of guidance branches per model call."""
        parts, used_seed, branches = self._window_sampler(
            source, nfe, solver, guidance, seed, noise, time_grid, windows
        )
        schedule = WindowSchedule(parts.model, source, self.config, parts.solver, parts.time_grid, parts.noise)
        return schedule, used_seed, branches

    def _window_sampler(
        self,
        source: torch.Tensor,
        nfe: int | None,
        solver: str | Solver | None,
        guidance: GuidanceConfig | None,
        seed: int | None,
        noise: NoiseInput | None,
        time_grid: torch.Tensor | None,
        windows: int | None,
    ) -> tuple[WindowSampler, int | None, int]:
        """The one-window sampler of a call, the seed used, and the number of guidance branches per model call."""
        cfg = self.config
        if time_grid is not None and nfe is not None:
            raise ConfigError("give either nfe (a uniform grid of nfe points) or time_grid, not both.")
        if seed is not None and noise is not None:
            raise ConfigError("give either seed or noise, not both.")
        if guidance is not None and not isinstance(guidance, GuidanceConfig):
            raise ConfigError(
                f"guidance must be a GuidanceConfig(audio_scale=..., emotion_scale=...), got {type(guidance).__name__}."
            )
        device = source.device
        grid = (
            uniform_time_grid(cfg.nfe if nfe is None else nfe, device)
            if time_grid is None
            else check_time_grid(time_grid).to(device)
        )
        source_of_noise: NoiseSource
        if isinstance(noise, NoiseSource):
            source_of_noise = noise
        elif noise is not None:
            source_of_noise = ExplicitNoise(noise, windows)
        else:
            seed = int(torch.randint(0, SEED_RANGE, (1,)).item()) if seed is None else seed
            source_of_noise = SeededNoise(seed)
        network = cast(torch.nn.Module, self)  # a subclass is the network (see the class docstring)
        model: VectorField = self.graph_cache.field(network) if self.cuda_graphs and device.type == "cuda" else network
        guided = self.guided_field(model, guidance or cfg.guidance)
        sampler = WindowSampler(guided, source, cfg, get_solver(solver or cfg.solver), grid, source_of_noise)
        return sampler, seed, len(guided.branches)


class FlowSampler(WindowedSampling, FlowTransformer):
    """FLOAT's flow-matching motion generator.

    The module *is* the flow transformer (FLOAT's ``fmt``: same sub-module names, so ``state_dict()`` keys are the
    official ones without the ``fmt.`` prefix) and adds sampling (:class:`WindowedSampling`): Euler (FLOAT-exact) or
    higher-order solvers on any time grid, classifier-free guidance with audio/emotion scales, windowed sampling of
    any length, seeded per-frame noise, and streaming. After each call, :attr:`last_stats` holds a
    :class:`SamplingStats`.

    Args:
        config: sizes and defaults (default: the official ``float-512`` model).

    Attributes:
        cuda_graphs: replay the transformer's forward from CUDA graphs when sampling on a CUDA device (see
            :meth:`use_cuda_graphs`); off by default.
    """

    def __init__(self, config: FlowConfig = FlowConfig()) -> None:  # noqa: B008 (frozen, immutable default)
        super().__init__(config)
        self._init_sampling()

    def parameter_like(self) -> torch.Tensor:
        return self.pos_embed


def _stats(schedule: WindowSchedule, frames: int, seed: int | None, branches: int, started: float) -> SamplingStats:
    return SamplingStats(
        frames=frames,
        windows=schedule.windows,
        model_calls=schedule.evaluations,
        rows_per_call=branches * schedule.sampler.source_motion.shape[0],
        solver=schedule.sampler.solver.name,
        time_grid_points=int(schedule.sampler.time_grid.numel()),
        seed=seed,
        seconds=time.perf_counter() - started,
        first_window_seconds=schedule.first_window_seconds or 0.0,
    )
