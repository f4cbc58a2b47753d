"""Conversion of the official FLOAT checkpoint into a motionkit model folder (``motionkit convert-float``).

FLOAT ships one pickled flat state dict (``float.pth``: ``motion_autoencoder.*``, ``fmt.*``,
``audio_encoder.audio_projection.*``) and loads its two wav2vec2 models from Hugging Face folders
(``facebook/wav2vec2-base-960h`` and ``r-f/wav2vec-english-speech-emotion-recognition``, whose weights may be
``pytorch_model.bin`` pickles too). :func:`convert_float` reads all of them once — pickles only through
``torch.load(weights_only=True)``, which refuses files containing code — checks every name and shape against the
``float-512`` layout (:mod:`motionkit.families.float.layout`), and writes a model folder
(:mod:`motionkit.model_folder`: ``config.json``, safetensors per component, ``manifest.json`` with the sources'
sha256 and the weights' licence). After conversion nothing reads pickle again.

The folder is assembled beside ``out`` and moved into place when complete, so a failed conversion leaves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from motionkit.errors import CheckpointError
from motionkit.families.conversion import check_output
from motionkit.families.conversion import hash_sources as hash_files
from motionkit.families.float.layout import (
    conditioner_from_official,
    official_key_report,
    renderer_from_official,
    sampler_from_official,
)
from motionkit.families.float.licenses import EMOTION_REPO, WAV2VEC2_REPO, float_license
from motionkit.families.float.presets import float_512
from motionkit.io.files import atomic_folder
from motionkit.io.tensors import read_pickled
from motionkit.model_folder import save_model
from motionkit.progress import ProgressCallback, no_progress
from motionkit.validation import raise_for_keys

DOWNLOAD_HINT = (
    "float.pth is FLOAT's official checkpoint: run download_checkpoints.sh of deepbrainai-research/float (Google "
    "Drive id 1rvWuM12cyvNvBQNCLmG4Fr2L1rpjQBF0) on a machine with network and copy the file here"
)

CONVERSION_STEPS = ("read the checkpoint", "check the layout", "build the components", "write the folder")


def convert_float(
    checkpoint: str | Path,
    wav2vec2_dir: str | Path,
    emotion_dir: str | Path | None,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Convert ``float.pth`` and the two Hugging Face folders into the model folder ``out``.

    Args:
        checkpoint: the official ``float.pth`` (a flat state dict).
        wav2vec2_dir: folder of ``facebook/wav2vec2-base-960h`` (``config.json`` + ``model.safetensors`` or
            ``pytorch_model.bin``).
        emotion_dir: folder of ``r-f/wav2vec-english-speech-emotion-recognition``; ``None`` converts without the
            emotion classifier (the model then needs an explicit emotion, and uses neutral by default).
        out: the model folder to create.
        overwrite: replace an existing model folder at ``out`` (only a motionkit model folder or an empty one).
        progress: ``progress(stage, done, total)`` callback (see :mod:`motionkit.progress`).

    Returns:
        ``out``, ready for :func:`motionkit.model_folder.load_model` and ``Pipeline.from_pretrained``.

    Raises:
        CheckpointError: a source is missing or unreadable, or the checkpoint does not have the float-512 layout
            (every missing, unexpected and mis-shaped entry is listed in one message).
        OutputError: ``out`` exists (without ``overwrite``) or cannot be written.
    """
    report = progress or no_progress
    checkpoint, out = Path(checkpoint), Path(out)
    check_output(out, overwrite)
    _check_sources(checkpoint, Path(wav2vec2_dir), None if emotion_dir is None else Path(emotion_dir))
    sources = hash_sources(checkpoint, Path(wav2vec2_dir), None if emotion_dir is None else Path(emotion_dir), report)
    steps = len(CONVERSION_STEPS)

    def step(done: int) -> None:
        report("converting", done, steps)

    step(0)
    state_dict = read_float_checkpoint(checkpoint)
    step(1)
    config = float_512()
    raise_for_keys(
        official_key_report(state_dict, config.renderer, config.flow, config.conditioner),
        f"{checkpoint} does not have the layout of FLOAT's official checkpoint ({config.name})",
        f"Pass the official float.pth ({DOWNLOAD_HINT}).",
    )
    step(2)
    renderer = renderer_from_official(state_dict, config.renderer)
    sampler = sampler_from_official(state_dict, config.flow)
    conditioner = conditioner_from_official(state_dict, wav2vec2_dir, emotion_dir, config=config.conditioner)
    del state_dict
    step(3)
    manifest = {
        "converted_from": "FLOAT official checkpoint (deepbrainai-research/float)",
        "sources": sources,
        "license": float_license(with_emotion=emotion_dir is not None),
    }
    with atomic_folder(out, overwrite=overwrite) as folder:
        save_model(
            folder, config=config, renderer=renderer, conditioner=conditioner, sampler=sampler, manifest=manifest
        )
    step(4)
    return out


def read_float_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The flat state dict of ``float.pth``, read with ``torch.load(weights_only=True)`` on the CPU."""
    loaded = read_pickled(path, what="a PyTorch checkpoint", fix=f"download it again ({DOWNLOAD_HINT})")
    if not isinstance(loaded, Mapping):
        raise CheckpointError(
            f"{path} holds a {type(loaded).__name__}, not a state dict; pass FLOAT's official float.pth."
        )
    nested = [key for key, value in loaded.items() if isinstance(value, Mapping)]
    if nested and not any(isinstance(value, torch.Tensor) for value in loaded.values()):
        raise CheckpointError(
            f"{path} holds a dict of dicts (keys {', '.join(map(str, nested[:5]))}), not FLOAT's flat state dict; "
            f"pass the official float.pth, or save the state dict itself (e.g. torch.save(ckpt['state_dict'], ...))."
        )
    return {str(key): value for key, value in loaded.items()}


def hash_sources(
    checkpoint: Path, wav2vec2_dir: Path, emotion_dir: Path | None, progress: ProgressCallback
) -> dict[str, Any]:
    """sha256 of the checkpoint and of every file of the Hugging Face folders, for the manifest (see
    :func:`motionkit.families.conversion.hash_sources`); ``emotion`` is ``None`` when converted without it."""
    folders = {"wav2vec2": (wav2vec2_dir, WAV2VEC2_REPO)}
    if emotion_dir is not None:
        folders["emotion"] = (emotion_dir, EMOTION_REPO)
    sources = hash_files({"checkpoint": checkpoint}, folders, progress)
    if emotion_dir is None:
        sources["emotion"] = None
    return sources


def _check_sources(checkpoint: Path, wav2vec2_dir: Path, emotion_dir: Path | None) -> None:
    if not checkpoint.is_file():
        problem = "is a folder" if checkpoint.is_dir() else "does not exist"
        raise CheckpointError(f"checkpoint {checkpoint} {problem}; pass the path of float.pth ({DOWNLOAD_HINT}).")
    for folder, repo, option in ((wav2vec2_dir, WAV2VEC2_REPO, "wav2vec2"), (emotion_dir, EMOTION_REPO, "emotion")):
        if folder is not None and not folder.is_dir():
            raise CheckpointError(
                f"the {option} folder {folder} does not exist. It must be the Hugging Face folder of {repo} "
                f"(config.json + weights): fetch it on a machine with network with `huggingface-cli download {repo} "
                f"--local-dir <folder>` and copy it here."
            )
