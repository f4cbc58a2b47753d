"""Shared fixtures of the IMTalker generator tests: the parity fixture's generator checkpoint as motionkit
components (built through the public converters' layout functions)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

from motionkit.conditioner import Conditioner, build_wav2vec2, save_wav2vec2
from motionkit.families.imtalker.generator import IMTalkerMotion
from motionkit.families.imtalker.generator_layout import (
    WAV2VEC2_PREFIX,
    conditioner_from_official,
    motion_from_official,
)
from motionkit.families.imtalker.presets import MOTION_DIM, imtalker_motion
from motionkit.testing.imtalker_parity import imtalker_fixture
from motionkit.testing.parity import parity_fixture

if TYPE_CHECKING:
    from motionkit import Pipeline


@pytest.fixture(scope="session")
def generator_checkpoint() -> dict[str, torch.Tensor]:
    """The fixture's generator weights under their ``generator.ckpt`` names (``model.*``)."""
    return imtalker_fixture().generator_checkpoint()


@pytest.fixture(scope="session")
def motion(generator_checkpoint: dict[str, torch.Tensor]) -> IMTalkerMotion:
    return motion_from_official(generator_checkpoint, imtalker_motion()).eval()


@pytest.fixture(scope="session")
def wav2vec2_dir(tmp_path_factory: pytest.TempPathFactory, generator_checkpoint: dict[str, torch.Tensor]) -> Path:
    """A wav2vec2-base folder as the harness built it (FLOAT fixture's config); its weights are the checkpoint's."""
    checkpoint = generator_checkpoint
    entries = {k[len(WAV2VEC2_PREFIX) :]: v for k, v in checkpoint.items() if k.startswith(WAV2VEC2_PREFIX)}
    folder = tmp_path_factory.mktemp("wav2vec2-base")
    save_wav2vec2(build_wav2vec2(parity_fixture().audio_config(), entries), folder)
    return folder


@pytest.fixture(scope="session")
def conditioner(generator_checkpoint: dict[str, torch.Tensor], wav2vec2_dir: Path) -> Conditioner:
    return conditioner_from_official(generator_checkpoint, wav2vec2_dir, MOTION_DIM).eval()


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An IMTalker model folder of the weight recipe (renderer at its only size, tiny generator and wav2vec2)."""
    from motionkit.testing.imtalker_folder import tiny_imtalker_folder

    return tiny_imtalker_folder(tmp_path_factory.mktemp("imtalker-tiny") / "model")


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_folder: Path) -> Pipeline:
    from motionkit import Pipeline

    return Pipeline.from_pretrained(tiny_folder)
