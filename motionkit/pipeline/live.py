"""Live sessions: speech pushed as it is spoken, frames out within a bounded delay.

::

    push_audio(samples) --Conditioner.live (causal)--> Conditions of the completed frames
        --generator.live (motionkit.flow.live: chunks of c frames, A frames of lookahead)--> motion chunks
        --EditProgram (session time, with the last edit_history_frames frames as the past)--> edited chunk
        --renderer, one frame at a time--> LiveFrame(index, audio_time, image, audio_ready_at, ready_at)

Frame ``i`` covers the audio ``[i / fps, (i + 1) / fps)``; its ``audio_ready_at`` is the ``time.perf_counter()`` at
the start of the :meth:`LiveSession.push_audio` call that completed that audio (for the last, partial frames: the
:meth:`LiveSession.finish` call), its ``ready_at`` when its image existed, so ``ready_at - audio_ready_at`` is its
latency. The work happens inside ``push_audio`` and ``finish``; a caller that feeds audio in real time gets each
frame about ``(chunk_frames - 1 + lookahead_frames + encoder_lookahead_frames)`` frames after its audio, plus the
computation (docs/live.md).

The waveform is normalised by running statistics that start from an assumed speech level
(``LiveConfig.prior_rms``, weighted as ``prior_seconds`` of audio) and tend to the received audio's: the first
samples alone would make a silent start's noise as loud as speech (docs/live.md measures both).

Deterministic: the same portrait, audio (cut into the same pushes), settings, seed and edit calls give the same
frames. The statistics at each emission are those of the samples received so far, so the push sizes matter
slightly; the motion sampling itself does not depend on them.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from motionkit.conditioner.emotion import EmotionInput
from motionkit.conditioner.stream import ConditionStream, WaveformStats, chunk_samples
from motionkit.config.live import LiveConfig
from motionkit.errors import ConfigError, EditError, SessionError
from motionkit.face.crop import fit_portrait
from motionkit.flow.live import LiveMotion, check_live_sizes
from motionkit.io.image import tensor_to_image
from motionkit.protocols import EncodedPortrait, LiveMotionGenerator, LiveSpeechConditioner
from motionkit.space import EditProgram
from motionkit.types import Conditions, MotionTrack

if TYPE_CHECKING:
    from motionkit.pipeline.pipeline import Pipeline


@dataclass(frozen=True)
class LiveFrame:
    """One frame of a live session.

    Attributes:
        index: frame number from 0.
        audio_time: ``index / fps``, the start of the audio the frame belongs to (seconds of session audio).
        image: ``(H, W, 3)`` uint8 RGB.
        audio_ready_at: ``time.perf_counter()`` when the audio covering this frame had been pushed.
        ready_at: ``time.perf_counter()`` when the image existed.
    """

    index: int
    audio_time: float
    image: np.ndarray
    audio_ready_at: float
    ready_at: float

    @property
    def latency(self) -> float:
        """Seconds from the frame's audio to its image (``ready_at - audio_ready_at``)."""
        return self.ready_at - self.audio_ready_at


