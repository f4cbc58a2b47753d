"""Speech of the synthetic world: timeline, loudness, spectrum, and alignment of the mouth with the sound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

from motionkit.data.synthetic import PHONES, SyntheticWorld
from motionkit.data.synthetic.identity import sample_voice
from motionkit.data.synthetic.motion import smoothed_steps
from motionkit.data.synthetic.phonetics import phone_index, sample_timeline
from motionkit.eval.metrics import audio_envelope, av_offset, frame_rms, pearson, silence_mask


@pytest.fixture(scope="module")
def clips():  # type: ignore[no-untyped-def]
    world = SyntheticWorld(size=64)
    return [world.clip(seed, 8.0, render=False) for seed in range(5)]


def test_timeline_fills_the_clip_with_pauses_at_both_ends() -> None:
    world = SyntheticWorld(size=64)
    for seed in range(20):
        timeline = sample_timeline(np.random.default_rng(seed), 5.0, sample_voice(seed), world.config.speech)
        assert timeline.starts[0] == 0.0
        assert timeline.ends[-1] == 5.0
        assert np.allclose(timeline.starts[1:], timeline.ends[:-1])
        assert (timeline.ends > timeline.starts).all()
        pause = phone_index("_")
        assert timeline.phones[0] == pause
        assert timeline.phones[-1] == pause
        assert not np.any((timeline.phones[1:] == pause) & (timeline.phones[:-1] == pause))


def test_loudness_is_normalised(clips) -> None:  # type: ignore[no-untyped-def]
    for clip in clips:
        level = 20 * np.log10(frame_rms(clip.audio, frames=clip.num_frames) + 1e-12)
        assert np.percentile(level, 95) == pytest.approx(-16.0, abs=0.5)


def test_pauses_are_quiet_and_speech_is_loud(clips) -> None:  # type: ignore[no-untyped-def]
    for clip in clips:
        envelope = audio_envelope(clip.audio, frames=clip.num_frames)
        silent = clip.silent
        interior = silent & np.roll(silent, 2) & np.roll(silent, -2)  # away from phrase edges
        assert np.median(envelope[interior]) < np.median(envelope[~silent]) - 20.0


def test_mouth_is_closed_in_pauses(clips) -> None:  # type: ignore[no-untyped-def]
    for clip in clips:
        detected = silence_mask(clip.audio, frames=clip.num_frames)
        assert detected.sum() > 10
        assert not (detected & ~clip.silent).any(), "detected silence must lie inside true pauses"
        assert (clip.params.mouth_open[detected] < 0.05).all()


def test_ground_truth_mouth_has_no_audio_video_offset(clips) -> None:  # type: ignore[no-untyped-def]
    for clip in clips:
        envelope = audio_envelope(clip.audio, frames=clip.num_frames)
        offset = av_offset(clip.params.mouth_open, envelope)
        assert offset.frames == 0
        assert offset.correlation > 0.7
        assert pearson(clip.params.mouth_open, envelope) == pytest.approx(offset.correlation)


def test_visemes_follow_the_phones(clips) -> None:  # type: ignore[no-untyped-def]
    """Open vowels open the mouth wide, bilabials close it, rounded vowels narrow it."""
    fps = 25.0
    by_phone: dict[str, list[float]] = {}
    widths: dict[str, list[float]] = {}
    for clip in clips:
        timeline = clip.timeline
        frame_phone = timeline.phones[timeline.frame_phones(fps, clip.num_frames)]
        for name in ("aa", "iy", "uw", "p", "b", "m"):
            hit = frame_phone == phone_index(name)
            by_phone.setdefault(name, []).extend(clip.params.mouth_open[hit])
            widths.setdefault(name, []).extend(clip.params.mouth_width[hit])
    bilabial = np.mean(by_phone["p"] + by_phone["b"] + by_phone["m"])
    assert np.mean(by_phone["aa"]) > 2.5 * bilabial
    assert np.mean(by_phone["aa"]) > np.mean(by_phone["iy"])
    assert np.mean(widths["iy"]) > np.mean(widths["uw"]) + 0.3


def test_spectrum_is_speech_like(clips) -> None:  # type: ignore[no-untyped-def]
    """Most energy below 1 kHz, a falling spectrum, fricative energy up high (like real speech)."""
    for clip in clips:
        freqs, power = welch(clip.audio, 16000, nperseg=512)
        low = power[freqs < 1000].sum()
        mid = power[(freqs >= 1000) & (freqs < 3000)].sum()
        high = power[freqs >= 5000].sum()
        assert low > 3 * mid > 3 * high > 0


def test_smoothed_steps_is_exact_convolution() -> None:
    """The analytic Gaussian smoothing of a step signal matches a numerical convolution."""
    starts, ends = np.array([0.0, 0.3, 0.5]), np.array([0.3, 0.5, 1.0])
    values = np.array([0.0, 1.0, 0.2])
    grid = np.arange(-2.0, 3.0, 1e-4)
    signal = np.where(grid < 0.3, 0.0, np.where(grid < 0.5, 1.0, 0.2))
    sigma = 0.03
    kernel_t = np.arange(-1800, 1801) * 1e-4  # odd and centred, so "same" convolution does not shift
    kernel = np.exp(-0.5 * (kernel_t / sigma) ** 2)
    numeric = np.convolve(signal, kernel / kernel.sum(), mode="same")
    times = np.array([0.1, 0.29, 0.31, 0.45, 0.52, 0.9])
    expected = np.interp(times, grid, numeric)
    assert np.allclose(smoothed_steps(values, starts, ends, times, sigma), expected, atol=1e-3)


def test_every_phone_has_a_viseme() -> None:
    for phone in PHONES:
        assert phone.opening is None or 0.0 <= phone.opening <= 1.0
        assert 0.0 <= phone.width <= 1.0
        if phone.name in ("p", "b", "m", "_"):
            assert phone.opening == 0.0
