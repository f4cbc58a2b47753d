"""Segmented libx264 encoding: runs of frames encoded in parallel worker processes, joined without re-encoding.

libx264 spreads one encoder over a limited number of threads (frame threading stalls on lookahead and reference
dependencies), so a many-core CPU encodes faster with several independent encoders. :class:`SegmentEncoder` cuts
the frame stream into runs of ``segment_frames`` frames and hands run ``s`` to worker ``s % workers``; each run is
encoded by a fresh encoder with the writer's settings into an MP4 of its own, so it starts with an IDR frame and
its SPS/PPS equal every other run's (same size, rate, crf and preset). :func:`join_segments` then copies the runs'
H.264 packets into the output stream with their timestamps shifted by the frames before them: a video whose frames
and timestamps are those of a single encode with a keyframe at every run boundary.

Frames reach the workers through bounded queues (:data:`WORKER_QUEUE_CHUNKS` chunks per worker), so the clip is
never held twice in memory. The processes are forked from a ``forkserver`` that imported this module once (not
from the parent, which may hold torch threads or CUDA; ``spawn`` where there is no forkserver, as on Windows): the
first segmented encode of a process pays the server's start and the motionkit import (about 3 s), later ones
about 0.1 s. A worker that fails or dies is an :class:`~motionkit.errors.OutputError`; every worker is then
stopped.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import av
import numpy as np

from motionkit.errors import OutputError

WORKER_QUEUE_CHUNKS = 2
"""Chunks waiting for each worker before the writer blocks: bounds the frames in flight to
``workers * WORKER_QUEUE_CHUNKS`` chunks."""
POLL_SECONDS = 0.1
"""How long a blocked put or get waits before checking that the workers are alive."""
STOP_SECONDS = 5.0
"""How long a stopped worker gets to exit before it is killed."""
SEGMENT_SUFFIX = ".mp4"
"""Runs are MP4 files: the container keeps the pts/dts (B-frame reordering) that a raw Annex-B stream drops."""


@dataclass(frozen=True)
class EncoderSettings:
    """What every run's encoder shares, so that their parameter sets match: codec, frame rate, options, size."""

    codec: str
    rate: Fraction
    options: dict[str, str]
    pixel_format: str
    width: int
    height: int


