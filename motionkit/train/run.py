"""Entry point of a training run, the same for one process and under ``torchrun``.

``run_training(kind, config)`` reads the configuration, joins the process group (if ``torchrun`` started
several processes), builds the task and this rank's data source with the *task builder* registered for ``kind``,
trains, and returns the last checkpoint folder. ``python -m motionkit.train ae|flow --config CONFIG.json`` and the
``motionkit train`` command call it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch

from motionkit.config.train import AETrainConfig, FlowTrainConfig, TrainConfig, load_train_config
from motionkit.data.cache import FeatureCache, WindowSource
from motionkit.data.video import (
    FaceCropper,
    FramePairSource,
    ScanSettings,
    SkippedFileWarning,
    default_index_path,
    scan_folder,
)
from motionkit.errors import ConfigError
from motionkit.io.files import make_folder
from motionkit.train.distributed import DistContext, barrier, init_distributed, shutdown
from motionkit.train.engine import Trainer
from motionkit.train.protocols import DataSource, TrainTask
from motionkit.train.rng import derive_seed

TaskBuilder = Callable[[TrainConfig, DistContext], tuple[TrainTask, DataSource]]
"""``(config, context) -> (task, data source for context.rank)``. Called on every rank after the process group is
up, with torch's global generator seeded identically on all ranks (so networks initialise identically)."""

TASK_BUILDERS: dict[str, TaskBuilder] = {}
"""Builders per training kind, filled by :func:`register_task`."""

_INIT_STREAM = 3
_DATA_STREAM = 2


def register_task(kind: Literal["ae", "flow"], builder: TaskBuilder) -> None:
    """Make ``builder`` the way :func:`run_training` builds ``kind`` runs."""
    TASK_BUILDERS[kind] = builder


def run_training(
    kind: Literal["ae", "flow"], config: str | Path | TrainConfig, *, builder: TaskBuilder | None = None
) -> Path:
    """Train ``kind`` ("ae" or "flow") as ``config`` (a JSON path or a config object) says; returns the last
    checkpoint folder. ``builder`` overrides the registered task builder."""
    if kind not in ("ae", "flow"):
        raise ConfigError(f"unknown training kind {kind!r}; use 'ae' or 'flow'.")
    settings = config if isinstance(config, TrainConfig) else load_train_config(config)
    if settings.kind != kind:
        raise ConfigError(f"the config describes a {settings.kind!r} run but {kind!r} training was requested.")
    build = builder or TASK_BUILDERS.get(kind)
    if build is None:
        raise ConfigError(
            f"no {kind!r} training task is registered in this motionkit build; pass builder= to run_training."
        )
    context = init_distributed(settings.device)
    try:
        torch.manual_seed(derive_seed(settings.seed, _INIT_STREAM))
        task, data = build(settings, context)
        try:
            result = Trainer(task, data, settings, context=context).fit()
        finally:
            close = getattr(data, "close", None)
            if callable(close):
                close()
    finally:
        shutdown(context)
    if result.checkpoint is None:
        raise ConfigError(f"the run in {settings.output_dir} wrote no checkpoint.")
    return result.checkpoint


def pair_source(config: AETrainConfig, context: DistContext, cropper: FaceCropper | None = None) -> FramePairSource:
    """This rank's (source, driving) pair stream over the usable clips of ``config.videos``.

    ``cropper`` crops the faces; without one, ``crop="resize"`` resizes whole frames to the model's image size
    and ``crop="face"`` is an error (face detection is the caller's to provide). Rank 0 scans the folder (caching
    the scan in ``output_dir/video_index.json``) and prints the dataset summary; the other ranks then read the
    cached scan.
    """
    if cropper is None:
        if config.crop == "face":
            raise ConfigError(
                "crop 'face' needs a face cropper (detector + crop rule); pass one, or use crop 'resize'."
            )
        cropper = FaceCropper.resize(config.resolved_model().renderer.size)
    settings = ScanSettings(min_frames=2, require_audio=False, face_search_frames=config.face_search_frames)
    index = default_index_path(config.output_dir)
    if context.is_main:
        make_folder(index.parent)
        dataset = scan_folder(config.videos, cropper, settings, index_path=index)
    barrier(context)
    if not context.is_main:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedFileWarning)
            dataset = scan_folder(config.videos, cropper, settings, index_path=index, verbose=False)
    if not dataset.clips:
        raise ConfigError(f"{config.videos} has no usable video clip; {dataset.summary}.")
    return FramePairSource(
        dataset.clips,
        cropper,
        batch_size=config.batch_size,
        seed=derive_seed(config.seed, _DATA_STREAM),
        rank=context.rank,
        world_size=context.world_size,
        workers=config.data_workers,
    )


def window_source(config: FlowTrainConfig, context: DistContext, *, margin: int = 0) -> WindowSource:
    """This rank's ``L' + L`` window stream over the feature cache ``config.features`` (L, L' from the model).

    ``margin`` adds that many context frames before the ``L'`` (e.g. the receptive field of an audio encoder that
    is trained on the cached waveform)."""
    flow = config.resolved_model().flow
    return WindowSource(
        FeatureCache(config.features),
        window=flow.window,
        context=flow.context + margin,
        batch_size=config.batch_size,
        seed=derive_seed(config.seed, _DATA_STREAM),
        rank=context.rank,
        world_size=context.world_size,
        workers=config.data_workers,
        source_frame=config.source_frame,
    )
