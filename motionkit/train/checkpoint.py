"""Training checkpoints: one folder per step, written atomically, loaded without pickle code execution.

Layout of ``<output_dir>/checkpoints/step-00001000/``::

    config.json                 the training configuration of the run
    <module>.safetensors        weights (parameters and buffers) of each trained module
    <module>.ema.safetensors    EMA weights of each module that has an EMA (float32)
    state.pt                    optimiser, grad-scaler, per-rank random and data states, step counters;
                                plain tensors/dicts only, read with ``torch.load(weights_only=True)``

The folder is written under a temporary name and renamed when complete, so a crash never leaves a partial
checkpoint that :func:`latest_checkpoint` could pick.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from motionkit.errors import CheckpointError, OutputError
from motionkit.io.files import make_folder
from motionkit.io.tensors import read_pickled, read_tensors, write_tensors

CHECKPOINT_FORMAT = "motionkit.train.checkpoint"
CHECKPOINT_VERSION = 1
STATE_FILE = "state.pt"
CONFIG_FILE = "config.json"
_STEP_DIR = re.compile(r"^step-(\d{8,})$")
_MODULE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class TrainingState:
    """Everything needed to continue a run exactly, as plain tensors and Python values.

    Attributes:
        step: optimiser steps completed.
        world_size: processes of the run that saved it.
        modules: state dict of each trained module.
        ema: float32 EMA shadow state dict of each module with an EMA.
        ema_updates: EMA updates made so far (drives the EMA warm-up).
        optimizers: ``optimizer.state_dict()`` per phase.
        scaler: ``GradScaler.state_dict()`` (empty when not using fp16).
        ranks: per rank (in rank order): ``{"rng": global random states, "generator": task generator state,
            "data": data-source state}``.
        config: the training configuration as JSON-compatible data.
    """

    step: int
    world_size: int
    modules: dict[str, dict[str, torch.Tensor]]
    ema: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    ema_updates: int = 0
    optimizers: dict[str, Any] = field(default_factory=dict)
    scaler: dict[str, Any] = field(default_factory=dict)
    ranks: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def list_checkpoints(root: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``root`` as ``(step, folder)``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for entry in root.iterdir():
        match = _STEP_DIR.match(entry.name)
        if match and (entry / STATE_FILE).is_file():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete checkpoint under ``root``, or ``None``."""
    found = list_checkpoints(root)
    return found[-1][1] if found else None


def _safetensors_ready(tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors with no two sharing memory (safetensors refuses shared storage)."""
    seen: set[int] = set()
    ready = {}
    for key, value in tensors.items():
        tensor = value.detach().cpu().contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen:
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        ready[key] = tensor
    return ready


def _check_module_name(name: str) -> None:
    if not _MODULE_NAME.match(name):
        raise CheckpointError(
            f"module name {name!r} cannot name a checkpoint file; use letters, digits, '_' or '-' in "
            "TrainTask.modules() keys."
        )


def save_checkpoint(root: str | Path, state: TrainingState) -> Path:
    """Write ``state`` to ``root/step-XXXXXXXX`` atomically and return that folder (replacing an existing one)."""
    root = Path(root)
    make_folder(root)
    final = root / step_dir_name(state.step)
    partial = root / f".{final.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir()
        metadata = {"format": CHECKPOINT_FORMAT, "step": str(state.step)}
        for name, weights in state.modules.items():
            _check_module_name(name)
            write_tensors(partial / f"{name}.safetensors", _safetensors_ready(weights), metadata)
        for name, weights in state.ema.items():
            write_tensors(partial / f"{name}.ema.safetensors", _safetensors_ready(weights), metadata)
        (partial / CONFIG_FILE).write_text(json.dumps(state.config, indent=2, default=str) + "\n", encoding="utf-8")
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "step": state.step,
            "world_size": state.world_size,
            "module_names": sorted(state.modules),
            "ema_names": sorted(state.ema),
            "ema_updates": state.ema_updates,
            "optimizers": state.optimizers,
            "scaler": state.scaler,
            "ranks": state.ranks,
        }
        torch.save(payload, partial / STATE_FILE)
        if final.exists():
            stale = root / f".{final.name}.stale-{os.getpid()}"
            final.rename(stale)
            partial.rename(final)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            partial.rename(final)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise OutputError(f"cannot write checkpoint {final} ({exc}); check free space and permissions.") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def prune_checkpoints(root: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest checkpoints under ``root``; returns the deleted folders."""
    found = list_checkpoints(root)
    doomed = [path for _, path in found[: max(0, len(found) - keep)]]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def load_checkpoint(folder: str | Path) -> TrainingState:
    """Read a checkpoint folder written by :func:`save_checkpoint` (tensors on the CPU)."""
    folder = Path(folder)
    state_path = folder / STATE_FILE
    if not state_path.is_file():
        raise CheckpointError(
            f"{folder} is not a training checkpoint (no {STATE_FILE}); pass a step-XXXXXXXX folder or 'latest'."
        )
    payload = read_pickled(state_path, what="a training state", fix="resume from another step-XXXXXXXX folder")
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{state_path} is not a motionkit training checkpoint.")
    if payload.get("version", 0) > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{folder} has checkpoint version {payload['version']}; this motionkit reads up to "
            f"{CHECKPOINT_VERSION}. Upgrade motionkit."
        )

    def read(path: Path) -> dict[str, torch.Tensor]:
        return read_tensors(path, what="checkpoint file", fix="the checkpoint is incomplete; resume from another one")

    config: dict[str, Any] = {}
    with contextlib.suppress(OSError, json.JSONDecodeError):
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    return TrainingState(
        step=int(payload["step"]),
        world_size=int(payload["world_size"]),
        modules={name: read(folder / f"{name}.safetensors") for name in payload["module_names"]},
        ema={name: read(folder / f"{name}.ema.safetensors") for name in payload["ema_names"]},
        ema_updates=int(payload["ema_updates"]),
        optimizers=payload["optimizers"],
        scaler=payload["scaler"],
        ranks=list(payload["ranks"]),
        config=config,
    )


def resolve_resume(resume: str | None, root: str | Path) -> Path | None:
    """The checkpoint folder a run resumes from: ``None`` (fresh), ``"latest"`` (newest under ``root``, or fresh
    when there is none) or an explicit folder, which must exist."""
    if resume is None:
        return None
    if resume == "latest":
        return latest_checkpoint(root)
    folder = Path(resume)
    if not (folder / STATE_FILE).is_file():
        raise CheckpointError(f"resume checkpoint {folder} does not exist or is incomplete (no {STATE_FILE}).")
    return folder
