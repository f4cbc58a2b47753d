"""Shared fixtures of the conditioner tests: tiny random wav2vec2 backbones, emotion classifiers and conditioners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from conditioner_helpers import TINY_CONDITIONER, TINY_WAV2VEC2, random_emotion, random_wav2vec2

from motionkit.conditioner import Conditioner, EmotionClassifier, build_wav2vec2
from motionkit.config import ConditionerConfig


@pytest.fixture(scope="session")
def tiny_wav2vec2() -> Any:
    return random_wav2vec2(TINY_WAV2VEC2)


@pytest.fixture(scope="session")
def tiny_emotion() -> EmotionClassifier:
    return random_emotion()


@pytest.fixture(scope="session")
def make_conditioner(tiny_wav2vec2: Any, tiny_emotion: EmotionClassifier) -> Callable[..., Conditioner]:
    """Factory of tiny wav2vec2 conditioners (projection seeded), with or without the emotion classifier."""

    def make(config: ConditionerConfig = TINY_CONDITIONER, emotion: bool = True, seed: int = 2) -> Conditioner:
        torch.manual_seed(seed)
        backbone = build_wav2vec2(TINY_WAV2VEC2, tiny_wav2vec2.state_dict())
        return Conditioner(config, wav2vec2=backbone, emotion=tiny_emotion if emotion else None)

    return make


@pytest.fixture(scope="session")
def speech() -> Callable[..., np.ndarray]:
    """Factory of deterministic speech-like test signals (amplitude-modulated harmonics plus noise), float32."""

    def make(num_samples: int, seed: int = 0, rate: int = 16000) -> np.ndarray:
        rng = np.random.default_rng(seed)
        t = np.arange(num_samples) / rate
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
        voiced = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140.0, 280.0, 420.0, 900.0), start=1))
        return (0.2 * envelope * voiced + 0.01 * rng.standard_normal(num_samples)).astype(np.float32)

    return make
