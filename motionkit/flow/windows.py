"""FLOAT's windowed sampling of any length, as an incremental schedule that also serves streaming.

A clip of ``T`` frames is generated in windows of ``L`` frames (FLOAT: 50), each conditioned on ``L'`` context
frames (FLOAT: 10). For window ``k`` (frames ``kL .. kL + L - 1``)::

    wa_k, we_k = audio / emotion of those frames; the last window is padded by repeating its last frame
    prev_x     = last L' frames of window k-1's final state           (zeros for k = 0)
    prev_wa    = last L' frames of window k-1's (padded) audio slice  (zeros for k = 0)
    x_k(t_0)   = noise of window k
    x_k        = ODE solve of dx/dt = v(x, t)[:, L':] over the time grid (v is the guided field)

and the windows are concatenated and truncated to ``T``. Emotion is per frame: the ``L'`` context frames get the
previous window's last ``L'`` emotion frames (for ``k = 0``, the first frame's emotion, or zeros when
``FlowConfig.first_context`` is ``"zeros"`` as in IMTalker), so a constant emotion gives exactly FLOAT's clip-level
conditioning. Because a window only needs its own ``L`` condition frames and the
previous window's result, conditions can arrive in chunks of any size: :class:`WindowSchedule` runs each window
as soon as its ``L`` frames are in, and the result does not depend on the chunking.
"""

from __future__ import annotations

import time

import torch

from motionkit.config.flow import FlowConfig
from motionkit.errors import ShapeError
from motionkit.flow.guidance import VectorField
from motionkit.flow.inputs import VectorFieldInputs
from motionkit.flow.noise import NoiseSource
from motionkit.flow.solvers import Solver, solve_ode
from motionkit.types import Conditions


def pad_to_window(x: torch.Tensor, length: int) -> torch.Tensor:
    """``(B, n, C)`` -> ``(B, length, C)`` by repeating the last frame (FLOAT's padding of the last window)."""
    missing = length - x.shape[1]
    if missing <= 0:
        return x
    return torch.cat([x, x[:, -1:].expand(-1, missing, -1)], dim=1)


class WindowContext:
    """The clean context a window is conditioned on: the last ``L'`` frames of motion, audio and emotion before it.

    Before the first frame the motion and audio are zeros and the emotion is unset (the first window then repeats
    its own first emotion frame, as FLOAT's clip-level emotion does, or sees zeros where ``config.first_context``
    is ``"zeros"``, as IMTalker's does). :meth:`advance` appends the frames that
    were kept and keeps the last ``L'``; appending a whole window of ``L >= L'`` frames gives FLOAT's
    ``prev_x = x_k[:, L - L':]`` exactly.

    Args:
        source_motion: ``(B, D)`` tensor whose batch, device and dtype the context takes.
        config: the sizes ``L'``, ``D``, ``Da``, ``E``.
    """

    def __init__(self, source_motion: torch.Tensor, config: FlowConfig) -> None:
        B = source_motion.shape[0]
        self.frames = config.context
        self.emotion_dim = config.emotion_dim
        self.prev_x = source_motion.new_zeros(B, config.context, config.motion_dim)
        self.prev_wa = source_motion.new_zeros(B, config.context, config.audio_dim)
        self.first_context = config.first_context
        self.prev_we: torch.Tensor | None = None

    def _initial_emotion(self, we: torch.Tensor) -> torch.Tensor:
        """``(B, L', E)``: the emotion context before the first frame (``first_context``: the first frame's
        emotion repeated, or zeros)."""
        first = we[:, :1].expand(we.shape[0], self.frames, self.emotion_dim)
        return first if self.first_context == "first_frame" else torch.zeros_like(first)

    def emotion_frames(self, we: torch.Tensor) -> torch.Tensor:
        """``(B, L' + L, E)``: the context's emotion (or :meth:`_initial_emotion` before any frame) then ``we``."""
        prev_we = self._initial_emotion(we) if self.prev_we is None else self.prev_we
        return torch.cat([prev_we, we], dim=1)

    def advance(self, x: torch.Tensor, wa: torch.Tensor, we: torch.Tensor) -> None:
        """Append ``n`` kept frames of motion ``(B, n, D)``, audio ``(B, n, Da)`` and emotion ``(B, n, E)``."""
        Lc = self.frames
        self.prev_x = torch.cat([self.prev_x, x], dim=1)[:, x.shape[1] + self.prev_x.shape[1] - Lc :]
        self.prev_wa = torch.cat([self.prev_wa, wa], dim=1)[:, wa.shape[1] + self.prev_wa.shape[1] - Lc :]
        if self.prev_we is None:
            self.prev_we = self._initial_emotion(we)
        self.prev_we = torch.cat([self.prev_we, we], dim=1)[:, we.shape[1] + self.prev_we.shape[1] - Lc :]