def _start_context() -> Any:
    """The ``forkserver`` context with this module preloaded in the server (so that each worker starts without
    importing motionkit and torch again), or ``spawn`` where there is no forkserver."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    # the preload takes effect when the server starts (the first segmented encode) and is the same for every call
    multiprocessing.set_forkserver_preload(["__main__", __name__])
    return multiprocessing.get_context("forkserver")


def _encode_runs(inbox: Any, outbox: Any, settings: EncoderSettings) -> None:
    """A worker process: encode runs until ``None``. Messages: ``(index, path)`` opens run ``index`` at ``path``,
    an ``(n, H, W, 3)`` uint8 array is encoded into it, ``index`` (an int) closes it. Replies ``("done", index,
    (frames, worker name, its CPU seconds so far))`` per run or ``("error", index, traceback)`` once, then drains
    its inbox until ``None``."""
    container: Any = None
    index = -1
    frames = 0
    failed = False
    while (message := inbox.get()) is not None:
        if failed:
            continue
        try:
            if isinstance(message, tuple):
                index, path = message
                container = av.open(path, mode="w")
                stream = container.add_stream(settings.codec, rate=settings.rate)
                stream.width, stream.height = settings.width, settings.height
                stream.pix_fmt = settings.pixel_format
                stream.time_base = 1 / settings.rate
                stream.options = dict(settings.options)
                frames = 0
            elif isinstance(message, np.ndarray):
                for pixels in message:
                    frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                    frame.pts = frames
                    container.mux(stream.encode(frame))
                    frames += 1
            else:
                container.mux(stream.encode(None))
                container.close()
                container = None
                outbox.put(("done", index, (frames, multiprocessing.current_process().name, time.process_time())))
        except Exception:
            failed = True
            outbox.put(("error", index, traceback.format_exc()))
            if container is not None:
                with contextlib.suppress(Exception):
                    container.close()


class SegmentEncoder:
    """Encode a stream of ``(n, H, W, 3)`` uint8 chunks as runs of ``segment_frames`` frames in ``workers``
    processes, writing run ``s`` to ``folder / f"{s}.mp4"``.

    Use :meth:`write` for the frames, :meth:`finish` to wait for every run (it returns their paths in order), and
    :meth:`close` in every case (it stops the workers; after a failure it kills them).
    """

    def __init__(self, folder: Path, settings: EncoderSettings, workers: int, segment_frames: int) -> None:
        self.folder = folder
        self.settings = settings
        self.segment_frames = segment_frames
        context = _start_context()
        self._outbox: Any = context.Queue()
        self._inboxes: list[Any] = [context.Queue(maxsize=WORKER_QUEUE_CHUNKS) for _ in range(workers)]
        self._processes: list[BaseProcess] = [
            context.Process(
                target=_encode_runs, args=(inbox, self._outbox, settings), name=f"motionkit-x264-{i}", daemon=True
            )
            for i, inbox in enumerate(self._inboxes)
        ]
        for process in self._processes:
            process.start()
        self._frames = 0
        self._runs: dict[int, int] = {}  # run index -> frames, as reported by the workers
        self._cpu: dict[str, float] = {}  # worker name -> its CPU seconds at its latest run's end

    @property
    def runs(self) -> int:
        """Runs started so far."""
        return -(-self._frames // self.segment_frames)

    def _path(self, index: int) -> Path:
        return self.folder / f"{index}{SEGMENT_SUFFIX}"

    def _put(self, index: int, message: object) -> None:
        """Send ``message`` to the worker of run ``index``, checking the workers while its queue is full."""
        inbox = self._inboxes[index % len(self._inboxes)]
        while True:
            self._check()
            try:
                inbox.put(message, timeout=POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _check(self) -> None:
        """Raise the first error a worker reported, or the death of a worker."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._receive(self._outbox.get_nowait())
        for process in self._processes:
            if process.exitcode not in (None, 0):
                raise OutputError(
                    f"the video encoder process {process.name} died (exit code {process.exitcode}); nothing was "
                    f"saved. Retry with segments=1 (one encoder in this process)."
                )

    def _receive(self, reply: tuple[str, int, Any]) -> None:
        kind, index, detail = reply
        if kind == "error":
            raise OutputError(f"encoding video segment {index} failed; nothing was saved. The worker said:\n{detail}")
        self._runs[index], worker, cpu = detail
        self._cpu[worker] = cpu

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds the workers spent up to the end of their latest runs (process start-up included)."""
        return sum(self._cpu.values())

    def write(self, pixels: np.ndarray) -> None:
        """Send ``(n, H, W, 3)`` uint8 frames to the workers, split at run boundaries."""
        start = 0
        while start < len(pixels):
            index, offset = divmod(self._frames, self.segment_frames)
            if offset == 0:
                self._put(index, (index, str(self._path(index))))
            stop = min(len(pixels), start + self.segment_frames - offset)
            self._put(index, np.ascontiguousarray(pixels[start:stop]))
            self._frames += stop - start
            start = stop
            if self._frames % self.segment_frames == 0:
                self._put(index, index)

    def finish(self) -> list[Path]:
        """Close the last run, let the workers end, and return the runs' files in order."""
        runs = self.runs
        if self._frames % self.segment_frames:
            self._put(runs - 1, runs - 1)
        for index in range(len(self._inboxes)):
            self._put(index, None)
        while len(self._runs) < runs:
            self._check()
            with contextlib.suppress(queue.Empty):
                self._receive(self._outbox.get(timeout=POLL_SECONDS))
        return [self._path(index) for index in range(runs)]

    def close(self, abort: bool = False) -> None:
        """Stop every worker: at once when ``abort`` (the video is abandoned), else those still running after
        :data:`STOP_SECONDS` are killed."""
        for inbox in self._inboxes:
            with contextlib.suppress(queue.Full, ValueError, OSError):
                inbox.put_nowait(None)
        for process in self._processes:
            if abort:
                process.kill()
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        for channel in (*self._inboxes, self._outbox):
            channel.close()
            channel.cancel_join_thread()  # a dead worker never reads what is still buffered


def join_segments(
    paths: list[Path], rate: Fraction, add_stream: Callable[[Any], Any], mux: Callable[[Any, int], None]
) -> int:
    """Copy the H.264 packets of the runs at ``paths`` into one stream, without decoding them.

    ``add_stream(template)`` adds the output video stream from the first run's stream (codec parameters, SPS/PPS)
    and returns it; ``mux(packet, frames_before)`` muxes each packet, ``frames_before`` being the frames of the
    runs before it (to interleave the audio up to there). Run ``s``'s timestamps are shifted by the frames of runs
    ``0 .. s - 1``: ``pts' = pts + frames_before / rate`` in the run's time base (one packet is one frame in
    H.264). Returns the frames joined.
    """
    stream: Any = None
    frames_before = 0
    for path in paths:
        with av.open(str(path)) as run:
            source = run.streams.video[0]
            if stream is None:
                stream = add_stream(source)
                extradata = bytes(source.codec_context.extradata or b"")
            elif bytes(source.codec_context.extradata or b"") != extradata:
                raise OutputError(
                    f"video segment {path.name} was encoded with other parameter sets than the first; the segments "
                    f"cannot be joined without re-encoding. Use segments=1."
                )
            shift = round(frames_before / rate / source.time_base)
            frames = 0
            for packet in _packets(run, source):
                packet.pts += shift
                packet.dts += shift
                packet.stream = stream
                mux(packet, frames_before)
                frames += 1
            frames_before += frames
    return frames_before


def _packets(container: Any, stream: Any) -> Iterator[Any]:
    """The stream's packets with data (the demuxer ends with an empty flush packet)."""
    for packet in container.demux(stream):
        if packet.size:
            yield packet
