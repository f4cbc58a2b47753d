"""Shared fixtures of the CLI tests: a tiny random model folder, inputs, and one thread for tiny models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
import torch

from motionkit import runtime
from motionkit.testing.models import random_model_folder
from motionkit.testing.signals import speech_like


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tiny models run one small op after another; a second OpenMP thread on a busy 2-core machine makes every op
    wait at the barrier, so these tests use one thread (and restore the setting), also where a command picks its
    thread count (``--threads`` not given)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setattr(runtime, "default_threads", lambda: 1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_model_folder(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def portrait() -> Path:
    from motionkit.assets import demo_portrait_path

    return demo_portrait_path()


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, speech_like(1.0), 16000, subtype="PCM_16")
    return path
