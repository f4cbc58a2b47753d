"""Host copies for the writer's encoder thread (motionkit/io/transfer.py): the CPU pass-through and the slot ring's
bookkeeping. The CUDA ring itself is tested in tests/io/test_writer_cuda.py."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from motionkit.io.transfer import PassThrough, SlotPool, copy_slots, host_copies


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
