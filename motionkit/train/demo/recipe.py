"""The synthetic-demo recipe: data, auto-encoder, features, flow model, axis calibration, export, evaluation.

``train_synthetic_demo(out_dir)`` trains the model meant to ship in ``motionkit/assets/models/synthetic-demo``
(``motionkit train --preset synthetic-demo``; docs/demo-model.md has its figures). Layout of ``out_dir``::

    recipe.json     the SyntheticDemoConfig of the run (a re-run must use the same)
    timings.json    wall and CPU seconds per stage, summed over every invocation on this folder
    ae/             auto-encoder run (metrics.csv, loss.png, samples/, checkpoints/)
    features/       feature cache: per clip the frozen auto-encoder's motion latents, the normalised waveform
                    framed (T, 640) and the portrait's motion as the source
    flow/           flow run (metrics.csv, loss.png, samples/, checkpoints/)
    model/          the exported model folder (returned)

Both training runs resume from their latest checkpoint when the recipe is run again on the same folder, so an
interrupted recipe continues where it stopped (bit-identically on the CPU); calibration, export and evaluation
always run again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from motionkit.conditioner import Conditioner
from motionkit.config.train import TRAIN_PRESETS, AELossConfig
from motionkit.data.cache import FeatureCache, FeatureCacheWriter, WindowSource
from motionkit.data.synthetic import SyntheticWorld
from motionkit.errors import ConfigError
from motionkit.flow import FlowSampler
from motionkit.io import images_to_tensor, normalize_waveform
from motionkit.model_folder import load_model, save_model, update_manifest
from motionkit.renderer import Renderer
from motionkit.space.calibration import AxisFit
from motionkit.train.demo.calibration import calibrate_axes, calibration_faces, encode_motion
from motionkit.train.demo.config import SyntheticDemoConfig
from motionkit.train.demo.data import (
    DemoIdentity,
    SyntheticPairSource,
    held_out_seeds,
    make_identities,
    parameter_scales,
    training_seeds,
)
from motionkit.train.demo.evaluation import evaluate_model
from motionkit.train.engine import Trainer
from motionkit.train.export import checkpoint_weights, load_weights
from motionkit.train.rng import derive_seed
from motionkit.train.tasks.autoencoder import AutoencoderTask, initialise_renderer
from motionkit.train.tasks.flow import FlowPreview, FlowTask, audio_margin
from motionkit.train.timing import Log, StageTimer, log_to_stderr, preset_settings, recipe_run

AE_PRESET = "ae-synthetic-demo"
FLOW_PRESET = "flow-synthetic-demo"
LABEL = "synthetic-demo"
MODEL_FOLDER = "model"
LICENSE = "Apache-2.0"
_STREAM_AE_INIT, _STREAM_FLOW_INIT = 11, 12


def _train_autoencoder(
    config: SyntheticDemoConfig, identities: list[DemoIdentity], out_dir: Path, world: SyntheticWorld
) -> Renderer:
    preset = TRAIN_PRESETS[AE_PRESET]
    settings = preset_settings(
        AE_PRESET, config.model, config.seed, out_dir / "ae", steps=config.ae_steps, batch_size=config.ae_batch_size
    )
    losses = AELossConfig.model_validate(
        {
            **preset.get("losses", {}),
            "parameters": config.parameter_loss,
            "parameter_forcing": config.parameter_forcing if config.parameter_loss > 0 else 0.0,
        }
    )
    data = SyntheticPairSource(
        identities,
        parameter_scales(world),
        portrait_rate=config.portrait_source_rate,
        batch_size=settings.batch_size,
        seed=derive_seed(config.seed, 2),
    )
    torch.manual_seed(derive_seed(config.seed, _STREAM_AE_INIT))
    renderer = initialise_renderer(Renderer(config.model.renderer), preset.get("init", "lia"))
    task = AutoencoderTask(
        renderer, losses, betas=settings.betas, parameters=len(parameter_scales(world)), preview=data.batch(0)
    )
    result = Trainer(task, data, settings).fit()
    assert result.checkpoint is not None
    trained = Renderer(config.model.renderer)
    load_weights(trained, checkpoint_weights(result.checkpoint, "renderer"), str(result.checkpoint))
    return trained.requires_grad_(False).eval()


def _extract_features(
    renderer: Renderer, identities: list[DemoIdentity], folder: Path, config: SyntheticDemoConfig
) -> FeatureCache:
    """Cache per clip: motion latents, normalised framed waveform, and the portrait's motion as the source."""
    spf = config.model.conditioner.samples_per_frame
    eps = config.model.conditioner.norm_eps
    with FeatureCacheWriter(folder) as writer:
        for identity in identities:
            name = f"identity-{identity.seed}"
            if name in writer:
                continue
            frames = identity.frames[: identity.clip_frames]
            waveform = normalize_waveform(identity.audio, eps)
            writer.add(
                name,
                {
                    "motion": encode_motion(renderer, frames),
                    "audio": torch.from_numpy(waveform).reshape(identity.clip_frames, spf),
                    "source": encode_motion(renderer, identity.portrait[None])[0],
                },
            )
    return FeatureCache(folder)


