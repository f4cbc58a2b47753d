"""Metrics on constructed signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from motionkit.assets import demo_speech_path
from motionkit.errors import AudioError, ConfigError, ShapeError
from motionkit.eval.metrics import (
    audio_envelope,
    av_offset,
    closed_mouth_rate,
    edit_accuracy,
    frame_rms,
    jitter,
    pearson,
    seam_discontinuity,
    silence_mask,
)

FPS, RATE, STEP = 25.0, 16000, 640


def _smooth_noise(seed: int, frames: int, sigma: float = 2.0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.random.default_rng(seed).standard_normal(frames), sigma)


def _bursts(frames: int, speech: list[tuple[int, int]], seed: int = 0) -> np.ndarray:
    """Noise-floor audio with loud tone bursts on the given frame ranges."""
    rng = np.random.default_rng(seed)
    audio = 1e-4 * rng.standard_normal(frames * STEP)
    t = np.arange(frames * STEP) / RATE
    for start, stop in speech:
        audio[start * STEP : stop * STEP] += 0.3 * np.sin(2 * np.pi * 220 * t[start * STEP : stop * STEP])
    return audio


def test_pearson() -> None:
    x = np.linspace(0, 1, 50)
    assert pearson(x, 3 * x + 1) == pytest.approx(1.0)
    assert pearson(x, -x) == pytest.approx(-1.0)
    y = x.copy()
    y[5] = np.nan
    assert pearson(x, y) == pytest.approx(1.0)
    assert np.isnan(pearson(x, np.ones(50)))
    with pytest.raises(ShapeError, match="same number of frames"):
        pearson(x, x[:-1])


def test_frame_rms_aligns_with_frames() -> None:
    audio = np.zeros(10 * STEP)
    audio[3 * STEP : 4 * STEP] = 0.5
    rms = frame_rms(audio)
    assert rms.shape == (10,)
    assert rms[3] == pytest.approx(0.5)
    assert rms[[2, 4]].max() == 0
    assert frame_rms(audio[:-1]).shape == (10,), "a short last frame is padded"
    assert frame_rms(audio, frames=4).shape == (4,)
    envelope = audio_envelope(audio)
    assert envelope[3] == 0.0
    assert envelope[0] == -60.0
    with pytest.raises(AudioError, match="mono"):
        frame_rms(np.zeros((2, 100)))
    with pytest.raises(AudioError, match="NaN"):
        frame_rms(np.full(100, np.nan))
    with pytest.raises(ConfigError, match="whole"):
        frame_rms(audio, 16000, 30.0)


@given(st.integers(-6, 6), st.integers(0, 1000))
def test_av_offset_recovers_a_delay(lag: int, seed: int) -> None:
    envelope = _smooth_noise(seed, 200)
    # video late by `lag` frames: the mouth at t shows the sound at t - lag
    mouth = np.roll(envelope, lag)
    offset = av_offset(mouth, envelope, max_lag=10)
    assert offset.frames == lag
    assert offset.correlation > 0.9
    assert offset.lags.shape == offset.curve.shape == (21,)


def test_av_offset_errors() -> None:
    with pytest.raises(ShapeError, match="too few"):
        av_offset(np.zeros(10), np.zeros(10), max_lag=15)
    with pytest.raises(ConfigError, match="max_lag"):
        av_offset(np.zeros(50), np.zeros(50), max_lag=-1)


def test_silence_mask_marks_pauses_minus_hangover() -> None:
    audio = _bursts(60, [(10, 25), (27, 40)])  # a 2-frame dip at 25..26 is a closure, not a pause
    silent = silence_mask(audio, min_frames=4, hangover=2)
    expected = np.zeros(60, bool)
    expected[0:8] = True  # clip start: no hangover on the clip edge
    expected[42:60] = True
    assert np.array_equal(silent, expected)


def test_silence_mask_on_the_real_clip() -> None:
    audio, rate = sf.read(demo_speech_path())
    silent = silence_mask(audio, rate)
    assert silent[:8].all()
    assert silent[88:].all()
    assert not silent[8:88].any()


def test_closed_mouth_rate() -> None:
    silent = np.array([True, True, True, True, False])
    mouth = np.array([0.0, 0.1, 0.5, np.nan, 1.0])
    assert closed_mouth_rate(mouth, silent, threshold=0.15) == pytest.approx(0.5)
    assert np.isnan(closed_mouth_rate(mouth, np.zeros(5, bool)))


def test_jitter_separates_smooth_from_shaky_motion() -> None:
    t = np.arange(250) / FPS
    smooth = 5 * np.sin(2 * np.pi * 0.7 * t) + 0.5 * t
    shaky = smooth + 0.5 * np.random.default_rng(0).standard_normal(t.shape)
    assert jitter(smooth) < 0.01
    assert jitter(shaky) > 10 * jitter(smooth)
    assert jitter(np.stack([smooth, shaky], 1)) > jitter(smooth)
    assert jitter(np.full(50, 3.0)) == 0.0
    with pytest.raises(ConfigError, match="cutoff_hz"):
        jitter(smooth, cutoff_hz=20.0)


def test_seam_discontinuity_detects_steps_at_window_boundaries() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(400)
    latents = np.stack([np.sin(0.05 * t + p) for p in rng.uniform(0, 6, 8)], 1)
    clean = seam_discontinuity(latents, window=50)
    assert clean.seams.tolist() == [50, 100, 150, 200, 250, 300, 350]
    assert 0.5 < clean.ratio < 1.5
    assert 0.8 < clean.local_ratio < 1.2
    stepped = latents.copy()
    for seam in clean.seams:
        stepped[seam:] += 0.3 * rng.standard_normal(8)
    jumpy = seam_discontinuity(stepped, window=50)
    assert jumpy.ratio > 5
    assert jumpy.local_ratio > 5
    assert jumpy.reference_ratio < 1.5, "no jump between seams"
    assert seam_discontinuity(stepped, window=50, first_seam=25).ratio < 1.5, "seams elsewhere find no jump"
    with pytest.raises(ShapeError, match="no seam"):
        seam_discontinuity(latents[:40], window=50)


def test_edit_accuracy() -> None:
    t = np.arange(100) / FPS
    nod = 10 * np.sin(2 * np.pi * t)
    result = edit_accuracy(nod, 0.85 * nod + 0.01 * np.cos(7 * t))
    assert result.gain == pytest.approx(0.85, abs=1e-3)
    assert result.relative_error == pytest.approx(0.15, abs=1e-3)
    assert result.correlation > 0.999
    turn = edit_accuracy(np.full(100, 15.0), np.full(100, 15.0) + np.random.default_rng(0).normal(0, 0.5, 100))
    assert turn.relative_error < 0.02
    assert np.isnan(turn.correlation)
    with pytest.raises(ConfigError, match="zero"):
        edit_accuracy(np.zeros(10), np.ones(10))
