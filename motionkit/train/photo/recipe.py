"""The photo-motion recipe: synthetic speech and true parameters, flow training, export, evaluation.

``train_photo_motion(out_dir)`` trains the model meant to ship in ``motionkit/assets/models/photo-motion``
(``motionkit train --preset photo-motion``; docs/photo-motion.md has its figures). No frame is rendered: the
synthetic world gives every clip's speech and its true per-frame parameters. Layout of ``out_dir``::

    recipe.json     the PhotoMotionRecipe of the run (a re-run must use the same)
    timings.json    wall and CPU seconds per stage, summed over every invocation on this folder
    features/       feature cache: per clip the normalised parameters, the framed waveform, the neutral source
    flow/           flow run (metrics.csv, loss.png, checkpoints/)
    model/          the exported model folder (returned)

The training run resumes from its latest checkpoint when the recipe is run again on the same folder; export and
evaluation always run again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from motionkit.conditioner import Conditioner
from motionkit.config.train import TRAIN_PRESETS
from motionkit.data.cache import FeatureCache, WindowSource
from motionkit.data.synthetic import SyntheticWorld
from motionkit.errors import ConfigError
from motionkit.families.photo import ParameterMotion, parameter_space
from motionkit.model_folder import save_model, update_manifest
from motionkit.train.engine import Trainer
from motionkit.train.export import checkpoint_weights, load_weights
from motionkit.train.photo.config import PhotoMotionRecipe
from motionkit.train.photo.data import Normalisation, training_clips, write_cache
from motionkit.train.photo.evaluation import evaluate_photo_motion
from motionkit.train.rng import derive_seed
from motionkit.train.tasks.flow import FlowTask, audio_margin
from motionkit.train.timing import Log, StageTimer, log_to_stderr, preset_settings, recipe_run

FLOW_PRESET = "flow-photo-motion"
MODEL_FOLDER = "model"
LABEL = "photo-motion"
LICENSE = "Apache-2.0"
TRAINING_STAGES = ("data", "flow")
_STREAM_WINDOWS, _STREAM_INIT = 3, 12


def _train_flow(config: PhotoMotionRecipe, cache: FeatureCache, out_dir: Path) -> tuple[ParameterMotion, Conditioner]:
    model = config.model
    settings = preset_settings(
        FLOW_PRESET, model.name, config.seed, out_dir / "flow", steps=config.steps, batch_size=config.batch_size
    )
    margin = audio_margin(model.conditioner, True)
    data = WindowSource(
        cache,
        window=model.flow.window,
        context=model.flow.context + margin,
        batch_size=settings.batch_size,
        seed=derive_seed(config.seed, _STREAM_WINDOWS),
        source_frame="cached",
    )
    torch.manual_seed(derive_seed(config.seed, _STREAM_INIT))
    motion, conditioner = ParameterMotion(model), Conditioner(model.conditioner)
    result = Trainer(FlowTask(motion.flow, conditioner, margin=margin), data, settings).fit()
    assert result.checkpoint is not None
    trained, trained_conditioner = ParameterMotion(model), Conditioner(model.conditioner)
    load_weights(trained.flow, checkpoint_weights(result.checkpoint, "flow"), str(result.checkpoint))
    load_weights(trained_conditioner, checkpoint_weights(result.checkpoint, "conditioner"), str(result.checkpoint))
    return trained.eval(), trained_conditioner.eval()


def train_photo_motion(
    out_dir: Path,
    *,
    config: PhotoMotionRecipe | None = None,
    evaluate: bool = True,
    log: Log | None = log_to_stderr,
) -> Path:
    """Train the photo motion model from scratch and export it; returns the model folder ``out_dir/model``.

    Args:
        out_dir: folder for the run, the feature cache and the model (created; an interrupted run in it continues).
        config: the recipe (default: :class:`PhotoMotionRecipe`, the shipped model's).
        evaluate: measure the exported model on held-out voices and the bundled speech clip and record the figures
            in its ``manifest.json`` (:mod:`motionkit.train.photo.evaluation`).
        log: receives one line per stage (default: standard error); ``None`` is silent.
    """
    config = PhotoMotionRecipe() if config is None else config
    if not isinstance(config, PhotoMotionRecipe):
        raise ConfigError(f"config must be a PhotoMotionRecipe, got {type(config).__name__}.")
    with recipe_run(out_dir, config, LABEL, threads=config.threads, log=log) as (out_dir, timer):
        world = SyntheticWorld(config.world)
        with timer.stage("data"):
            clips = training_clips(
                world,
                config.seed,
                config.clips,
                config.clip_seconds,
                start_count=config.start_clips,
                start_seconds=config.model.flow.window / world.fps,
            )
            normalisation = Normalisation.of([clip.params.as_array() for clip in clips], config.scale_floor)
            neutral = np.array([axis.neutral for axis in config.model.axes], dtype=np.float32)
            cache = write_cache(
                out_dir / "features", clips, normalisation, neutral, norm_eps=config.model.conditioner.norm_eps
            )
        with timer.stage("flow"):
            motion, conditioner = _train_flow(config, cache, out_dir)
            motion.set_normalisation(torch.from_numpy(normalisation.mean), torch.from_numpy(normalisation.scale))
        with timer.stage("export"):
            folder = save_model(
                out_dir / MODEL_FOLDER,
                config=config.model,
                renderer=None,
                conditioner=conditioner,
                sampler=motion,
                space=parameter_space(config.model),
                manifest=_manifest(config, timer),
            )
        if evaluate and config.evaluation_clips:
            with timer.stage("evaluation"):
                evaluation = evaluate_photo_motion(
                    conditioner,
                    motion,
                    world=config.world,
                    clips=config.evaluation_clips,
                    seconds=config.evaluation_seconds,
                    head_clips=config.evaluation_head_clips,
                )
            timer.log(f"[{LABEL}] targets:\n{evaluation}")
            update_manifest(folder, {"evaluation": evaluation.to_dict(), "timings": timer.stages})
    return folder


def _manifest(config: PhotoMotionRecipe, timer: StageTimer) -> dict[str, Any]:
    return {
        "name": config.model.name,
        "license": LICENSE,
        "notes": (
            "motionkit's motion model for the geometric portrait renderer, trained from scratch on the speech and "
            "true parameters of the procedural synthetic world (motionkit.data.synthetic) by "
            "motionkit.train.photo.train_photo_motion; no external data or weights. Emotion is always neutral. "
            "See docs/photo-motion.md."
        ),
        "recipe": {
            "function": "motionkit.train.photo.train_photo_motion",
            "config": config.model_dump(mode="json"),
            "flow_preset": TRAIN_PRESETS[FLOW_PRESET],
        },
        "seed": config.seed,
        "world": config.world.model_dump(mode="json"),
        "training_time": timer.total(TRAINING_STAGES),
        "timings": timer.stages,
        "machine": {"torch_threads": torch.get_num_threads(), "torch": torch.__version__},
    }
