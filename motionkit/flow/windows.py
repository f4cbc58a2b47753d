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
        self.model = model
        self.source_motion = source_motion
        self.config = config
        self.solver = solver
        self.time_grid = time_grid
        self.noise = noise
        B = source_motion.shape[0]
        like = source_motion
        self.prev_x = like.new_zeros(B, config.context, config.motion_dim)
        self.prev_wa = like.new_zeros(B, config.context, config.audio_dim)
        self.prev_we: torch.Tensor | None = None
        self.pending_audio = like.new_zeros(B, 0, config.audio_dim)
        self.pending_emotion = like.new_zeros(B, 0, config.emotion_dim)
        self.fps: float | None = None
        self.windows = 0
        self.evaluations = 0
        self.frames_in = 0
        self.started = time.perf_counter()
        self.first_window_seconds: float | None = None

    def push(self, conditions: Conditions) -> list[torch.Tensor]:
        """Add condition frames; returns the ``(B, L, D)`` motion of every window they complete (maybe none)."""
        self._check(conditions)
        like = self.source_motion
        audio = conditions.audio.to(device=like.device, dtype=like.dtype)
        emotion = conditions.emotion.to(device=like.device, dtype=like.dtype)
        self.pending_audio = torch.cat([self.pending_audio, audio], dim=1)
        self.pending_emotion = torch.cat([self.pending_emotion, emotion], dim=1)
        self.frames_in += conditions.frames
        L = self.config.window
        out = []
        while self.pending_audio.shape[1] >= L:
            out.append(self._window(self.pending_audio[:, :L], self.pending_emotion[:, :L]))
            self.pending_audio = self.pending_audio[:, L:]
            self.pending_emotion = self.pending_emotion[:, L:]
        return out

    def finish(self) -> torch.Tensor | None:
        """Sample the last, partial window (padded by repeating its last frame); returns its real frames or None."""
        if self.frames_in == 0:
            raise ShapeError("no condition frames were given; pass at least one frame of audio and emotion.")
        remaining = self.pending_audio.shape[1]
        if remaining == 0:
            return None
        L = self.config.window
        motion = self._window(pad_to_window(self.pending_audio, L), pad_to_window(self.pending_emotion, L))
        self.pending_audio = self.pending_audio[:, :0]
        self.pending_emotion = self.pending_emotion[:, :0]
        return motion[:, :remaining]

    def _check(self, conditions: Conditions) -> None:
        if not isinstance(conditions, Conditions):
            raise ShapeError(f"conditions must be a motionkit.Conditions, got {type(conditions).__name__}.")
        cfg = self.config
        B = self.source_motion.shape[0]
        if conditions.batch != B:
            raise ShapeError(f"conditions have batch {conditions.batch} but source_motion has batch {B}.")
        if conditions.audio.shape[-1] != cfg.audio_dim or conditions.emotion.shape[-1] != cfg.emotion_dim:
            raise ShapeError(
                f"conditions must have audio (B, T, {cfg.audio_dim}) and emotion (B, T, {cfg.emotion_dim}) for this "
                f"model, got audio {tuple(conditions.audio.shape)} and emotion {tuple(conditions.emotion.shape)}."
            )
        if self.fps is not None and conditions.fps != self.fps:
            raise ShapeError(f"condition chunks must share one frame rate: got {conditions.fps} after {self.fps}.")
        self.fps = conditions.fps

    def _window(self, wa: torch.Tensor, we: torch.Tensor) -> torch.Tensor:
        """Sample one full window from its ``(B, L, Da)`` audio and ``(B, L, E)`` emotion; update the context."""
        cfg = self.config
        B, L, Lc = wa.shape[0], cfg.window, cfg.context
        prev_we = self.prev_we
        if prev_we is None:
            first = we[:, :1].expand(B, Lc, cfg.emotion_dim)
            prev_we = first if cfg.first_context == "first_frame" else torch.zeros_like(first)
        we_frames = torch.cat([prev_we, we], dim=1)
        inputs = VectorFieldInputs(wa=wa, wr=self.source_motion, we=we_frames, prev_x=self.prev_x, prev_wa=self.prev_wa)

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.model(x, t, inputs)[:, Lc:]

        x0 = self.noise.window(self.windows, self.windows * L, (B, L, cfg.motion_dim), like=wa)
        solution = solve_ode(velocity, x0, self.time_grid, self.solver)
        motion = solution.x
        self.prev_x = motion[:, L - Lc :]
        self.prev_wa = wa[:, L - Lc :]
        self.prev_we = we[:, L - Lc :]
        self.windows += 1
        self.evaluations += solution.evaluations
        if self.first_window_seconds is None:
            self.first_window_seconds = time.perf_counter() - self.started
        return motion
