"""The generic training loop: AdamW phases, accumulation, clipping, mixed precision, EMA, logs, previews, checkpoints.

One optimiser step ``s`` (counted from 0) runs, for each :class:`~motionkit.train.protocols.Phase` in order::

    lr_phase = lr * phase.lr_scale * schedule(s)
    for each of the A accumulated micro-batches b:   backward( task.loss(b).total / A )
    average gradients over ranks; unscale (fp16); clip the global L2 norm to grad_clip; AdamW step

then updates the EMA. The A micro-batches of a step are drawn once and shared by all phases. Every ``log_every``
steps the mean of each logged value over those steps and over all ranks is appended to ``metrics.csv``; every
``checkpoint_every`` steps (and at the last step) a checkpoint is written and ``loss.png`` redrawn.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from motionkit.config.train import Precision, TrainConfig
from motionkit.errors import CheckpointError, ConfigError, MotionkitError, NonFiniteError
from motionkit.io.files import make_folder
from motionkit.train import checkpoint as ckpt
from motionkit.train.distributed import (
    DistContext,
    all_gather_objects,
    all_reduce_mean,
    average_gradients,
    barrier,
    broadcast_tensors,
    resolve_device,
    warn_main,
)
from motionkit.train.ema import EMA
from motionkit.train.metrics import MetricsLog, plot_metrics
from motionkit.train.protocols import DataSource, LossOutput, Phase, PhasedTask, SamplingTask, StepContext, TrainTask
from motionkit.train.rng import (
    capture_global,
    derive_seed,
    make_generator,
    preserved_global_state,
    restore_global,
    seed_process,
)
from motionkit.train.schedules import LRSchedule

METRICS_FILE = "metrics.csv"
PLOT_FILE = "loss.png"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
_GENERATOR_STREAM = 1


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :meth:`Trainer.fit`: the step reached and where things were written."""

    step: int
    output_dir: Path
    checkpoint: Path | None


