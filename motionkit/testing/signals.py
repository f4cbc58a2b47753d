"""Deterministic test signals."""

from __future__ import annotations

import numpy as np

SPEECH_HARMONICS = (140.0, 280.0, 420.0, 900.0)
"""Partials (Hz) of the voiced sound, each weighted by 1 / its rank."""
SYLLABLE_RATE = 3.0
"""Hz of the amplitude modulation (about one syllable every 0.17 s, as the envelope is squared)."""


def speech_like(seconds: float, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Speech-like mono audio, float32 in about [-0.5, 0.5]: harmonics modulated at a syllable rate, plus noise.

    ``a(t) = 0.2 (0.5 + 0.5 sin^2(2 pi 3 t)) sum_k sin(2 pi f_k t) / k + 0.01 n(t)``, ``n`` standard normal.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * SYLLABLE_RATE * t) ** 2
    voiced = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate(SPEECH_HARMONICS, start=1))
    return (0.2 * envelope * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