class LiveSession:
    """A live talking-head session; open one with :meth:`motionkit.Pipeline.live`.

    Example::

        with pipeline.live("portrait.jpg", config=LiveConfig(chunk_frames=2)) as session:
            for chunk in microphone_chunks():                 # 1-D float32 at session.sample_rate
                for frame in session.push_audio(chunk):
                    show(frame.image, at=frame.audio_time)
            for frame in session.finish():
                show(frame.image, at=frame.audio_time)

    Attributes:
        sample_rate: the rate (Hz) :meth:`push_audio` expects.
        fps: frames per second.
        frame_size: ``(height, width)`` of the images.
        frames_emitted: frames returned so far.
        config: the session's settings.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        source: EncodedPortrait,
        config: LiveConfig,
        seed: int,
        emotion: EmotionInput,
        edits: EditProgram | None,
    ) -> None:
        generator, conditioner = pipeline.sampler, pipeline.conditioner
        if not isinstance(generator, LiveMotionGenerator) or not isinstance(conditioner, LiveSpeechConditioner):
            raise ConfigError(
                f"this model ({type(generator).__name__} with {type(conditioner).__name__}) has no live sampling; "
                "use a model with a FlowSampler-based motion generator (FLOAT, synthetic-demo, photo-motion)."
            )
        window = live_window(config, generator.window)
        check_live_sizes(config.chunk_frames, config.lookahead_frames, window, generator.window)
        self.config = config
        self.sample_rate = pipeline.sample_rate
        self.fps = float(conditioner.fps)
        self.frame_size: tuple[int, int] = tuple(pipeline.renderer.frame_shape(source))  # type: ignore[assignment]
        self.frames_emitted = 0
        self._pipeline = pipeline
        self._source = source
        self._samples_per_frame = self.sample_rate / self.fps
        self._conditions: ConditionStream | None = conditioner.live(
            emotion,
            context_frames=config.audio_context_frames,
            lookahead_frames=config.encoder_lookahead_frames,
            prior=None if config.prior_rms is None else WaveformStats(0.0, config.prior_rms**2),
            prior_seconds=config.prior_seconds,
        )
        with pipeline.autocast():
            self._motion: LiveMotion | None = generator.live(
                source.motion,
                chunk_frames=config.chunk_frames,
                lookahead_frames=config.lookahead_frames,
                nfe=config.nfe,
                seed=seed,
                window_frames=window,
            )
        self._edits: EditProgram | None = None
        self._history = source.motion.new_zeros(1, 0, source.motion.shape[-1])
        self._received = 0
        # (frames whose audio is complete after a push, perf_counter at that push), oldest first
        self._audio_marks: deque[tuple[int, float]] = deque()
        self._finished = False
        self._closed = False
        if edits is not None:
            self.apply_edits(edits)

    # ------------------------------------------------------------------------------------------------ protocol

    def push_audio(self, samples: np.ndarray) -> list[LiveFrame]:
        """Add speech: 1-D float mono samples at :attr:`sample_rate`, any length (0 too). Returns the frames that
        became ready, in order (often none: a frame waits for its chunk and lookahead).

        Raises:
            AudioError / ShapeError: not a 1-D float array, or NaN / infinite samples (nothing is changed).
            SessionError: the session was finished or closed.
        """
        self._check_open("push audio")
        pushed_at = time.perf_counter()
        values = chunk_samples(samples)
        if values.size == 0:
            return []
        conditions = self._streams()[0].push(values)
        self._received += values.size
        self._audio_marks.append((int(self._received // self._samples_per_frame), pushed_at))
        return self._frames(conditions, finishing=False)

    def finish(self) -> list[LiveFrame]:
        """End of speech: the remaining frames, their windows' lookahead padded (the last partial frame counts as
        a frame, as in offline generation). Later calls return nothing; :meth:`push_audio` is then refused.
        A session with less than one frame of audio in all ends without frames."""
        if self._closed:
            raise SessionError("the live session is closed; open a new one with Pipeline.live(...).")
        if self._finished:
            return []
        self._finished = True
        stream = self._streams()[0]
        if self._received < stream.spf:
            return []
        self._audio_marks.append((math.ceil(self._received / self._samples_per_frame), time.perf_counter()))
        return self._frames(stream.finish(), finishing=True)

    def apply_edits(self, program: EditProgram | None) -> None:
        """Edit the motion of every frame emitted from now on (None: no edits). Edit times are session audio
        times (frame ``i`` at ``i / fps``); an edit without ``end`` lasts until the session ends.

        Raises:
            EditError: not an EditProgram, or it names an axis this model lacks or a reference track (live
                sessions have none); the previous program stays in force.
        """
        self._check_open("apply edits")
        if program is not None:
            if not isinstance(program, EditProgram):
                raise EditError(
                    f"apply_edits takes an EditProgram (or None), got {type(program).__name__}; parse JSON with "
                    "EditProgram.from_json."
                )
            probe = MotionTrack(self._source.motion[:, None], fps=self.fps, source=self._source.motion)
            program.apply(probe, self._pipeline.motion_space, total_duration=math.inf)
        self._edits = program

    def set_emotion(self, emotion: EmotionInput) -> None:
        """Change the emotion from the next chunk on: every frame not yet sampled (those whose audio is waiting for
        its chunk or lookahead, and all later ones) gets ``emotion`` (a label, ``"predicted"``, weights or a
        specification, as at :meth:`motionkit.Pipeline.live`; keyframe times are session audio times). Frames
        already emitted keep theirs and stay the context of the next window, so the change is as smooth as the
        model makes it.

        Raises:
            ConfigError / ShapeError: an invalid emotion (nothing changes; the session stays usable).
            SessionError: the session was finished or closed.
        """
        self._check_open("set the emotion")
        conditions, motion = self._streams()
        if not motion.accepts_emotion:
            raise ConfigError(
                "this model has no emotion input (IMTalker: its conditions are pose, cam and gaze), so the emotion "
                "cannot change; leave it out."
            )
        conditions.set_emotion(emotion)
        if motion.pending_frames:
            motion.replace_pending_emotion(conditions.emotion_weights(motion.frames_out, motion.frames_in))

    def close(self) -> None:
        """Free the session's state (models stay with the pipeline). Idempotent."""
        self._closed = True
        self._conditions = None
        self._motion = None
        self._audio_marks.clear()
        self._history = self._history[:, :0]

    def __enter__(self) -> LiveSession:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------ helpers

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise SessionError(f"cannot {action}: the live session is closed; open a new one with Pipeline.live(...).")
        if self._finished:
            raise SessionError(
                f"cannot {action}: the live session was finished (end of speech); open a new one with "
                "Pipeline.live(...)."
            )

    def _streams(self) -> tuple[ConditionStream, LiveMotion]:
        # open sessions have both
        assert self._conditions is not None
        assert self._motion is not None
        return self._conditions, self._motion

    def _frames(self, conditions: Conditions | None, *, finishing: bool) -> list[LiveFrame]:
        motion = self._streams()[1]
        with torch.no_grad(), self._pipeline.autocast():
            chunks = [] if conditions is None else motion.push(conditions)
            if finishing:
                chunks += motion.finish()
            frames = []
            for chunk in chunks:
                frames += self._render(self._edited(chunk.float()))
        return frames

    def _edited(self, chunk: torch.Tensor) -> torch.Tensor:
        """The ``(1, n, D)`` chunk after the session's edits, given the recent unedited past as context."""
        past = self._history
        recent = torch.cat([past, chunk], dim=1)
        self._history = recent[:, max(0, recent.shape[1] - self.config.edit_history_frames) :]
        if self._edits is None:
            return chunk
        track = MotionTrack(recent, fps=self.fps, source=self._source.motion)
        first = self.frames_emitted - past.shape[1]
        edited = self._edits.apply(track, self._pipeline.motion_space, first_frame=first, total_duration=math.inf)
        return edited.latents[:, past.shape[1] :]

    def _render(self, chunk: torch.Tensor) -> list[LiveFrame]:
        track = MotionTrack(chunk, fps=self.fps, source=self._source.motion)
        renderer = self._pipeline.renderer
        frames = []
        for rendered in renderer.render(self._source, track, 1, precision=self._pipeline.precision):
            image = tensor_to_image(rendered[0, 0])
            index = self.frames_emitted
            frames.append(
                LiveFrame(
                    index=index,
                    audio_time=index / self.fps,
                    image=image,
                    audio_ready_at=self._audio_ready_at(index),
                    ready_at=time.perf_counter(),
                )
            )
            self.frames_emitted += 1
        return frames

    def _audio_ready_at(self, index: int) -> float:
        """When frame ``index``'s audio had been pushed (marks of frames already past are dropped)."""
        while len(self._audio_marks) > 1 and self._audio_marks[0][0] <= index:
            self._audio_marks.popleft()
        return self._audio_marks[0][1]