def _train_flow(
    config: SyntheticDemoConfig,
    renderer: Renderer,
    cache: FeatureCache,
    out_dir: Path,
    preview_identity: DemoIdentity,
) -> tuple[FlowSampler, Conditioner]:
    model = config.model
    settings = preset_settings(
        FLOW_PRESET,
        config.model,
        config.seed,
        out_dir / "flow",
        steps=config.flow_steps,
        batch_size=config.flow_batch_size,
    )
    margin = audio_margin(model.conditioner, True)
    data = WindowSource(
        cache,
        window=model.flow.window,
        context=model.flow.context + margin,
        batch_size=settings.batch_size,
        seed=derive_seed(config.seed, 3),
        source_frame="cached",
    )
    torch.manual_seed(derive_seed(config.seed, _STREAM_FLOW_INIT))
    sampler, conditioner = FlowSampler(model.flow), Conditioner(model.conditioner)
    preview = FlowPreview(renderer, images_to_tensor(preview_identity.portrait)[None], preview_identity.audio)
    task = FlowTask(sampler, conditioner, margin=margin, preview=preview, renderer=renderer)
    result = Trainer(task, data, settings).fit()
    assert result.checkpoint is not None
    trained_sampler, trained_conditioner = FlowSampler(model.flow), Conditioner(model.conditioner)
    load_weights(trained_sampler, checkpoint_weights(result.checkpoint, "flow"), str(result.checkpoint))
    load_weights(trained_conditioner, checkpoint_weights(result.checkpoint, "conditioner"), str(result.checkpoint))
    return trained_sampler.eval(), trained_conditioner.eval()


def train_synthetic_demo(
    out_dir: Path,
    *,
    config: SyntheticDemoConfig | None = None,
    evaluate: bool = True,
    log: Log | None = log_to_stderr,
) -> Path:
    """Train the synthetic-demo model from scratch and export it; returns the model folder ``out_dir/model``.

    Args:
        out_dir: folder for the runs, the feature cache and the model (created; an interrupted run in it continues).
        config: the recipe (default: :class:`SyntheticDemoConfig`, the demo model's).
        evaluate: measure the exported model on held-out clips and the bundled speech clip and record the
            figures in its ``manifest.json`` (see :mod:`motionkit.train.demo.evaluation`).
        log: receives one line per stage (default: standard error); ``None`` is silent.
    """
    config = SyntheticDemoConfig() if config is None else config
    if not isinstance(config, SyntheticDemoConfig):
        raise ConfigError(f"config must be a SyntheticDemoConfig, got {type(config).__name__}.")
    with recipe_run(out_dir, config, LABEL, threads=config.threads, log=log) as (out_dir, timer):
        size = config.model.renderer.size
        world = SyntheticWorld(config.world, size=size)
        with timer.stage("data"):
            seeds = training_seeds(config.seed, config.identities)
            identities = make_identities(
                config.world, size, seeds, config.clip_seconds, config.pose_frames, workers=config.workers
            )
        with timer.stage("auto-encoder"):
            renderer = _train_autoencoder(config, identities, out_dir, world)
        with timer.stage("features"):
            cache = _extract_features(renderer, identities, out_dir / "features", config)
        with timer.stage("flow"):
            sampler, conditioner = _train_flow(config, renderer, cache, out_dir, identities[0])
        with timer.stage("calibration"):
            faces = calibration_faces(
                config.world,
                size,
                held_out_seeds(config.calibration_clips),
                config.calibration_seconds,
                config.calibration_pose_frames,
            )
            space, report, gains = calibrate_axes(renderer, faces, config.world)
        with timer.stage("export"):
            folder = save_model(
                out_dir / MODEL_FOLDER,
                config=config.model,
                renderer=renderer,
                conditioner=conditioner,
                sampler=sampler,
                space=space,
                manifest=_manifest(config, report, gains, timer),
            )
        if evaluate and config.evaluation_clips:
            with timer.stage("evaluation"):
                evaluation = evaluate_model(
                    load_model(folder),
                    world=config.world,
                    clips=config.evaluation_clips,
                    seconds=config.evaluation_seconds,
                )
            timer.log(f"[{LABEL}] targets:\n{evaluation}")
            update_manifest(folder, {"evaluation": evaluation.to_dict(), "timings": timer.stages})
    return folder


def _manifest(
    config: SyntheticDemoConfig, report: dict[str, AxisFit], gains: dict[str, float], timer: StageTimer
) -> dict[str, Any]:
    training = ("data", "auto-encoder", "features", "flow", "calibration")
    return {
        "name": LABEL,
        "license": LICENSE,
        "notes": (
            "motionkit's own demo model, trained from scratch on the procedural synthetic world "
            "(motionkit.data.synthetic) by motionkit.train.demo.train_synthetic_demo; no external data or weights. "
            "Emotion is always neutral (the world has no emotions). See docs/demo-model.md."
        ),
        "recipe": {
            "function": "motionkit.train.demo.train_synthetic_demo",
            "config": config.model_dump(mode="json"),
            "ae_preset": TRAIN_PRESETS[AE_PRESET],
            "flow_preset": TRAIN_PRESETS[FLOW_PRESET],
        },
        "seed": config.seed,
        "world": config.world.model_dump(mode="json"),
        "calibration": {
            name: {
                "unit": fit.unit,
                "r2": fit.r2,
                "rmse": fit.rmse,
                "samples": fit.samples,
                "rendered_gain": gains.get(name),
            }
            for name, fit in report.items()
        },
        "training_time": timer.total(training),
        "timings": timer.stages,
        "machine": {"torch_threads": torch.get_num_threads(), "torch": torch.__version__},
    }
