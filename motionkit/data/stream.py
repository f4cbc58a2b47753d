"""Resumable, rank-sharded batch streams in which every sample is a pure function of ``(seed, global index)``.

Process ``rank`` of ``world_size`` builds its ``k``-th batch from the global sample indices
``(k * world_size + rank) * batch_size + j`` for ``j < batch_size``. So the position is one integer (``k``), nothing
else needs saving, and the ranks of a step together draw exactly the samples one process with the combined batch
(``world_size * batch_size``) draws for that step. Upcoming batches can be prepared by worker threads; the
result does not depend on the number of workers.
"""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from motionkit.errors import ConfigError, ShapeError


def collate(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack samples with the same keys and shapes into a batch (new leading dimension)."""
    keys = samples[0].keys()
    for sample in samples[1:]:
        if sample.keys() != keys:
            raise ShapeError(f"samples disagree on their keys: {sorted(keys)} vs {sorted(sample.keys())}.")
    return {key: torch.stack([sample[key] for sample in samples]) for key in keys}


class IndexedBatchStream(abc.ABC):
    """Base of the data sources: subclasses define :meth:`sample` (one sample from its global index)."""

    def __init__(self, *, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1, workers: int = 0) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is not in 0..{world_size - 1}.")
        if workers < 0:
            raise ConfigError(f"workers must be >= 0, got {workers}.")
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.workers = workers
        self._position = 0
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="motionkit-data") if workers else None
        self._pending: deque[tuple[int, Future[dict[str, torch.Tensor]]]] = deque()

    @abc.abstractmethod
    def sample(self, index: int) -> dict[str, torch.Tensor]:
        """The sample with global index ``index`` (must depend on nothing but ``seed``, ``index`` and the data)."""

    def indices(self, batch: int) -> range:
        """Global sample indices of this rank's ``batch``-th batch."""
        start = (batch * self.world_size + self.rank) * self.batch_size
        return range(start, start + self.batch_size)

    def batch(self, batch: int) -> dict[str, torch.Tensor]:
        """This rank's ``batch``-th batch (random access; does not move the position)."""
        return collate([self.sample(index) for index in self.indices(batch)])

    def next_batch(self) -> dict[str, torch.Tensor]:
        if self._executor is None:
            result = self.batch(self._position)
        else:
            ahead = max(2, self.workers)
            scheduled = self._pending[-1][0] + 1 if self._pending else self._position
            while scheduled < self._position + ahead:
                self._pending.append((scheduled, self._executor.submit(self.batch, scheduled)))
                scheduled += 1
            _, future = self._pending.popleft()
            result = future.result()
        self._position += 1
        return result

    def state_dict(self) -> dict[str, Any]:
        return {"batches": self._position, "seed": self.seed, "batch_size": self.batch_size}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        self._position = int(state["batches"])

    def close(self) -> None:
        """Stop the worker threads (pending batches are dropped)."""
        if self._executor is not None:
            for _, future in self._pending:
                future.cancel()
            self._pending.clear()
            self._executor.shutdown(wait=True)
            self._executor = None
