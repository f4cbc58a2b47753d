"""Data-parallel training across processes: the same script runs alone or under ``torchrun``.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; multi-node runs
are the same environment set by ``torchrun --nnodes N --node_rank i --rdzv_endpoint ...``. Without those variables
the run is a single process. The backend is NCCL on CUDA and Gloo on CPU.

Gradients are averaged with explicit, bucketed ``all_reduce`` calls after the backward passes of a phase (as in
StyleGAN2-ADA's training loop) instead of wrapping modules in ``DistributedDataParallel``: tasks with several
optimisation phases, frozen networks and modules used in more than one phase need no special handling, and the
update is the one a single process computes on the combined batch. Parameters and buffers are broadcast from rank 0
at start, and buffers again before every step (as ``DistributedDataParallel`` does).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from motionkit.config.train import DeviceName
from motionkit.errors import ConfigError

BUCKET_BYTES = 25 * 1024 * 1024
"""Gradient bytes per all-reduce call (DistributedDataParallel's default bucket size)."""

TIMEOUT = timedelta(minutes=30)
"""Collective timeout; long enough for a rank-0 checkpoint write while the others wait."""


@dataclass(frozen=True)
class DistContext:
    """This process's place in the run.

    Attributes:
        rank: global process index, 0 .. world_size - 1.
        world_size: number of processes.
        local_rank: index on this node (selects the CUDA device).
        device: the device this process trains on.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes checkpoints, logs and previews."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r} is not an integer; it is set by torchrun.") from None


def resolve_device(name: DeviceName, local_rank: int = 0) -> torch.device:
    """``auto``: this node's CUDA device ``local_rank`` when CUDA is available, else the CPU."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was requested but CUDA is not available; use device 'cpu' or 'auto'.")
    if local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA devices are visible; "
            "start at most one process per GPU (torchrun --nproc_per_node)."
        )
    return torch.device("cuda", local_rank)


def init_distributed(device: DeviceName = "auto") -> DistContext:
    """Read the torchrun environment, pick the device and join the process group when there are several ranks."""
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ConfigError(f"RANK={rank} WORLD_SIZE={world_size} is inconsistent; launch with torchrun.")
    resolved = resolve_device(device, local_rank)
    if resolved.type == "cuda":
        torch.cuda.set_device(resolved)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if resolved.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"device_id": resolved} if resolved.type == "cuda" else {}
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size, timeout=TIMEOUT, **kwargs)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=resolved)


def shutdown(context: DistContext) -> None:
    """Leave the process group (no-op for a single process)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: DistContext) -> None:
    if context.distributed:
        dist.barrier()


def _buckets(tensors: Sequence[torch.Tensor]) -> Iterable[list[torch.Tensor]]:
    bucket: list[torch.Tensor] = []
    size = 0
    for tensor in tensors:
        if bucket and (size + tensor.numel() * tensor.element_size() > BUCKET_BYTES or tensor.dtype != bucket[0].dtype):
            yield bucket
            bucket, size = [], 0
        bucket.append(tensor)
        size += tensor.numel() * tensor.element_size()
    if bucket:
        yield bucket


def average_gradients(parameters: Sequence[nn.Parameter], context: DistContext) -> None:
    """Replace each gradient by its mean over all ranks.

    A parameter without a gradient on this rank counts as a zero gradient, so every rank reduces the same tensors.
    """
    if not context.distributed:
        return
    grads = []
    for parameter in parameters:
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        grads.append(parameter.grad)
    for bucket in _buckets(grads):
        flat = torch.cat([g.reshape(-1) for g in bucket])
        dist.all_reduce(flat)
        flat /= context.world_size
        offset = 0
        for grad in bucket:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()


def broadcast_tensors(tensors: Sequence[torch.Tensor], context: DistContext) -> None:
    """Overwrite the tensors on every rank with rank 0's values."""
    if not context.distributed:
        return
    with torch.no_grad():
        for tensor in tensors:
            dist.broadcast(tensor, src=0)


def all_reduce_mean(values: torch.Tensor, context: DistContext) -> torch.Tensor:
    """Mean of ``values`` over ranks (a new tensor; the input is left unchanged)."""
    result = values.detach().clone()
    if context.distributed:
        dist.all_reduce(result)
        result /= context.world_size
    return result


def all_gather_objects(value: Any, context: DistContext) -> list[Any]:
    """Every rank's ``value`` (picklable), in rank order, on every rank."""
    if not context.distributed:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def warn_main(message: str, context: DistContext) -> None:
    """Emit a warning on rank 0 only, so that N processes do not print it N times."""
    if context.is_main:
        warnings.warn(message, stacklevel=2)