def resolve_precision(precision: Precision, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (``None``: plain float32)."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if device.type != "cuda":
        raise ConfigError(f"precision {precision!r} needs a CUDA device (training on {device}); use 'fp32' or 'auto'.")
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if precision == "bf16" else torch.float16


def move_to_device(value: Any, device: torch.device) -> Any:
    """Move tensors found in nested dicts, lists and tuples (or objects with ``.to(device)``) to ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {key: move_to_device(item, device) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(move_to_device(item, device) for item in value))
    if isinstance(value, (list, tuple)):
        return type(value)(move_to_device(item, device) for item in value)
    if hasattr(value, "to") and not isinstance(value, nn.Module):
        return value.to(device)
    return value


@contextlib.contextmanager
def _eval_mode(modules: Mapping[str, nn.Module]) -> Iterator[None]:
    flags = [(sub, sub.training) for module in modules.values() for sub in module.modules()]
    try:
        for module in modules.values():
            module.eval()
        yield
    finally:
        for sub, training in flags:
            sub.training = training


class Trainer:
    """Optimises a :class:`TrainTask` on batches from a :class:`DataSource` as a :class:`TrainConfig` says.

    The task's modules are moved to the device; the trained ones (those with a parameter requiring a gradient)
    get AdamW optimisers per phase, an EMA (unless ``ema_decay`` is null or the phase opts out) and are saved in
    checkpoints. Under several processes (see :mod:`motionkit.train.distributed`) every rank builds the same
    task and a data source for its own shard; rank 0 writes everything.

    Example::

        trainer = Trainer(task, data, config, context=init_distributed(config.device))
        result = trainer.fit()          # resumes when config.resume says so
    """

    def __init__(
        self, task: TrainTask, data: DataSource, config: TrainConfig, *, context: DistContext | None = None
    ) -> None:
        self.task = task
        self.data = data
        self.config = config
        self.context = context or DistContext(device=resolve_device(config.device))
        self.device = self.context.device
        self.autocast_dtype = resolve_precision(config.precision, self.device)
        self.output_dir = Path(config.output_dir)
        self.checkpoint_dir = self.output_dir / CHECKPOINTS

        all_modules = dict(task.modules())
        for name, module in all_modules.items():
            if not isinstance(module, nn.Module):
                raise ConfigError(f"TrainTask.modules()[{name!r}] is a {type(module).__name__}, not an nn.Module.")
            module.to(self.device)
        self.all_modules = all_modules
        self.modules = {n: m for n, m in all_modules.items() if any(p.requires_grad for p in m.parameters())}
        if not self.modules:
            raise ConfigError("the task has no trainable parameters (every module is frozen); nothing to train.")
        self.phases = self._check_phases(list(task.phases()) if isinstance(task, PhasedTask) else None)
        # dict.fromkeys: a parameter shared by two modules of a phase is optimised once.
        self._phase_params = {
            phase.name: list(
                dict.fromkeys(p for name in phase.modules for p in self.modules[name].parameters() if p.requires_grad)
            )
            for phase in self.phases
        }
        self.optimizers = {
            phase.name: torch.optim.AdamW(
                self._phase_params[phase.name],
                lr=config.lr * phase.lr_scale,
                betas=phase.betas or config.betas,
                eps=config.eps,
                weight_decay=config.weight_decay,
                fused=self.device.type == "cuda",
            )
            for phase in self.phases
        }
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.autocast_dtype == torch.float16)
        ema_modules = {name: self.modules[name] for phase in self.phases if phase.ema for name in phase.modules}
        self.ema = (
            EMA(ema_modules, config.ema_decay, warmup=config.ema_warmup)
            if config.ema_decay is not None and ema_modules
            else None
        )
        self.schedule = LRSchedule(config.schedule, config.steps, config.warmup_steps, config.min_lr_ratio)
        self.generator = make_generator(self.device, derive_seed(config.seed, self.context.rank, _GENERATOR_STREAM))
        if config.sample_every is not None and not isinstance(task, SamplingTask):
            warn_main(
                "sample_every is set but the task has no sample() method; no previews will be written.", self.context
            )
        self.metrics = MetricsLog(self.output_dir / METRICS_FILE)
        self.step = 0
        self.last_checkpoint: Path | None = None
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def _check_phases(self, phases: list[Phase] | None) -> list[Phase]:
        if phases is None:
            return [Phase("main", tuple(self.modules))]
        names = [phase.name for phase in phases]
        if not phases or len(set(names)) != len(names):
            raise ConfigError(f"task phases must be non-empty with unique names, got {names}.")
        owner: dict[str, str] = {}
        for phase in phases:
            for name in phase.modules:
                if name not in self.modules:
                    state = "frozen" if name in self.all_modules else "not in TrainTask.modules()"
                    raise ConfigError(f"phase {phase.name!r} optimises module {name!r}, which is {state}.")
                if name in owner:
                    raise ConfigError(f"module {name!r} is in phases {owner[name]!r} and {phase.name!r}; use one.")
                owner[name] = phase.name
        orphans = sorted(set(self.modules) - set(owner))
        if orphans:
            raise ConfigError(f"trainable modules {orphans} are in no phase; add them to one or freeze them.")
        return phases

    # ------------------------------------------------------------------ the loop

    def fit(self) -> TrainResult:
        """Train until ``config.steps`` optimiser steps are done (resuming first if configured)."""
        # Rank 0 decides where to start and every rank follows, so that ranks never disagree about resuming.
        decision: tuple[Path | None, MotionkitError | None] = (None, None)
        if self.context.is_main:
            decision = self._resume_decision()
        resume_from, problem = all_gather_objects(decision, self.context)[0]
        if problem is not None:
            raise problem
        if self.context.is_main:
            make_folder(self.output_dir)
        barrier(self.context)
        if resume_from is not None:
            self.load(resume_from)
        else:
            seed_process(self.config.seed, self.context.rank)
            self._broadcast_weights(buffers_only=False)
            if self.context.is_main:
                self.metrics.truncate_after(0)
        while self.step < self.config.steps:
            self._train_step()
            self.step += 1
            finished = self.step == self.config.steps
            if self.step % self.config.log_every == 0 or finished:
                self._log()
            if self.config.sample_every and (self.step % self.config.sample_every == 0 or finished):
                self._sample()
            if self.step % self.config.checkpoint_every == 0 or finished:
                self.save()
        return TrainResult(self.step, self.output_dir, self.last_checkpoint or resume_from)

    def _resume_decision(self) -> tuple[Path | None, MotionkitError | None]:
        """(checkpoint to resume from or None, the error to raise or None) for ``config.resume``."""
        try:
            resume_from = ckpt.resolve_resume(self.config.resume, self.checkpoint_dir)
        except CheckpointError as error:
            return None, error
        existing = ckpt.latest_checkpoint(self.checkpoint_dir)
        if resume_from is None and existing is not None:
            return None, ConfigError(
                f"{self.output_dir} already holds checkpoints (newest: {existing.name}); set resume to 'latest' "
                "to continue that run, or choose another output_dir."
            )
        return resume_from, None

    def _broadcast_weights(self, *, buffers_only: bool) -> None:
        if not self.context.distributed:
            return
        tensors: list[torch.Tensor] = []
        for module in self.modules.values():
            tensors.extend(module.buffers())
            if not buffers_only:
                tensors.extend(p.data for p in module.parameters())
        broadcast_tensors(tensors, self.context)

    @contextlib.contextmanager
    def _phase_grads(self, phase: Phase) -> Iterator[None]:
        """Let only ``phase``'s parameters require gradients while it runs."""
        others = [p for other in self.phases if other is not phase for p in self._phase_params[other.name]]
        try:
            for parameter in others:
                parameter.requires_grad_(False)
            yield
        finally:
            for parameter in others:
                parameter.requires_grad_(True)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _record(self, name: str, value: torch.Tensor | float) -> None:
        value = torch.as_tensor(value, device=self.device).detach().float().reshape(())
        self._sums[name] = self._sums[name] + value if name in self._sums else value.clone()
        self._counts[name] = self._counts.get(name, 0) + 1

    def _train_step(self) -> None:
        factor = self.schedule(self.step)
        for phase in self.phases:
            for group in self.optimizers[phase.name].param_groups:
                group["lr"] = self.config.lr * phase.lr_scale * factor
        self._broadcast_weights(buffers_only=True)
        accumulation = self.config.grad_accumulation
        batches = [move_to_device(self.data.next_batch(), self.device) for _ in range(accumulation)]
        for phase in self.phases:
            optimizer = self.optimizers[phase.name]
            parameters = self._phase_params[phase.name]
            with self._phase_grads(phase):
                optimizer.zero_grad(set_to_none=True)
                for micro_step, batch in enumerate(batches):
                    context = StepContext(self.step, phase.name, micro_step, self.generator, self.device)
                    with self._autocast():
                        output = self.task.loss(batch, context)
                    total = self._check_output(output, phase)
                    self.scaler.scale(total / accumulation).backward()
                    self._record(f"loss/{phase.name}", total)
                    for part, value in output.parts.items():
                        self._record(part, value)
            average_gradients(parameters, self.context)
            self.scaler.unscale_(optimizer)
            max_norm = self.config.grad_clip if self.config.grad_clip is not None else math.inf
            norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
            self._record(f"grad_norm/{phase.name}", norm)
            self.scaler.step(optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update()

    def _check_output(self, output: LossOutput, phase: Phase) -> torch.Tensor:
        if not isinstance(output, LossOutput):
            raise ConfigError(f"TrainTask.loss must return a LossOutput, got {type(output).__name__}.")
        total = output.total
        if not isinstance(total, torch.Tensor) or total.numel() != 1 or not total.requires_grad:
            raise ConfigError(
                f"LossOutput.total of phase {phase.name!r} must be a scalar tensor that requires grad "
                f"(got {type(total).__name__} {tuple(getattr(total, 'shape', ()))})."
            )
        return total.reshape(())

    def _log(self) -> None:
        # Ranks may log different part names (a part reported only under some condition): reduce the union,
        # as sums and counts, so each value is the mean over every contribution of every rank.
        names = sorted(set().union(*all_gather_objects(sorted(self._sums), self.context)))
        zero = torch.zeros((), device=self.device)
        sums = [self._sums.get(n, zero) for n in names]
        counts = [torch.tensor(float(self._counts.get(n, 0)), device=self.device) for n in names]
        reduced = all_reduce_mean(torch.stack(sums + counts), self.context) if names else torch.zeros(0)
        values = dict(zip(names, (reduced[: len(names)] / reduced[len(names) :]).tolist()))
        self._sums.clear()
        self._counts.clear()
        for name, value in values.items():
            if not math.isfinite(value) and not name.startswith("grad_norm/"):
                where = f"; the last checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""
                raise NonFiniteError(
                    f"{name} became {value} by step {self.step}{where}. Lower the learning rate, enable grad_clip, "
                    "or use precision 'fp32'."
                )
        for phase in self.phases:
            values[f"lr/{phase.name}"] = self.optimizers[phase.name].param_groups[0]["lr"]
        if self.context.is_main:
            self.metrics.append(self.step, values)

    def _sample(self) -> None:
        if self.context.is_main and isinstance(self.task, SamplingTask):
            out_dir = self.output_dir / SAMPLES / ckpt.step_dir_name(self.step)
            make_folder(out_dir)
            ema = self.ema.swapped() if self.ema is not None else contextlib.nullcontext()
            with preserved_global_state(), ema, _eval_mode(self.all_modules), torch.no_grad():
                self.task.sample(self.step, out_dir)
        barrier(self.context)

    # ------------------------------------------------------------------ checkpoints

    def _rank_state(self) -> dict[str, Any]:
        pending = {name: (self._sums[name].cpu(), self._counts[name]) for name in self._sums}
        return {
            "rng": capture_global(),
            "generator": self.generator.get_state(),
            "data": self.data.state_dict(),
            "pending_metrics": pending,
        }

    def save(self) -> Path:
        """Write a checkpoint of the current step (rank 0 writes; every rank contributes its random/data state)."""
        ranks = all_gather_objects(self._rank_state(), self.context)
        folder = self.checkpoint_dir / ckpt.step_dir_name(self.step)
        if self.context.is_main:
            state = ckpt.TrainingState(
                step=self.step,
                world_size=self.context.world_size,
                modules={name: module.state_dict() for name, module in self.modules.items()},
                ema=self.ema.shadow if self.ema is not None else {},
                ema_updates=self.ema.updates if self.ema is not None else 0,
                optimizers={name: optimizer.state_dict() for name, optimizer in self.optimizers.items()},
                scaler=self.scaler.state_dict(),
                ranks=ranks,
                config=self.config.model_dump(mode="json"),
            )
            folder = ckpt.save_checkpoint(self.checkpoint_dir, state)
            ckpt.prune_checkpoints(self.checkpoint_dir, self.config.keep_checkpoints)
            if self.metrics.path.is_file():
                plot_metrics(self.metrics.path, self.output_dir / PLOT_FILE, title=f"{self.config.kind} training")
        barrier(self.context)
        self.last_checkpoint = folder
        return folder

    def load(self, folder: str | Path) -> None:
        """Restore everything from a checkpoint folder so that training continues exactly."""
        state = ckpt.load_checkpoint(folder)
        missing = sorted(set(self.modules) - set(state.modules))
        if missing:
            raise CheckpointError(f"checkpoint {folder} has no weights for trained modules {missing}.")
        for name, module in self.modules.items():
            try:
                module.load_state_dict(state.modules[name])
            except RuntimeError as exc:
                raise CheckpointError(f"checkpoint {folder} does not fit module {name!r}: {exc}") from exc
        for name, optimizer in self.optimizers.items():
            if name not in state.optimizers:
                raise CheckpointError(f"checkpoint {folder} has no optimiser state for phase {name!r}.")
            try:
                optimizer.load_state_dict(state.optimizers[name])
            except (ValueError, KeyError, RuntimeError) as exc:
                raise CheckpointError(f"optimiser state of phase {name!r} in {folder} does not fit: {exc}") from exc
        if state.scaler and self.scaler.is_enabled():
            self.scaler.load_state_dict(state.scaler)
        if self.ema is not None:
            if state.ema:
                self.ema.load(state.ema, state.ema_updates)
            else:
                warn_main(
                    f"checkpoint {folder} has no EMA weights; the EMA restarts from the current weights.", self.context
                )
        if state.world_size == self.context.world_size and len(state.ranks) == state.world_size:
            own = state.ranks[self.context.rank]
            restore_global(own["rng"])
            self.generator.set_state(own["generator"])
            self.data.load_state_dict(own["data"])
            self._sums = {name: total.to(self.device) for name, (total, _) in own["pending_metrics"].items()}
            self._counts = {name: count for name, (_, count) in own["pending_metrics"].items()}
        else:
            warn_main(
                f"checkpoint {folder} was saved by {state.world_size} processes, this run has "
                f"{self.context.world_size}: weights and optimiser continue, random streams are re-seeded and the "
                "data position is taken from rank 0 (the continuation is not bit-identical).",
                self.context,
            )
            seed_process(derive_seed(self.config.seed, state.step), self.context.rank)
            self.generator.manual_seed(derive_seed(self.config.seed, self.context.rank, _GENERATOR_STREAM, state.step))
            self.data.load_state_dict(state.ranks[0]["data"])
        self.step = state.step
        self.last_checkpoint = Path(folder)
        if self.context.is_main:
            self.metrics.truncate_after(self.step)
