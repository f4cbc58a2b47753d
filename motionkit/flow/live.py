"""Live sampling: motion in chunks of a few frames as conditions arrive, with a bounded audio lookahead.

Offline, a window of ``L`` frames (FLOAT: 50) waits for all of its ``L`` condition frames, so the first frame
exists only after ``L`` frames of speech (2 s). Live, the windows slide by ``c`` frames (the chunk) and only see
``A`` frames beyond it (the lookahead). With ``e`` frames emitted so far, the next window starts at frame ``e``::

    visible  = conditions of frames [e, e + c + A)              waits until they have arrived
    wa, we   = visible, padded to W frames by repeating the last visible frame (FLOAT's end-of-clip padding)
    context  = the last L' *emitted* frames of motion, audio and emotion (clean; zeros before frame 0)
    x        = ODE solve of the window from the seeded noise of frames [e, e + W)
    emit       x[:, :c]; the context advances by those c frames; the other W - c frames are dropped

so every emitted frame is one of the first ``c`` frames of a window, right after ``L'`` clean context frames:
the place where training puts a window's first frames, which is what the boundary-step loss targets. The window
has ``W`` frames: the model's ``L`` by default, or fewer (``c + A <= W < L``, a *partial window* at the first
``L' + W`` positions: the banded attention lets the frames beyond ``c + A``, which only repeat the last visible
audio, matter little to the emitted ones). Each chunk costs one window's solve (``L' + W`` tokens), so the work per
emitted frame is about ``(L' + W) / c`` token-solves against ``(L' + L) / L`` offline.

Properties (tested in ``tests/flow/test_flow_live.py``):

* ``c = L`` and ``A = 0`` is offline sampling exactly (every window sees its ``L`` frames, nothing is dropped);
* the output depends on the conditions, ``c``, ``A``, the solver settings and the seed only, never on how the
  conditions were cut into :meth:`LiveMotion.push` calls, and frame ``t``'s initial noise is the one of
  :func:`~motionkit.flow.noise.frame_noise` for ``t``, whatever the chunk;
* a frame is emitted as soon as the conditions of ``A`` frames after its chunk have arrived; at the end of speech
  :meth:`LiveMotion.finish` emits the rest, its last windows padded like the last offline window.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from motionkit.config.flow import FlowConfig
from motionkit.errors import ConfigError
from motionkit.flow.windows import (
    PendingConditions,
    WindowContext,
    WindowSampler,
    check_conditions,
    pad_to_window,
)
from motionkit.types import Conditions


def check_live_sizes(chunk_frames: int, lookahead_frames: int, window_frames: int | None, window: int) -> int:
    """The live window ``W`` (``window_frames``, default the model's ``window``), or a :class:`ConfigError` unless
    ``1 <= chunk_frames``, ``0 <= lookahead_frames`` and ``chunk_frames + lookahead_frames <= W <= window`` (a
    window holds the chunk and its lookahead)."""
    for name, value, least in (("chunk_frames", chunk_frames, 1), ("lookahead_frames", lookahead_frames, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}.")
    size = window if window_frames is None else window_frames
    if isinstance(size, bool) or not isinstance(size, int) or size > window:
        raise ConfigError(f"window_frames must be an integer <= the model's window of {window} frames, got {size!r}.")
    if chunk_frames + lookahead_frames > size:
        raise ConfigError(
            f"chunk_frames + lookahead_frames = {chunk_frames + lookahead_frames} exceeds the window of {size} "
            "frames, which must hold a chunk and its lookahead; use smaller values (or a larger window_frames)."
        )
    return size


class LiveMotion:
    """A live sampling session over a :class:`WindowSampler` (see the module docstring); built by
    :meth:`motionkit.FlowSampler.live`.

    Args:
        sampler: samples one window (model, guidance, solver, time grid, noise).
        config: the model's window sizes and feature dimensions.
        chunk_frames: ``c``, frames emitted per window.
        lookahead_frames: ``A``, condition frames after a chunk that its window waits for.
        window_frames: ``W``, frames of each window (default the model's ``L``; fewer is cheaper, a partial window
            at the first ``L' + W`` positions, and then at most ``c + A + FlowConfig.attention_reach`` frames).
        output: applied to every emitted ``(B, n, D)`` chunk (a family's map from the flow model's space to its
            motion, e.g. the photo family's de-normalisation); the context keeps the flow model's values.
        prepare: applied to every pushed chunk of conditions before it is queued (a family's own conditions, e.g.
            IMTalker's controls projected into the ``emotion`` slot); None: the chunk as it is.

    Attributes:
        frames_in: condition frames received.
        frames_out: motion frames emitted.
    """

    def __init__(
        self,
        sampler: WindowSampler,
        config: FlowConfig,
        chunk_frames: int,
        lookahead_frames: int,
        window_frames: int | None = None,
        output: Callable[[torch.Tensor], torch.Tensor] | None = None,
        prepare: Callable[[Conditions], Conditions] | None = None,
    ) -> None:
        size = check_live_sizes(chunk_frames, lookahead_frames, window_frames, config.window)
        if window_frames is not None:
            # a partial window's frames past the attention's reach from the visible ones cannot reach the chunk in
            # an evaluation (only through the states between solver steps): the banded synthetic-demo gave the
            # same figures without them (docs/live.md), at less work
            size = min(size, chunk_frames + lookahead_frames + config.attention_reach)
        self.window_frames = size
        self.output = output
        self.prepare = prepare
        self.sampler = sampler
        self.config = config
        self.chunk_frames = chunk_frames
        self.lookahead_frames = lookahead_frames
        self.context = WindowContext(sampler.source_motion, config)
        self.pending = PendingConditions(sampler.source_motion, config)
        self.fps: float | None = None
        self.frames_in = 0
        self.frames_out = 0

    @property
    def windows(self) -> int:
        """Windows sampled so far (one per emitted chunk)."""
        return self.sampler.windows

    @property
    def evaluations(self) -> int:
        """Velocity-model calls so far."""
        return self.sampler.evaluations

    def push(self, conditions: Conditions) -> list[torch.Tensor]:
        """Add condition frames; returns the ``(B, c, D)`` motion of every chunk whose window they complete."""
        with torch.no_grad():
            if self.prepare is not None:
                conditions = self.prepare(conditions)
            self.fps = check_conditions(conditions, self.sampler.source_motion.shape[0], self.config, self.fps)
            self.pending.append(conditions)
            self.frames_in += conditions.frames
            visible = self.chunk_frames + self.lookahead_frames
            out = []
            while self.pending.frames >= visible:
                out.append(self._step(visible, self.chunk_frames))
        return out

    @property
    def pending_frames(self) -> int:
        """Condition frames received and not yet sampled: frames ``[frames_out, frames_in)``."""
        return self.pending.frames

    def replace_pending_emotion(self, emotion: torch.Tensor) -> None:
        """Give the :attr:`pending_frames` frames (received, not yet sampled) the ``(B, n, E)`` emotion ``emotion``:
        an emotion changed mid-session then shapes every chunk sampled from now on, not only the frames whose
        conditions arrive later. The context keeps the emitted frames' emotion.

        Raises:
            ShapeError: ``emotion`` is not ``(B, pending_frames, E)``.
            ConfigError: the session prepares its conditions (``prepare``): its ``emotion`` slot holds what the
                family put there (IMTalker: its controls), not an emotion.
        """
        if not self.accepts_emotion:
            raise ConfigError(
                "this model's generator fills the emotion slot with its own conditions (IMTalker: pose, cam and "
                "gaze), so the emotion cannot change mid-session; start a new session instead."
            )
        self.pending.replace_emotion(emotion)

    @property
    def accepts_emotion(self) -> bool:
        """Whether the emotion can change mid-session (:meth:`replace_pending_emotion`): not when ``prepare`` fills
        the emotion slot."""
        return self.prepare is None

    def finish(self) -> list[torch.Tensor]:
        """End of the conditions: the motion of the remaining frames, in chunks of at most ``c`` frames (the
        windows see what remains of the lookahead, padded)."""
        visible = self.chunk_frames + self.lookahead_frames
        out = []
        with torch.no_grad():
            while self.pending.frames > 0:
                out.append(self._step(min(visible, self.pending.frames), min(self.chunk_frames, self.pending.frames)))
        return out

    def _step(self, visible: int, keep: int) -> torch.Tensor:
        """Sample the window at the next frame from ``visible`` pending frames; emit and consume ``keep``."""
        L = self.window_frames
        wa, we = self.pending.peek(visible)
        motion = self.sampler.sample(self.context, pad_to_window(wa, L), pad_to_window(we, L), self.frames_out)
        kept = motion[:, :keep]
        self.context.advance(kept, wa[:, :keep], we[:, :keep])
        self.pending.take(keep)
        self.frames_out += keep
        return kept if self.output is None else self.output(kept)
