"""Per-frame face parameters from a syllable timeline and its prosody.

Mouth: each phone holds its viseme target (opening, width) over its interval; the articulators smooth the targets
with a zero-phase Gaussian of ``viseme_sigma_seconds`` (coarticulation: the lips start to open slightly before a
vowel sounds and close slightly after it). For a piecewise-constant target ``g`` with values ``g_p`` on
``[s_p, e_p)`` the smoothed trajectory is exactly

    m(tau) = sum_p g_p * (Phi((tau - s_p) / sigma) - Phi((tau - e_p) / sigma)),

evaluated at the frame centres ``tau_t = (t + 0.5) / fps``. Because the smoothing is symmetric, the mouth neither
leads nor lags the sound on average: the audio-video offset of the ground truth is zero.

Head: slow random drift (Gaussian-smoothed white noise), a yaw target per phrase, pitch following the f0 contour
(chin up on high pitch) plus a nod (a dip of the chin) on stressed syllables; roll partly follows yaw. Every
angle is soft-limited by ``L * tanh(x / L)``. Brows rest low and rise on some stressed syllables; blinks are a
Poisson process with a refractory gap.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.special import ndtr

from motionkit.data.synthetic.config import MotionConfig
from motionkit.data.synthetic.identity import Voice
from motionkit.data.synthetic.params import FaceParams
from motionkit.data.synthetic.phonetics import PHONES, Timeline
from motionkit.data.synthetic.speech import Speech

_IS_VOWEL = np.array([phone.kind == "vowel" for phone in PHONES])


def frame_times(frames: int, fps: float) -> np.ndarray:
    """``(T,)`` frame-centre times ``(t + 0.5) / fps`` in seconds."""
    return (np.arange(frames) + 0.5) / fps


def smoothed_steps(
    values: np.ndarray, starts: np.ndarray, ends: np.ndarray, times: np.ndarray, sigma: float
) -> np.ndarray:
    """Gaussian-smoothed piecewise-constant signal (see the module docstring), ``(len(times),)``.

    The first value extends to minus infinity and the last to plus infinity, so the clip edges do not fade.
    """
    t = times[:, None]
    lower = ndtr((t - starts[None, :]) / sigma)
    upper = ndtr((t - ends[None, :]) / sigma)
    lower[:, 0] = 1.0
    upper[:, -1] = 0.0
    weights = lower - upper
    return weights @ values


def face_motion(
    timeline: Timeline,
    speech: Speech,
    voice: Voice,
    config: MotionConfig,
    *,
    fps: float,
    frames: int,
    rng: np.random.Generator,
) -> FaceParams:
    """Face parameters for ``frames`` frames of the clip spoken by ``timeline``."""
    times = frame_times(frames, fps)
    vowel = _IS_VOWEL[timeline.phones]
    stress = np.where(vowel & ~timeline.stressed, config.unstressed_opening, 1.0)
    opening = smoothed_steps(
        timeline.openings() * stress * voice.articulation,
        timeline.starts,
        timeline.ends,
        times,
        config.viseme_sigma_seconds,
    )
    width = smoothed_steps(timeline.widths(), timeline.starts, timeline.ends, times, config.viseme_sigma_seconds)

    yaw = _drift(rng, frames, fps, config) * config.yaw_drift_degrees + _phrase_turns(timeline, times, rng, config)
    pitch = (
        _drift(rng, frames, fps, config) * config.pitch_drift_degrees
        + config.pitch_per_octave * _prosody(speech, voice, times, config)
        - _nods(timeline, times, rng, config)
    )
    roll = _drift(rng, frames, fps, config) * config.roll_drift_degrees
    roll += rng.uniform(-config.roll_from_yaw, config.roll_from_yaw) * yaw

    return FaceParams(
        yaw=_soft_limit(yaw, config.yaw_limit),
        pitch=_soft_limit(pitch, config.pitch_limit),
        roll=_soft_limit(roll, config.roll_limit),
        mouth_open=np.clip(opening, 0.0, 1.0),
        mouth_width=np.clip(width, 0.0, 1.0),
        blink=_blinks(times, rng, config),
        brows=np.clip(_brows(timeline, times, rng, config), 0.0, 1.0),
    )


def _soft_limit(x: np.ndarray, limit: float) -> np.ndarray:
    return limit * np.tanh(x / limit)


def _drift(rng: np.random.Generator, frames: int, fps: float, config: MotionConfig) -> np.ndarray:
    """Unit-variance Gaussian-smoothed noise with correlation time ``drift_seconds``."""
    sigma = config.drift_seconds * fps
    pad = int(3 * sigma)  # draw beyond both ends so the clip edges are as random as the middle
    noise = gaussian_filter1d(rng.standard_normal(frames + 2 * pad), sigma, mode="constant")[pad : pad + frames]
    return noise * np.sqrt(2 * np.sqrt(np.pi) * sigma)  # std of Gaussian-filtered unit white noise is that inverse


def _phrase_turns(timeline: Timeline, times: np.ndarray, rng: np.random.Generator, config: MotionConfig) -> np.ndarray:
    """A yaw target per phrase (held through the following pause), with smooth transitions."""
    phrases = int(timeline.phrase.max()) + 1
    if phrases == 0:
        return np.zeros_like(times)
    targets = rng.standard_normal(phrases) * config.phrase_turn_degrees
    firsts = np.array([np.flatnonzero(timeline.phrase == p)[0] for p in range(phrases)])
    starts = timeline.starts[firsts]
    ends = np.append(starts[1:], timeline.duration)
    return smoothed_steps(targets, starts, ends, times, config.phrase_turn_seconds)


def _prosody(speech: Speech, voice: Voice, times: np.ndarray, config: MotionConfig) -> np.ndarray:
    """Smoothed ``log2(f0 / mean f0)`` weighted by voicing, at ``times`` (0 in silence)."""
    voiced = speech.voicing / max(float(speech.voicing.max()), 1e-9)
    deviation = np.log2(np.maximum(speech.f0, 1.0) / voice.f0) * voiced
    smooth = gaussian_filter1d(deviation, config.prosody_sigma_seconds * speech.control_rate)
    control_times = (np.arange(speech.f0.shape[0]) + 0.5) / speech.control_rate
    return np.interp(times, control_times, smooth)


def _stressed_vowel_centres(timeline: Timeline) -> np.ndarray:
    index = np.flatnonzero(timeline.stressed & _IS_VOWEL[timeline.phones])
    return 0.5 * (timeline.starts[index] + timeline.ends[index])


def _nods(timeline: Timeline, times: np.ndarray, rng: np.random.Generator, config: MotionConfig) -> np.ndarray:
    centres = _stressed_vowel_centres(timeline)
    amplitudes = rng.uniform(*config.nod_degrees, centres.shape[0])
    return np.exp(-0.5 * ((times[:, None] - centres[None, :]) / config.nod_seconds) ** 2) @ amplitudes


def _brows(timeline: Timeline, times: np.ndarray, rng: np.random.Generator, config: MotionConfig) -> np.ndarray:
    centres = _stressed_vowel_centres(timeline)
    raised = rng.uniform(size=centres.shape[0]) < config.brow_raise_probability
    amplitudes = rng.uniform(*config.brow_raise, centres.shape[0]) * raised
    bumps = np.exp(-0.5 * ((times[:, None] - centres[None, :]) / config.brow_seconds) ** 2) @ amplitudes
    return rng.uniform(*config.brow_rest) + bumps


def _blinks(times: np.ndarray, rng: np.random.Generator, config: MotionConfig) -> np.ndarray:
    """Eyelid closure 0..1: smoothstep closing, hold, smoothstep opening, at Poisson times."""
    rate = rng.uniform(*config.blink_rate_hz)
    duration = times[-1] + times[0] if times.shape[0] else 0.0
    onsets = []
    t = rng.uniform(0.0, 1.0 / rate)
    while t < duration:
        onsets.append(t)
        t += config.blink_min_gap_seconds + rng.exponential(1.0 / rate)
    closure = np.zeros_like(times)
    close, hold, reopen = config.blink_close_seconds, config.blink_hold_seconds, config.blink_open_seconds
    for onset in onsets:
        local = times - onset
        closing = _smoothstep(local / close)
        opening = 1.0 - _smoothstep((local - close - hold) / reopen)
        closure = np.maximum(closure, np.minimum(closing, opening))
    return closure


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)
