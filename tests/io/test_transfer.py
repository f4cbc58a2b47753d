"""Host copies for the writer's encoder thread (motionkit/io/transfer.py): the CPU pass-through, the slot ring's
bookkeeping, and the writer giving every buffer back (with a CPU ring of the CUDA ring's bookkeeping). The CUDA
ring itself is tested in tests/io/test_writer_cuda.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from motionkit.io import VideoWriter, read_video
from motionkit.io import video as video_module
from motionkit.io.transfer import POLL_SECONDS, PassThrough, SlotPool, copy_slots, host_copies
from tests.io.test_io_video import leftovers, smooth_frames

WAIT_SECONDS = 5.0
"""Longest a stand-in encoder waits for the caller (the test fails rather than hangs)."""


def test_a_cpu_tensor_reaches_the_consumer_without_a_copy() -> None:
    copies = host_copies(torch.device("cpu"), copy_slots(2))
    assert isinstance(copies, PassThrough)
    planes = torch.arange(24, dtype=torch.uint8).view(2, 3, 4)
    pending = copies.start(planes, check=lambda: None)
    array = pending.wait()
    assert np.shares_memory(array, planes.numpy())
    assert np.array_equal(array, planes.numpy())
    pending.release()


def test_slots_cover_every_chunk_in_flight() -> None:
    assert copy_slots(0) == 1  # the caller copies and encodes one chunk at a time
    assert copy_slots(2) == 4  # two queued, one encoding, one being copied


def test_a_slot_is_handed_out_once_until_released() -> None:
    pool = SlotPool(2)
    first, second = pool.acquire(check=lambda: None), pool.acquire(check=lambda: None)
    assert {first, second} == {0, 1}
    assert pool.free == 0
    threading.Timer(0.3, pool.release, args=(first,)).start()
    checks: list[int] = []
    assert pool.acquire(check=lambda: checks.append(1)) == first  # waits for the consumer's release
    assert checks  # the caller's check ran while it waited
    pool.release(first)
    pool.release(second)
    assert pool.free == 2


def test_a_consumer_failure_ends_the_wait_for_a_slot() -> None:
    pool = SlotPool(1)
    pool.acquire(check=lambda: None)

    def consumer_died() -> None:
        raise OSError("encoder failed")

    with pytest.raises(OSError, match="encoder failed"):
        pool.acquire(check=consumer_died)


class CountedCopy:
    def __init__(self, pool: SlotPool, slot: int, array: np.ndarray) -> None:
        self.pool, self.slot, self.array = pool, slot, array

    def wait(self) -> np.ndarray:
        return self.array

    def release(self) -> None:
        self.pool.release(self.slot)


class CountingCopies:
    """A ring with the CUDA ring's bookkeeping (a slot per chunk in flight) on the CPU, counting what goes back."""

    def __init__(self, slots: int) -> None:
        self.pool = SlotPool(slots)
        self.started = 0

    def start(self, tensor: torch.Tensor, check: Callable[[], None]) -> CountedCopy:
        copy = CountedCopy(self.pool, self.pool.acquire(check), tensor.numpy())
        self.started += 1
        return copy


def fail_encoding_at(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    """The writer's ``call``-th chunk fails to encode with a full disk's error; the others are encoded."""
    original = VideoWriter._encode_frames
    calls: list[int] = []

    def failing(self: VideoWriter, frames: np.ndarray, pixel_format: str) -> None:
        calls.append(1)
        if len(calls) == call:
            raise OSError("no space left on device")
        original(self, frames, pixel_format)

    monkeypatch.setattr(VideoWriter, "_encode_frames", failing)


def write_until_error(writer: VideoWriter, chunks: int, message: str, device: str = "cpu") -> None:
    """Write up to ``chunks`` chunks of 2 frames; the encoder's ``OSError(message)`` must reach the caller."""
    with pytest.raises(OSError, match=message), writer as video:  # noqa: PT012
        for _ in range(chunks):
            video.write(smooth_frames(2, 16, 16).to(device))


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> list[CountingCopies]:
    """Every ring a writer makes, counting slots; the writer is told to convert with torch."""
    rings: list[CountingCopies] = []

    def make(device: torch.device, slots: int) -> CountingCopies:
        rings.append(CountingCopies(slots))
        return rings[-1]

    monkeypatch.setattr(video_module, "host_copies", make)
    return rings


@pytest.mark.parametrize("queue_chunks", [0, 2])
def test_the_writer_gives_every_buffer_back(tmp_path: Path, counting: list[CountingCopies], queue_chunks: int) -> None:
    with VideoWriter(tmp_path / "v.mp4", conversion="torch", queue_chunks=queue_chunks) as video:
        for _ in range(12):
            video.write(smooth_frames(3, 16, 16))
    (ring,) = counting
    assert ring.pool.count == copy_slots(queue_chunks)
    assert ring.pool.free == ring.pool.count
    assert read_video(tmp_path / "v.mp4")[0].shape == (36, 16, 16, 3)


def test_an_encoder_failure_gives_every_buffer_back(
    tmp_path: Path, counting: list[CountingCopies], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks encoded before the failure and chunks drained after it: each buffer goes back, no file is left."""
    fail_encoding_at(monkeypatch, 3)
    write_until_error(VideoWriter(tmp_path / "x.mp4", conversion="torch", queue_chunks=2), 20, "no space left")
    (ring,) = counting
    assert ring.pool.free == ring.pool.count
    assert leftovers(tmp_path) == []


def test_a_chunk_refused_by_a_full_queue_gives_its_buffer_back(
    tmp_path: Path, counting: list[CountingCopies], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The encoder fails while the caller waits to queue a chunk: that chunk's buffer goes back before the error
    reaches the caller (the encoder below drains the queue only once it has)."""

    def wait_for(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not condition() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)

    def failing_encoder(self: VideoWriter) -> None:
        assert self._queue is not None
        wait_for(lambda: bool(counting) and counting[0].started == 2)  # the caller holds a second chunk
        self._error = OSError("encoder died")
        ring = counting[0]
        wait_for(lambda: ring.pool.free == ring.pool.count - 1)  # only the queued chunk is still out
        while (item := self._queue.get()) is not None:
            video_module._discard(item)

    monkeypatch.setattr(VideoWriter, "_encoder_loop", failing_encoder)
    write_until_error(VideoWriter(tmp_path / "x.mp4", conversion="torch", queue_chunks=1), 3, "encoder died")
    (ring,) = counting
    assert ring.started == 2  # the third write never started a copy
    assert ring.pool.free == ring.pool.count
    assert leftovers(tmp_path) == []
