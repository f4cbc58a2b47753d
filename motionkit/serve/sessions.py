"""One live session on one WebSocket: audio in, JPEG frames out, controls, stats, and a clean end either way.

Three tasks share the socket. The receiver (the connection's own coroutine) decodes and resamples audio chunks and
parses control messages into one ordered work queue. The compute task runs the queue in the worker thread pool
(``push_audio`` and ``apply_edits`` are blocking), encodes each new frame as a JPEG and hands it to the sender.
The sender is the only writer of the socket: text messages (``applied``, ``stats``, ``error``) always go out,
frames wait in a queue of :attr:`ServeConfig.send_queue_frames` from which the oldest is dropped (and counted)
when a slow client cannot keep up, so memory stays bounded and the client always gets the newest frames.

Latency, per frame: from the moment the server received the audio chunk that completed the frame's audio (the
chunk whose ``push_audio`` call the session stamped as the frame's ``audio_ready_at``) to the moment the frame's
message is handed to the socket. The real-time factor is the worker's busy time over the audio it processed.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import functools
import io
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from PIL import Image
from starlette.websockets import WebSocket, WebSocketDisconnect

from motionkit.errors import MotionkitError
from motionkit.pipeline import Pipeline
from motionkit.serve.config import ServeConfig
from motionkit.serve.controls import LiveEdits
from motionkit.serve.portraits import PortraitStore, drawn_side
from motionkit.serve.protocol import (
    End,
    Nod,
    ProtocolError,
    SetEdits,
    SetEmotion,
    Start,
    Toggle,
    Turn,
    decode_audio,
    pack_frame,
    parse_message,
)
from motionkit.serve.resample import StreamResampler

if TYPE_CHECKING:
    from motionkit.pipeline.live import LiveFrame, LiveSession

T = TypeVar("T")
START_TIMEOUT = 30.0
"""Seconds a client has to send ``start`` after connecting."""
PUSH_HISTORY = 4096
"""Audio pushes remembered to find the chunk that completed each frame (far more than frames in flight)."""
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TRY_LATER, CLOSE_ERROR = 1000, 1008, 1013, 1011
"""WebSocket close codes: done; refused (token); refused (no free session); failed."""


@dataclass
class Encoded:
    """A frame ready to send: its message and when the audio that completed it reached the server."""

    index: int
    message: bytes
    audio_received_at: float


@dataclass
class Counters:
    """What a session reports in ``stats`` and ``done``."""

    audio_seconds: float = 0.0
    frames_made: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0
    busy_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, since the last stats message
    all_latencies: deque[float] = field(default_factory=lambda: deque(maxlen=PUSH_HISTORY))

    def stats(self, window_busy: float, window_audio: float) -> dict[str, Any]:
        recent = np.asarray(self.latencies) * 1000.0
        return {
            "type": "stats",
            "audio_seconds": round(self.audio_seconds, 3),
            "frames_sent": self.frames_sent,
            "frames_dropped": self.frames_dropped,
            "latency_ms": _percentiles(recent),
            "realtime_factor": round(window_busy / window_audio, 4) if window_audio > 0 else None,
        }


def _percentiles(values_ms: np.ndarray) -> dict[str, float | None]:
    if not len(values_ms):
        return {"p50": None, "p95": None, "max": None}
    p50, p95 = np.percentile(values_ms, [50, 95])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "max": round(float(values_ms.max()), 1)}


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """An ``(H, W, 3)`` uint8 frame as JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class LiveConnection:
    """Serve one live session on an accepted WebSocket (see the module docstring).

    Args:
        websocket: the accepted socket.
        pipeline: the model.
        config: the service's limits.
        portraits: presets and uploads the ``start`` message may name.
        executor: the worker threads that run the blocking session calls.
    """

    def __init__(
        self,
        websocket: WebSocket,
        pipeline: Pipeline,
        config: ServeConfig,
        portraits: PortraitStore,
        executor: Executor,
    ) -> None:
        self.ws, self.pipeline, self.config, self.portraits, self.executor = (
            websocket,
            pipeline,
            config,
            portraits,
            executor,
        )
        self.session: LiveSession | None = None
        self.counters = Counters()
        self.work: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.queued_samples = 0
        self.frames: deque[Encoded] = deque()
        self.texts: deque[dict[str, Any]] = deque()
        self.wake = asyncio.Event()
        self.ended = False
        self.pushes: list[float] = []  # perf_counter of each push_audio call, in order
        self.received: list[float] = []  # when the pushed chunk reached the server
        self.edits = LiveEdits()
        self.quality = config.jpeg_quality
        self.pending: asyncio.Future[Any] | None = None

    # ----------------------------------------------------------------------------------------------- lifecycle

    async def serve(self) -> None:
        """Run the session until ``end``, a fatal error or the client's disconnect; always frees everything."""
        tasks: list[asyncio.Task[None]] = []
        try:
            start = await self._wait_for_start()
            if start is None:
                return
            await self._open(start)
            receiver, compute = asyncio.create_task(self._receive()), asyncio.create_task(self._compute())
            tasks = [receiver, compute, asyncio.create_task(self._sender()), asyncio.create_task(self._stats())]
            await asyncio.wait((receiver, compute), return_when=asyncio.FIRST_COMPLETED)
            if receiver.done() and receiver.exception() is None:
                await compute  # `end`: the remaining frames are made, then `done` is queued
            elif receiver.done():
                raise receiver.exception()  # type: ignore[misc]  # a disconnect or a fatal protocol error
            await self._send_pending()
            await self.ws.close(CLOSE_NORMAL if self.ended else CLOSE_ERROR)
        except WebSocketDisconnect:
            pass
        except ProtocolError as error:
            await self._fatal(error)
        finally:
            for task in tasks:
                task.cancel()
            # shielded: even when the server cancels this connection (shutdown), the session is closed and freed
            await asyncio.shield(self._cleanup(tasks))

    async def _cleanup(self, tasks: list[asyncio.Task[None]]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_session()

    async def _wait_for_start(self) -> Start | None:
        while True:
            try:
                message = await asyncio.wait_for(self.ws.receive(), START_TIMEOUT)
            except asyncio.TimeoutError:
                await self._fatal(ProtocolError("not_started", f"no start message within {START_TIMEOUT:g} s."))
                return None
            if message["type"] == "websocket.disconnect":
                return None
            try:
                if message.get("text") is None:
                    raise ProtocolError("not_started", "send a start message before any audio (docs/serve.md).")
                parsed = parse_message(message["text"])
                if not isinstance(parsed, Start):
                    raise ProtocolError("not_started", f"send a start message before {parsed.type!r} (docs/serve.md).")
                return parsed
            except ProtocolError as error:
                await self.ws.send_json(error.to_message())

    async def _open(self, start: Start) -> None:
        self.format = start.audio
        self.resampler = StreamResampler(start.audio.sample_rate, self.pipeline.sample_rate)
        self.quality = start.jpeg_quality or self.config.jpeg_quality
        if start.edits is not None:
            self.edits.program = start.edits
        neutral = start.emotion is None and self.pipeline.default_emotion == "neutral"  # said, so nothing warns
        try:
            requested = None if start.live is None else start.live.max_side
            max_side = drawn_side(self.pipeline, requested, self.config.live_max_side)
            source = await self._run(functools.partial(self.portraits.encode, start.portrait, self.pipeline, max_side))
        except MotionkitError as error:
            raise ProtocolError("bad_portrait", str(error), fatal=True) from None
        try:
            session = await self._run(
                functools.partial(
                    self.pipeline.live,
                    source,
                    config=start.live,
                    seed=start.seed,
                    emotion="neutral" if neutral else start.emotion,
                    edits=start.edits,
                )
            )
        except MotionkitError as error:
            raise ProtocolError("bad_message", f"cannot start the session: {error}", fatal=True) from None
        self.session = session
        height, width = session.frame_size
        await self.ws.send_json(
            {
                "type": "ready",
                "fps": session.fps,
                "sample_rate": session.sample_rate,
                "width": width,
                "height": height,
                "frame_format": "jpeg",
                "send_queue_frames": self.config.send_queue_frames,
            }
        )

    async def _close_session(self) -> None:
        if self.pending is not None:  # a blocking call still runs in its thread: let it finish first
            await asyncio.gather(asyncio.shield(self.pending), return_exceptions=True)
        if self.session is not None:
            session, self.session = self.session, None
            await asyncio.get_running_loop().run_in_executor(self.executor, session.close)

    async def _fatal(self, error: ProtocolError) -> None:
        error.fatal = True
        try:
            await self.ws.send_json(error.to_message())
            await self.ws.close(CLOSE_ERROR if error.code == "internal" else CLOSE_POLICY)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client is already gone

    # ----------------------------------------------------------------------------------------------- receiving

    async def _receive(self) -> None:
        """Read the client until ``end`` (then return) or a disconnect (raises WebSocketDisconnect)."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", CLOSE_NORMAL))
            try:
                if message.get("bytes") is not None:
                    self._audio(message["bytes"])
                elif message.get("text") is not None and self._control(message["text"]):
                    return
            except ProtocolError as error:
                if error.fatal:
                    raise
                self._say(error.to_message())

    def _audio(self, data: bytes) -> None:
        self._check_size(len(data))
        samples = self.resampler.push(decode_audio(data, self.format))
        self._queue_audio(samples)

    def _queue_audio(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        self.queued_samples += len(samples)
        backlog = self.queued_samples / self.pipeline.sample_rate
        if backlog > self.config.max_buffered_audio:
            raise ProtocolError(
                "overloaded",
                f"the server is {backlog:.1f} s of audio behind (limit {self.config.max_buffered_audio:g} s): it "
                "cannot keep real time for this session; retry when it is less busy or send audio no faster than "
                "real time.",
                fatal=True,
            )
        self.work.put_nowait(("audio", (samples, time.perf_counter())))

    def _control(self, text: str) -> bool:
        """Queue a control message; True for ``end``."""
        self._check_size(len(text.encode()))
        message = parse_message(text)
        if isinstance(message, Start):
            raise ProtocolError("already_started", "the session has started; open a new socket for another one.")
        if isinstance(message, End):
            self._queue_audio(self.resampler.finish())
            self.work.put_nowait(("end", None))
            return True
        self.work.put_nowait(("control", message))
        return False

    def _check_size(self, size: int) -> None:
        if size > self.config.max_message_bytes:
            raise ProtocolError(
                "too_large",
                f"a message of {size} bytes is over the limit of {self.config.max_message_bytes}; send audio in "
                "smaller chunks (20-100 ms is typical).",
            )

    # ----------------------------------------------------------------------------------------------- computing

    async def _compute(self) -> None:
        try:
            while True:
                kind, payload = await self.work.get()
                if kind == "audio":
                    samples, received_at = payload
                    self.queued_samples -= len(samples)
                    frames = await self._run(functools.partial(self._push, samples, received_at))
                elif kind == "control":
                    self._say(await self._run(functools.partial(self._apply, payload)))
                    continue
                else:
                    frames = await self._run(self._finish)
                self._queue_frames(frames)
                if kind == "end":
                    self._say(self._summary())
                    self.ended = True
                    return
        except MotionkitError as error:
            self._say(ProtocolError("bad_audio", str(error), fatal=True).to_message())
        except Exception as error:  # a bug: the client hears of it, the service goes on
            self._say(ProtocolError("internal", f"internal error ({type(error).__name__}: {error})").to_message())

    async def _run(self, call: Callable[[], T]) -> T:
        self.pending = asyncio.get_running_loop().run_in_executor(self.executor, call)
        try:
            return await self.pending
        finally:
            self.pending = None

    def _push(self, samples: np.ndarray, received_at: float) -> list[Encoded]:
        assert self.session is not None
        started = time.perf_counter()
        self.pushes.append(started)
        self.received.append(received_at)
        frames = self.session.push_audio(samples)
        encoded = self._encode(frames)
        self.counters.busy_seconds += time.perf_counter() - started
        self.counters.audio_seconds += len(samples) / self.pipeline.sample_rate
        del self.pushes[:-PUSH_HISTORY], self.received[:-PUSH_HISTORY]
        return encoded

    def _finish(self) -> list[Encoded]:
        assert self.session is not None
        started = time.perf_counter()
        encoded = self._encode(self.session.finish())
        self.counters.busy_seconds += time.perf_counter() - started
        return encoded

    def _encode(self, frames: list[LiveFrame]) -> list[Encoded]:
        out = []
        for frame in frames:
            # the push stamped as the frame's audio_ready_at, or the last one before it
            at = max(bisect.bisect_right(self.pushes, frame.audio_ready_at) - 1, 0)
            jpeg = encode_jpeg(frame.image, self.quality)
            out.append(Encoded(frame.index, pack_frame(frame.index, frame.audio_time, jpeg), self.received[at]))
        return out

    def _apply(self, message: Nod | Turn | Toggle | SetEdits | SetEmotion) -> dict[str, Any]:
        """Apply a control from the next frame; returns the ``applied`` message, or a (non-fatal) ``error`` when the
        model cannot apply it (an axis it lacks, an emotion it cannot predict), leaving the session as it was."""
        assert self.session is not None
        frame = self.session.frames_emitted
        now = frame / self.session.fps
        if isinstance(message, SetEmotion):
            try:
                self.session.set_emotion(message.emotion)
            except MotionkitError as error:
                return ProtocolError("bad_message", f"cannot apply 'emotion': {error}").to_message()
            return {"type": "applied", "control": message.type, "from_frame": frame, "time": round(now, 4)}
        edits = copy.deepcopy(self.edits)
        if isinstance(message, Nod):
            edits.nod(message, now)
        elif isinstance(message, Turn):
            now = edits.turn(message, now)
        elif isinstance(message, Toggle):
            edits.toggle(message, now)
        else:
            edits.program = message.program
        try:
            self.session.apply_edits(edits.compose())
        except MotionkitError as error:
            return ProtocolError("bad_message", f"cannot apply {message.type!r}: {error}").to_message()
        self.edits = edits
        return {"type": "applied", "control": message.type, "from_frame": frame, "time": round(now, 4)}

    def _queue_frames(self, frames: list[Encoded]) -> None:
        self.counters.frames_made += len(frames)
        for frame in frames:
            if len(self.frames) >= self.config.send_queue_frames:
                self.frames.popleft()
                self.counters.frames_dropped += 1
            self.frames.append(frame)
        self.wake.set()

    # ----------------------------------------------------------------------------------------------- sending

    def _say(self, message: dict[str, Any]) -> None:
        self.texts.append(message)
        self.wake.set()

    async def _sender(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            await self._send_pending()

    async def _send_pending(self) -> None:
        while self.texts or self.frames:
            if self.texts:
                await self.ws.send_json(self.texts.popleft())
                continue
            frame = self.frames.popleft()
            await self.ws.send_bytes(frame.message)
            latency = time.perf_counter() - frame.audio_received_at
            self.counters.frames_sent += 1
            self.counters.latencies.append(latency)
            self.counters.all_latencies.append(latency)

    async def _stats(self) -> None:
        busy, audio = self.counters.busy_seconds, self.counters.audio_seconds
        while True:
            await asyncio.sleep(self.config.stats_interval)
            window_busy, window_audio = self.counters.busy_seconds - busy, self.counters.audio_seconds - audio
            busy, audio = self.counters.busy_seconds, self.counters.audio_seconds
            self._say(self.counters.stats(window_busy, window_audio))
            self.counters.latencies = []

    def _summary(self) -> dict[str, Any]:
        counters = self.counters
        return {
            "type": "done",
            "audio_seconds": round(counters.audio_seconds, 3),
            "frames_made": counters.frames_made,
            "frames_sent": counters.frames_sent + len(self.frames),
            "frames_dropped": counters.frames_dropped,
            "latency_ms": _percentiles(np.asarray(counters.all_latencies) * 1000.0),
            "realtime_factor": round(counters.busy_seconds / counters.audio_seconds, 4)
            if counters.audio_seconds
            else None,
        }
