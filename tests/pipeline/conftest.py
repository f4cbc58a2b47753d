"""Shared fixtures of the pipeline tests: a tiny random model folder, a portrait and short speech files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
import torch

from motionkit.pipeline import Pipeline
from motionkit.testing.models import random_model_folder
from motionkit.testing.signals import speech_like

SAMPLE_RATE = 16000


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny models run one small op after another; on a busy 2-core machine a second OpenMP thread makes every op
    wait at the barrier (10x slower here), so the tiny-model tests use one thread and restore the setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_model_folder(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def pipeline(tiny_model: Path) -> Pipeline:
    return Pipeline.from_pretrained(tiny_model)


@pytest.fixture(scope="session")
def portrait() -> Path:
    from motionkit.assets import demo_portrait_path

    return demo_portrait_path()


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.3 s of speech-like audio (33 frames: 4 tiny-model windows, the last one padded)."""
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, speech_like(1.3), SAMPLE_RATE, subtype="PCM_16")
    return path
