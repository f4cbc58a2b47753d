"""Device tensors to host arrays for a consumer thread: on CUDA, asynchronous copies into a ring of pinned buffers.

The video writer converts a chunk of frames on the GPU, then hands it to its encoder thread. A plain ``.cpu()``
makes the rendering thread wait for the copy; :class:`PinnedCopies` instead queues the copy on a side stream, into
a page-locked host buffer (``non_blocking`` copies need one to be asynchronous), and records an event after it. The
rendering thread goes on with the next chunk at once; the encoder thread waits on the chunk's event
(:meth:`PendingCopy.wait`) before it reads the buffer, and gives the buffer back (:meth:`PendingCopy.release`)
once the chunk is encoded, so a buffer is never overwritten while its frames are still read. The ring has as many
buffers as chunks can be in flight (:func:`copy_slots`), so taking one never waits in normal operation; a
consumer that fails still releases what it drains.

On a CPU there is nothing to copy: :class:`PassThrough` hands the tensor's own memory to the consumer (other
devices, e.g. Apple's MPS, get a blocking ``.cpu()``).
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Protocol

import numpy as np
import torch

POLL_SECONDS = 0.1
"""How long a wait for a free buffer lasts before the caller's ``check`` runs again (it raises when the consumer
died, so that the producer is never left blocked)."""


def copy_slots(queue_chunks: int) -> int:
    """Buffers a writer with ``queue_chunks`` waiting chunks needs: those chunks, the one being encoded and the one
    being copied (``queue_chunks + 2``); 1 when the caller encodes each chunk itself (``queue_chunks = 0``)."""
    return queue_chunks + 2 if queue_chunks > 0 else 1


class PendingCopy(Protocol):
    """A chunk on its way to the host."""

    def wait(self) -> np.ndarray:
        """Block until the copy is complete; the host array (valid until :meth:`release`)."""
        ...

    def release(self) -> None:
        """The consumer is done with the array: its buffer may be reused."""
        ...


class HostCopies(Protocol):
    """Starts copies of device tensors to the host."""

    def start(self, tensor: torch.Tensor, check: Callable[[], None]) -> PendingCopy:
        """Begin copying ``tensor``; ``check()`` runs while waiting for a free buffer (it may raise)."""
        ...


class ReadyCopy:
    """A host array that needs no waiting (a CPU tensor's own memory)."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def wait(self) -> np.ndarray:
        return self._array

    def release(self) -> None:
        """Nothing to give back: the array is the tensor's, freed with it."""


class PassThrough:
    """CPU tensors: the consumer reads the tensor's memory directly (no copy; other devices: a blocking copy)."""

    def start(self, tensor: torch.Tensor, check: Callable[[], None]) -> ReadyCopy:
        return ReadyCopy(tensor.cpu().numpy())


class SlotPool:
    """``count`` numbered slots handed out and given back across threads (the pinned ring's bookkeeping)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._free: queue.Queue[int] = queue.Queue()
        for slot in range(count):
            self._free.put(slot)

    @property
    def free(self) -> int:
        """Slots not handed out."""
        return self._free.qsize()

    def acquire(self, check: Callable[[], None]) -> int:
        """A free slot, waiting for one in steps of :data:`POLL_SECONDS` with ``check()`` between them."""
        while True:
            try:
                return self._free.get(timeout=POLL_SECONDS)
            except queue.Empty:
                check()

    def release(self, slot: int) -> None:
        self._free.put(slot)


class PinnedPendingCopy:
    """A copy queued on the side stream into one buffer of a :class:`PinnedCopies` ring."""

    def __init__(
        self, ring: PinnedCopies, slot: int, view: torch.Tensor, event: torch.cuda.Event, source: torch.Tensor
    ) -> None:
        self._ring = ring
        self._slot = slot
        self._view = view
        self._event = event
        self._source: torch.Tensor | None = source  # kept alive until the copy has read it

    def wait(self) -> np.ndarray:
        self._event.synchronize()
        self._source = None
        return self._view.numpy()

    def release(self) -> None:
        self._source = None
        self._ring.pool.release(self._slot)


class PinnedCopies:
    """CUDA tensors: non-blocking copies on a side stream into a ring of ``slots`` pinned host buffers.

    Each buffer grows to the largest chunk it has held (chunks of one video have one size, the last may be
    shorter). The side stream first waits for the caller's current stream, so the copy reads the tensor after the
    kernels that produced it.
    """

    def __init__(self, device: torch.device, slots: int) -> None:
        self.device = device
        self.pool = SlotPool(slots)
        self.stream = torch.cuda.Stream(device)
        self._buffers: list[torch.Tensor] = [torch.empty(0, dtype=torch.uint8, pin_memory=True)] * slots
        self._events = [torch.cuda.Event() for _ in range(slots)]

    def start(self, tensor: torch.Tensor, check: Callable[[], None]) -> PinnedPendingCopy:
        slot = self.pool.acquire(check)
        source = tensor.contiguous()
        size = source.numel() * source.element_size()
        if self._buffers[slot].numel() < size:
            self._buffers[slot] = torch.empty(size, dtype=torch.uint8, pin_memory=True)
        view = self._buffers[slot][:size].view(source.dtype).view(source.shape)
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        event = self._events[slot]
        with torch.cuda.stream(self.stream):
            view.copy_(source, non_blocking=True)
            event.record(self.stream)
        return PinnedPendingCopy(self, slot, view, event, source)


def host_copies(device: torch.device, slots: int) -> HostCopies:
    """:class:`PinnedCopies` with ``slots`` buffers for a CUDA device, :class:`PassThrough` for a CPU."""
    if device.type == "cuda":
        return PinnedCopies(device, slots)
    return PassThrough()
