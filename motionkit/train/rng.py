"""Seeding and saving of every random stream a training process uses, for exact resumption.

States are converted to tensors and plain Python values so that checkpoints load with ``weights_only=True``.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

from motionkit.errors import CheckpointError


def derive_seed(*entropy: int) -> int:
    """A 63-bit seed mixed from integers (e.g. ``(seed, rank, stream)``) with numpy's SeedSequence."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def seed_process(seed: int, rank: int) -> None:
    """Seed Python's, numpy's and torch's (CPU and CUDA) global generators for process ``rank``."""
    value = derive_seed(seed, rank, 0)
    random.seed(value)
    np.random.seed(value % 2**32)
    torch.manual_seed(value)


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


def capture_global() -> dict[str, Any]:
    """Snapshot of the global random states (Python, numpy legacy, torch CPU, all CUDA devices)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state(legacy=True)
    if not isinstance(keys, np.ndarray):
        raise TypeError("numpy returned a non-legacy random state")
    return {
        "python": random.getstate(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_global(state: Mapping[str, Any]) -> None:
    """Restore a snapshot taken by :func:`capture_global`."""
    try:
        python = state["python"]
        random.setstate((python[0], tuple(python[1]), python[2]))
        numpy = state["numpy"]
        keys = numpy["keys"].numpy().astype(np.uint32)
        np.random.set_state((numpy["kind"], keys, numpy["position"], numpy["has_gauss"], numpy["gauss"]))
        torch.set_rng_state(state["torch"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CheckpointError(f"checkpoint random state is malformed ({exc}); the checkpoint is corrupt.") from exc
    cuda = list(state.get("cuda", []))
    if cuda and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            raise CheckpointError(
                f"checkpoint holds CUDA random states of {len(cuda)} devices, this process sees "
                f"{torch.cuda.device_count()}; resume with the same CUDA_VISIBLE_DEVICES."
            )
        torch.cuda.set_rng_state_all(cuda)


@contextlib.contextmanager
def preserved_global_state() -> Iterator[None]:
    """Run a block (e.g. preview sampling) without changing any global random state."""
    state = capture_global()
    try:
        yield
    finally:
        restore_global(state)
