"""Conversion of IMTalker's official checkpoints into a motionkit model folder (``motionkit convert-imtalker``).

IMTalker ships two PyTorch-Lightning checkpoints (spec section 5): ``renderer.ckpt`` (``gen.*`` = the renderer,
beside discriminator and loss entries) and ``generator.ckpt`` (``model.*`` = the flow transformer, the control and
audio projections, and possibly the frozen wav2vec2), and loads wav2vec2-base-960h from a Hugging Face folder.
:func:`convert_imtalker` reads them once — pickles only through ``torch.load(weights_only=True)`` with the few
globals Lightning needs (:mod:`motionkit.families.imtalker.lightning`) — checks every name and shape of both files
against IMTalker's layout and reports all problems in one error, and writes a model folder (config.json, safetensors
per component, manifest.json with the sources' sha256 and the licences). After conversion nothing reads pickle again.

The folder is assembled beside ``out`` and moved into place when complete, so a failed conversion leaves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from motionkit.conditioner.huggingface import read_folder
from motionkit.conditioner.wav2vec2 import AUDIO_REPO_ID
from motionkit.errors import CheckpointError
from motionkit.families.conversion import check_output, hash_sources
from motionkit.families.imtalker.checkpoints import GENERATOR_PREFIX, RENDERER_PREFIX
from motionkit.families.imtalker.config import IMTalkerConfig
from motionkit.families.imtalker.generator import IMTalkerMotionConfig
from motionkit.families.imtalker.generator_layout import (
    MOTION_PREFIXES,
    PROJECTION_PREFIX,
    WAV2VEC2_PREFIX,
    check_conditioner_keys,
    check_motion_keys,
    conditioner_config_for,
    conditioner_from_official,
    motion_from_official,
)
from motionkit.families.imtalker.licenses import CODE_REPO, WEIGHTS_REPO, imtalker_license
from motionkit.families.imtalker.lightning import read_lightning_checkpoint
from motionkit.families.imtalker.presets import imtalker_512
from motionkit.families.imtalker.renderer_official import official_renderer_report, renderer_from_official
from motionkit.io.files import atomic_folder
from motionkit.model_folder import save_model
from motionkit.progress import ProgressCallback, no_progress
from motionkit.validation import KeyReport, raise_for_keys

DOWNLOAD_HINT = (
    f"renderer.ckpt and generator.ckpt are IMTalker's official checkpoints: download them from the Hugging Face "
    f"repository {WEIGHTS_REPO} (`huggingface-cli download {WEIGHTS_REPO} --local-dir <folder>`) on a machine with "
    f"network and copy them here"
)

IGNORED_RENDERER_PREFIXES = ("disc.", "criterion_vgg.")
"""``renderer.ckpt`` entries of training-only modules (discriminator, perceptual loss): not part of the renderer."""

CONVERSION_STEPS = ("read the checkpoints", "check the layout", "build the components", "write the folder")


def convert_imtalker(
    renderer_checkpoint: str | Path,
    generator_checkpoint: str | Path,
    wav2vec2_dir: str | Path,
    out: str | Path,
    *,
    overwrite: bool = False,
    motion: IMTalkerMotionConfig | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Convert ``renderer.ckpt``, ``generator.ckpt`` and the wav2vec2 folder into the model folder ``out``.

    Args:
        renderer_checkpoint: IMTalker's ``renderer.ckpt`` (Lightning; ``state_dict`` keys ``gen.*``).
        generator_checkpoint: IMTalker's ``generator.ckpt`` (Lightning; ``state_dict`` keys ``model.*``).
        wav2vec2_dir: folder of ``facebook/wav2vec2-base-960h`` (``config.json`` + weights); the generator
            checkpoint's own copy of the wav2vec2 weights, when it holds one, replaces the folder's (as in IMTalker).
        out: the model folder to create.
        overwrite: replace an existing model folder at ``out`` (only a motionkit model folder or an empty one).
        motion: the generator's configuration (default: the official one; other sizes are for tests).
        progress: ``progress(stage, done, total)`` callback (see :mod:`motionkit.progress`).

    Returns:
        ``out``, ready for :func:`motionkit.model_folder.load_model` and ``Pipeline.from_pretrained``.

    Raises:
        CheckpointError: a source is missing or unreadable, or the checkpoints do not have IMTalker's layout (every
            missing, unexpected and mis-shaped entry of both files is listed in one message).
        OutputError: ``out`` exists (without ``overwrite``) or cannot be written.
    """
    report = progress or no_progress
    renderer_path, generator_path, wav2vec2_path, out = (
        Path(renderer_checkpoint),
        Path(generator_checkpoint),
        Path(wav2vec2_dir),
        Path(out),
    )
    check_output(out, overwrite)
    for path, name in ((renderer_path, "renderer.ckpt"), (generator_path, "generator.ckpt")):
        if not path.is_file():
            problem = "is a folder" if path.is_dir() else "does not exist"
            raise CheckpointError(f"the {name} path {path} {problem}; {DOWNLOAD_HINT}.")
    wav2vec2_config, _ = read_folder(wav2vec2_path, "wav2vec2 audio encoder", AUDIO_REPO_ID)
    sources = hash_sources(
        {"renderer": renderer_path, "generator": generator_path}, {"wav2vec2": (wav2vec2_path, AUDIO_REPO_ID)}, report
    )
    steps = len(CONVERSION_STEPS)

    def step(done: int) -> None:
        report("converting", done, steps)

    step(0)
    fix = f"pass the official file ({DOWNLOAD_HINT})"
    renderer_state = read_lightning_checkpoint(renderer_path, what="a PyTorch-Lightning checkpoint", fix=fix)
    generator_state = read_lightning_checkpoint(generator_path, what="a PyTorch-Lightning checkpoint", fix=fix)
    step(1)
    official = imtalker_512()
    motion_config = official.motion if motion is None else motion
    config = IMTalkerConfig(
        name=official.name if motion is None else "imtalker",
        motion=motion_config,
        conditioner=conditioner_config_for(wav2vec2_config, motion_config.flow.audio_dim),
    )
    raise_for_keys(
        layout_report(renderer_state, generator_state, config),
        f"{renderer_path.name} / {generator_path.name} do not have the layout of IMTalker's official checkpoints "
        f"(renderer entries are shown as {RENDERER_PREFIX}*, generator entries as {GENERATOR_PREFIX}*)",
        f"Pass the official renderer.ckpt and generator.ckpt ({DOWNLOAD_HINT}).",
    )
    step(2)
    renderer = renderer_from_official(renderer_state)
    del renderer_state
    sampler = motion_from_official(generator_state, config.motion)
    conditioner = conditioner_from_official(generator_state, wav2vec2_path, config.motion.flow.audio_dim)
    del generator_state
    step(3)
    manifest: dict[str, Any] = {
        "converted_from": f"IMTalker official checkpoints ({CODE_REPO}, weights {WEIGHTS_REPO})",
        "sources": sources,
        "license": imtalker_license(),
    }
    with atomic_folder(out, overwrite=overwrite) as folder:
        save_model(
            folder, config=config, renderer=renderer, conditioner=conditioner, sampler=sampler, manifest=manifest
        )
    step(4)
    return out


def layout_report(
    renderer_state: Mapping[str, object], generator_state: Mapping[str, object], config: IMTalkerConfig
) -> KeyReport:
    """Every missing, unexpected and mis-shaped entry of both checkpoints' ``state_dict`` s, as one report."""
    renderer_strays = tuple(
        key for key in renderer_state if not key.startswith((RENDERER_PREFIX, *IGNORED_RENDERER_PREFIXES))
    )
    known = (*MOTION_PREFIXES, PROJECTION_PREFIX, WAV2VEC2_PREFIX)
    generator_strays = tuple(key for key in generator_state if not key.startswith(known))
    return (
        official_renderer_report(renderer_state)
        + KeyReport(unexpected=renderer_strays)
        + check_motion_keys(generator_state, config.motion)
        + check_conditioner_keys(generator_state, config.conditioner)
        + KeyReport(unexpected=generator_strays)
    )
