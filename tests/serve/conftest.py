"""Shared fixtures of the service tests: the demo model (one thread: the machine is shared), speech files, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

from motionkit.assets import bundled_model_path, demo_speech_path
from motionkit.io import load_audio
from motionkit.pipeline import Pipeline
from motionkit.serve.app import create_app
from motionkit.serve.config import ServeConfig

DEMO_MODEL = "synthetic-demo"
"""The learned 64-px demo model: the cheapest shipped model with every stage (encoder, flow, renderer)."""
SPEECH_RATE = 16000


@pytest.fixture(scope="package", autouse=True)
def one_thread() -> Iterator[None]:
    """Small models on a busy 2-core machine run far faster on one OpenMP thread (tests/pipeline/conftest.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="package")
def pipeline() -> Pipeline:
    return Pipeline.from_pretrained(bundled_model_path(DEMO_MODEL))


@pytest.fixture(scope="package")
def speech() -> np.ndarray:
    """The bundled speech clip (4 s, CMU ARCTIC) at 16 kHz."""
    return load_audio(demo_speech_path(), None, target_rate=SPEECH_RATE)


@pytest.fixture(scope="package")
def speech_file(tmp_path_factory: pytest.TempPathFactory, speech: np.ndarray) -> Callable[[float], Path]:
    """``speech_file(seconds)``: the first seconds of the clip as a WAV file."""
    folder = tmp_path_factory.mktemp("speech")

    def make(seconds: float) -> Path:
        path = folder / f"speech_{seconds:g}.wav"
        if not path.exists():
            sf.write(path, speech[: int(seconds * SPEECH_RATE)], SPEECH_RATE, subtype="PCM_16")
        return path

    return make


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[Callable[..., TestClient]]:
    """``client(**settings)``: a started app with those ServeConfig settings."""
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        client = TestClient(create_app(pipeline, ServeConfig(**settings)))
        clients.append(client.__enter__())
        return client

    yield make
    for made in clients:
        made.__exit__(None, None, None)