def live_window(config: LiveConfig, model_window: int) -> int | None:
    """Frames of each live window: ``min(chunk + lookahead + margin, model_window)``, or None (the model's) without
    a margin."""
    if config.window_margin_frames is None:
        return None
    return min(config.chunk_frames + config.lookahead_frames + config.window_margin_frames, model_window)


def open_session(
    pipeline: Pipeline,
    portrait: Any,
    *,
    config: LiveConfig | None,
    seed: int,
    emotion: EmotionInput,
    edits: EditProgram | None,
) -> LiveSession:
    """See :meth:`motionkit.Pipeline.live`."""
    if config is not None and not isinstance(config, LiveConfig):
        raise ConfigError(f"config must be a motionkit.config.LiveConfig, got {type(config).__name__}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}.")
    config = config or LiveConfig()
    source = portrait if isinstance(portrait, EncodedPortrait) else encode_for_live(pipeline, portrait, config.max_side)
    if config.max_side is not None and max(pipeline.renderer.frame_shape(source)) > config.max_side:
        height, width = pipeline.renderer.frame_shape(source)
        raise ConfigError(
            f"the encoded portrait draws {height} x {width} frames, over LiveConfig.max_side = {config.max_side}; "
            "pass the portrait image (it is shrunk before encoding) or encode a smaller one."
        )
    return LiveSession(pipeline, source, config, seed, emotion, edits)


def encode_for_live(pipeline: Pipeline, portrait: Any, max_side: int | None) -> EncodedPortrait:
    """A portrait image encoded for a session: shrunk first when its longer side exceeds ``max_side``
    (:attr:`LiveConfig.max_side`; None: as it is)."""
    image, box = fit_portrait(portrait, max_side)
    return pipeline.encode_portrait(image, box=box)