class WindowSampler:
    """Samples one window of ``L`` frames at any frame offset, conditioned on a :class:`WindowContext`.

    Args:
        model: the (guided) vector field, called as ``model(x, t, inputs)`` (a
            :class:`~motionkit.flow.inputs.VectorFieldInputs`) and returning ``(B, L' + L, D)``.
        source_motion: ``(B, D)`` source motion ``wr`` (on the model's device and dtype).
        config: window sizes ``L``, ``L'`` and feature dimensions.
        solver: ODE method.
        time_grid: ``(K + 1,)`` integration times.
        noise: initial noise per window.

    Attributes:
        windows: windows sampled so far (the index the noise source is asked for next).
        evaluations: velocity-model calls so far.
    """

    def __init__(
        self,
        model: VectorField,
        source_motion: torch.Tensor,
        config: FlowConfig,
        solver: Solver,
        time_grid: torch.Tensor,
        noise: NoiseSource,
    ) -> None:
        self.model = model
        self.source_motion = source_motion
        self.config = config
        self.solver = solver
        self.time_grid = time_grid
        self.noise = noise
        self.windows = 0
        self.evaluations = 0

    def sample(self, context: WindowContext, wa: torch.Tensor, we: torch.Tensor, first_frame: int) -> torch.Tensor:
        """The ``(B, n, D)`` motion of the window whose first frame is ``first_frame`` (absolute; it selects the
        seeded noise), from its ``(B, n, Da)`` audio and ``(B, n, E)`` emotion: a whole window (``n = L``) or a
        partial one (``n < L``, live sampling). ``context`` is read, not advanced."""
        B, L, Lc = wa.shape[0], wa.shape[1], self.config.context
        inputs = VectorFieldInputs(
            wa=wa, wr=self.source_motion, we=context.emotion_frames(we), prev_x=context.prev_x, prev_wa=context.prev_wa
        )

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.model(x, t, inputs)[:, Lc:]

        x0 = self.noise.window(self.windows, first_frame, (B, L, self.config.motion_dim), like=wa)
        solution = solve_ode(velocity, x0, self.time_grid, self.solver)
        self.windows += 1
        self.evaluations += solution.evaluations
        return solution.x


class WindowSchedule:
    """Incremental windowed sampler: :meth:`push` condition chunks, then :meth:`finish`.

    Args:
        model: the (guided) vector field, called as ``model(x, t, inputs)`` (a
            :class:`~motionkit.flow.inputs.VectorFieldInputs`) and returning ``(B, L' + L, D)``.
        source_motion: ``(B, D)`` source motion ``wr`` (on the model's device and dtype).
        config: window sizes ``L``, ``L'`` and feature dimensions.
        solver: ODE method.
        time_grid: ``(K + 1,)`` integration times.
        noise: initial noise per window.

    Attributes:
        sampler: the :class:`WindowSampler` that holds the model, source motion, solver, time grid and noise.
        windows: windows sampled so far.
        evaluations: velocity-model calls so far.
        frames_in: condition frames received so far.
        first_window_seconds: seconds from construction to the end of the first window (None before it).
    """

    def __init__(
        self,
        model: VectorField,
        source_motion: torch.Tensor,
        config: FlowConfig,
        solver: Solver,
        time_grid: torch.Tensor,
        noise: NoiseSource,
    ) -> None:
        self.sampler = WindowSampler(model, source_motion, config, solver, time_grid, noise)
        self.context = WindowContext(source_motion, config)
        self.pending = PendingConditions(source_motion, config)
        self.fps: float | None = None
        self.frames_in = 0
        self.started = time.perf_counter()
        self.first_window_seconds: float | None = None

    @property
    def config(self) -> FlowConfig:
        return self.sampler.config

    @property
    def windows(self) -> int:
        return self.sampler.windows

    @property
    def evaluations(self) -> int:
        return self.sampler.evaluations

    def push(self, conditions: Conditions) -> list[torch.Tensor]:
        """Add condition frames; returns the ``(B, L, D)`` motion of every window they complete (maybe none)."""
        self.fps = check_conditions(conditions, self.sampler.source_motion.shape[0], self.config, self.fps)
        self.pending.append(conditions)
        self.frames_in += conditions.frames
        L = self.config.window
        out = []
        while self.pending.frames >= L:
            wa, we = self.pending.take(L)
            out.append(self._window(wa, we))
        return out

    def finish(self) -> torch.Tensor | None:
        """Sample the last, partial window (padded by repeating its last frame); returns its real frames or None."""
        if self.frames_in == 0:
            raise ShapeError("no condition frames were given; pass at least one frame of audio and emotion.")
        remaining = self.pending.frames
        if remaining == 0:
            return None
        L = self.config.window
        wa, we = self.pending.take(remaining)
        motion = self._window(pad_to_window(wa, L), pad_to_window(we, L))
        return motion[:, :remaining]

    def _window(self, wa: torch.Tensor, we: torch.Tensor) -> torch.Tensor:
        """Sample one full window from its ``(B, L, Da)`` audio and ``(B, L, E)`` emotion; update the context."""
        motion = self.sampler.sample(self.context, wa, we, (self.sampler.windows) * self.config.window)
        self.context.advance(motion, wa, we)
        if self.first_window_seconds is None:
            self.first_window_seconds = time.perf_counter() - self.started
        return motion


