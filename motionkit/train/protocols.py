"""The narrow interfaces between the generic training engine and what is trained.

A *task* owns the networks and computes losses; a *data source* yields batches and can rewind to any position.
The :class:`~motionkit.train.engine.Trainer` knows nothing else about either: it builds optimisers over the task's
trainable parameters, runs the optimisation phases, keeps the EMA, logs, samples and checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@dataclass(frozen=True)
class LossOutput:
    """What a task returns for one micro-batch.

    Attributes:
        total: scalar tensor that is back-propagated (already weighted; the engine divides it by the number of
            accumulation micro-steps).
        parts: named scalar tensors logged to ``metrics.csv`` (for example the unweighted L1 and SSIM terms).
            They are detached by the engine; the total is logged as ``loss/<phase>`` automatically.
    """

    total: torch.Tensor
    parts: Mapping[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Phase:
    """One optimisation phase of a training step, with its own AdamW optimiser.

    A plain model has one phase (``"main"``, every trainable module). A GAN has two, run in order each step:
    ``Phase("generator", ("generator",))`` and ``Phase("discriminator", ("discriminator",), ema=False)``.
    While a phase runs, the trainable modules of the other phases do not require gradients.

    Attributes:
        name: phase name, passed to :meth:`TrainTask.loss` and used in metric names.
        modules: names (keys of :meth:`TrainTask.modules`) whose parameters this phase optimises.
        lr_scale: multiplies the configured learning rate (e.g. StyleGAN2's lazy-regularisation correction).
        betas: AdamW betas overriding the configured ones, or ``None``.
        ema: whether these modules get an exponential moving average of their weights.
    """

    name: str
    modules: tuple[str, ...]
    lr_scale: float = 1.0
    betas: tuple[float, float] | None = None
    ema: bool = True


@dataclass(frozen=True)
class StepContext:
    """Where the engine is when it asks a task for a loss.

    Attributes:
        step: index of the optimiser step being computed, starting at 0.
        phase: name of the running :class:`Phase`.
        micro_step: index of the accumulation micro-batch within the step.
        generator: the task's random stream on the training device (noise, flow times, dropout masks). It is
            seeded per process from ``(seed, rank)`` and saved in checkpoints; draw all task randomness from it.
        device: the training device.
    """

    step: int
    phase: str
    micro_step: int
    generator: torch.Generator
    device: torch.device


@runtime_checkable
class TrainTask(Protocol):
    """A trainable system: its networks and its loss.

    ``modules()`` returns every network the loss uses, frozen ones included; a module is trained when at least
    one of its parameters requires a gradient (freeze a module with ``module.requires_grad_(False)``). Only
    trained modules are checkpointed. ``loss`` must not step optimisers or call ``backward``.
    """

    def modules(self) -> Mapping[str, nn.Module]: ...

    def loss(self, batch: Any, context: StepContext) -> LossOutput: ...


@runtime_checkable
class PhasedTask(Protocol):
    """A task with several optimisation phases (e.g. generator then discriminator)."""

    def phases(self) -> Sequence[Phase]: ...


@runtime_checkable
class SamplingTask(Protocol):
    """A task that can write previews (images, videos) with the current (EMA) weights.

    ``sample`` is called on the main process only, every ``sample_every`` steps, in eval mode, with the EMA
    weights swapped in and the random states restored afterwards (so previews never change training).
    It returns the files it wrote, all inside ``out_dir``.
    """

    def sample(self, step: int, out_dir: Path) -> list[Path]: ...


@runtime_checkable
class DataSource(Protocol):
    """An endless, resumable stream of batches for one process.

    ``next_batch`` returns the next batch (tensors in nested dicts/lists/tuples are moved to the device by the
    engine). ``state_dict`` holds the position (and any random state) as plain Python values and tensors;
    after ``load_state_dict(s)`` the source yields exactly the batches it yielded after ``s`` was taken.
    A source built for ``rank`` of ``world_size`` processes yields that rank's shard.
    """

    def next_batch(self) -> Any: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...
