"""What the built-in recipes share: their run folder (claimed by one recipe configuration), their stages' wall and
CPU seconds, kept in a JSON file beside the runs, and the settings of a training preset as one stage's
:class:`TrainConfig`."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ValidationError

from motionkit.config.model import ModelConfig
from motionkit.config.train import TRAIN_PRESETS, TrainConfig
from motionkit.errors import ConfigError, OutputError
from motionkit.io import atomic_path
from motionkit.io.files import make_folder

Log = Callable[[str], None]
"""Receives one line of progress."""


class StageTimer:
    """Wall and CPU seconds per stage (CPU: this process's threads plus finished child processes), summed over
    every invocation of the recipe on one folder (kept in ``record``), so that a resumed run reports what the whole
    training cost."""

    def __init__(self, log: Log, record: Path, *, label: str) -> None:
        self.log = log
        self.label = label
        self.record = record
        self.stages: dict[str, dict[str, float]] = {}
        if record.is_file():
            try:
                self.stages = json.loads(record.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise OutputError(f"{record} is unreadable ({exc}); delete it or use an empty folder.") from exc

    @staticmethod
    def _cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), self._cpu()
        self.log(f"[{self.label}] {name} ...")
        yield
        spent = {"wall_s": time.perf_counter() - wall, "cpu_s": self._cpu() - cpu}
        before = self.stages.get(name, {})
        self.stages[name] = {key: round(before.get(key, 0.0) + value, 1) for key, value in spent.items()}
        with atomic_path(self.record) as tmp:
            tmp.write_text(json.dumps(self.stages, indent=2) + "\n", encoding="utf-8")
        self.log(f"[{self.label}] {name}: {spent['wall_s']:.1f} s wall, {spent['cpu_s']:.1f} s CPU")

    def total(self, names: tuple[str, ...]) -> dict[str, float]:
        return {
            key: round(sum(self.stages[n][key] for n in names if n in self.stages), 1) for key in ("wall_s", "cpu_s")
        }


def preset_settings(
    preset_name: str, model: ModelConfig | str, seed: int, output_dir: Path, **overrides: Any
) -> TrainConfig:
    """The optimisation settings of a training preset as a plain :class:`TrainConfig` of ``model`` (a configuration
    or a preset name) for a recipe whose own data sources replace the preset's videos / feature cache, with the
    ``overrides`` that are not ``None``. The warm-up is shortened to the run when the run is shorter; the run
    resumes from its latest checkpoint."""
    fields = {k: v for k, v in TRAIN_PRESETS[preset_name].items() if k in TrainConfig.model_fields}
    fields.update({k: v for k, v in overrides.items() if v is not None})
    fields["warmup_steps"] = min(fields.get("warmup_steps", 0), fields["steps"])
    fields.setdefault("sample_every", fields.get("checkpoint_every"))
    fields.update(model=model, output_dir=output_dir, seed=seed, resume="latest")
    try:
        return TrainConfig.model_validate(fields)
    except ValidationError as exc:
        raise ConfigError(f"invalid {preset_name} settings for the recipe: {exc}") from None


RECIPE_FILE = "recipe.json"
"""The recipe configuration a run folder belongs to."""
TIMINGS_FILE = "timings.json"
"""Wall and CPU seconds per stage of a recipe's run folder (:class:`StageTimer`)."""


def log_to_stderr(message: str) -> None:
    """The recipes' default progress log."""
    print(message, file=sys.stderr, flush=True)


def claim_run_folder(out_dir: Path, config: BaseModel, what: str) -> None:
    """Create ``out_dir`` for a run of ``config`` and record it in ``recipe.json``.

    A folder that already holds a run of the same configuration is continued; one of another configuration, an
    unreadable record or a file in the way is an :class:`OutputError` (``what`` names the run in the message).
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a folder; give a folder for the {what} recipe's outputs.")
    recipe = out_dir / RECIPE_FILE
    if recipe.is_file():
        try:
            previous = type(config).model_validate_json(recipe.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise OutputError(f"{recipe} is unreadable ({exc}); use an empty folder.") from exc
        if previous != config:
            raise OutputError(
                f"{out_dir} holds a {what} run with another recipe configuration ({recipe}); continue it with the "
                "same configuration or use an empty folder."
            )
    make_folder(out_dir)
    with atomic_path(recipe) as tmp:
        tmp.write_text(config.model_dump_json(indent=2) + "\n", encoding="utf-8")


@contextmanager
def recipe_run(
    out_dir: str | Path, config: BaseModel, what: str, *, threads: int | None, log: Log | None
) -> Iterator[tuple[Path, StageTimer]]:
    """The frame of a built-in recipe: ``out_dir`` claimed for ``config`` (:func:`claim_run_folder`; ``what`` names
    the recipe in messages and log lines), a :class:`StageTimer` logging to ``log`` (None: silent) and kept in
    ``out_dir / TIMINGS_FILE``, and torch's thread count set to ``threads`` (None: left as it is) for the run and
    restored afterwards.

    Yields ``(out_dir as a Path, timer)``.
    """
    if not isinstance(out_dir, (str, Path)):
        raise ConfigError(f"out_dir must be a folder path, got {type(out_dir).__name__}.")
    out_dir = Path(out_dir)
    claim_run_folder(out_dir, config, what)
    timer = StageTimer(log or (lambda _: None), out_dir / TIMINGS_FILE, label=what)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield out_dir, timer
    finally:
        torch.set_num_threads(previous)