class PendingConditions:
    """Condition frames received but not yet sampled: ``audio (B, n, Da)`` and ``emotion (B, n, E)``."""

    def __init__(self, like: torch.Tensor, config: FlowConfig) -> None:
        B = like.shape[0]
        self.like = like
        self.audio = like.new_zeros(B, 0, config.audio_dim)
        self.emotion = like.new_zeros(B, 0, config.emotion_dim)

    @property
    def frames(self) -> int:
        return self.audio.shape[1]

    def append(self, conditions: Conditions) -> None:
        """Append a chunk (moved to the device and dtype of ``like``)."""
        like = self.like
        audio = conditions.audio.to(device=like.device, dtype=like.dtype)
        emotion = conditions.emotion.to(device=like.device, dtype=like.dtype)
        self.audio = torch.cat([self.audio, audio], dim=1)
        self.emotion = torch.cat([self.emotion, emotion], dim=1)

    def replace_emotion(self, emotion: torch.Tensor) -> None:
        """Replace the pending frames' emotion with ``(B, n, E)`` weights, ``n`` = :attr:`frames` (moved to the
        device and dtype of ``like``)."""
        if emotion.shape != self.emotion.shape:
            raise ShapeError(
                f"the pending frames' emotion has shape {tuple(self.emotion.shape)}, got {tuple(emotion.shape)}."
            )
        self.emotion = emotion.to(device=self.like.device, dtype=self.like.dtype)

    def peek(self, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``frames`` frames (fewer if fewer are pending), left pending."""
        return self.audio[:, :frames], self.emotion[:, :frames]

    def take(self, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``frames`` frames, removed."""
        out = self.peek(frames)
        self.audio = self.audio[:, frames:]
        self.emotion = self.emotion[:, frames:]
        return out


def check_conditions(conditions: Conditions, batch: int, config: FlowConfig, fps: float | None) -> float:
    """Check a condition chunk against the model's sizes, the batch and the stream's frame rate ``fps`` (None
    before the first chunk); returns the chunk's frame rate."""
    if not isinstance(conditions, Conditions):
        raise ShapeError(f"conditions must be a motionkit.Conditions, got {type(conditions).__name__}.")
    if conditions.batch != batch:
        raise ShapeError(f"conditions have batch {conditions.batch} but source_motion has batch {batch}.")
    if conditions.audio.shape[-1] != config.audio_dim or conditions.emotion.shape[-1] != config.emotion_dim:
        raise ShapeError(
            f"conditions must have audio (B, T, {config.audio_dim}) and emotion (B, T, {config.emotion_dim}) for "
            f"this model, got audio {tuple(conditions.audio.shape)} and emotion {tuple(conditions.emotion.shape)}."
        )
    if fps is not None and conditions.fps != fps:
        raise ShapeError(f"condition chunks must share one frame rate: got {conditions.fps} after {fps}.")
    return conditions.fps
