"""The streaming resampler equals scipy's resample_poly of the whole signal, however the input is chunked."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from motionkit.serve.resample import StreamResampler

MODEL_RATE = 16000
RATES = (8000, 11025, 22050, 44100, 48000, 96000)
FLOAT32_TOLERANCE = 1e-5
"""The output is float32 of O(1) samples summed over ~60 float64 products: float32 rounding dominates."""


def stream(x: np.ndarray, rate: int, cuts: list[int]) -> np.ndarray:
    resampler = StreamResampler(rate, MODEL_RATE)
    bounds = [0, *sorted(c % (len(x) + 1) for c in cuts), len(x)]
    parts = [resampler.push(x[a:b]) for a, b in itertools.pairwise(bounds)]
    return np.concatenate([*parts, resampler.finish()])


@settings(max_examples=30, deadline=None)
@given(rate=st.sampled_from(RATES), cuts=st.lists(st.integers(0, 10_000), max_size=12), seed=st.integers(0, 99))
def test_chunked_stream_equals_resample_poly_of_the_whole(rate: int, cuts: list[int], seed: int) -> None:
    x = np.random.default_rng(seed).uniform(-1, 1, rate // 4).astype(np.float32)
    resampler = StreamResampler(rate, MODEL_RATE)
    reference = resample_poly(x.astype(np.float64), resampler.up, resampler.down)
    out = stream(x, rate, cuts)
    assert out.dtype == np.float32
    assert out.shape == reference.shape
    np.testing.assert_allclose(out, reference, atol=FLOAT32_TOLERANCE)


def test_output_is_emitted_as_soon_as_its_input_has_arrived() -> None:
    resampler = StreamResampler(48000, MODEL_RATE)  # up 1, down 3, half length 30 input samples
    out = resampler.push(np.zeros(960, dtype=np.float32))  # 20 ms
    # output k needs input up to 3k + 30: k <= (959 - 30) / 3 -> 310 outputs of the 320 a whole 20 ms makes
    assert len(out) == (960 - 1 - resampler.half) // resampler.down + 1
    assert len(resampler.finish()) == 320 - len(out)


def test_same_rate_passes_samples_through() -> None:
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    resampler = StreamResampler(MODEL_RATE, MODEL_RATE)
    np.testing.assert_array_equal(resampler.push(x), x)
    assert len(resampler.finish()) == 0
