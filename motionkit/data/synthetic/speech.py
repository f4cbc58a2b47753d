"""Source-filter synthesis of a syllable timeline (a Klatt-style cascade synthesiser, simplified).

Voiced sound: a glottal pulse train at the f0 contour, shaped by a two-pole low-pass (the glottal flow), a first
difference (lip radiation) and a one-pole low-pass (the voice's spectral tilt), so its spectrum falls by about
6 dB per octave above the glottal corner and 12 dB per octave above the tilt corner; plus
pitch-synchronous aspiration noise (breathiness). It runs through five cascaded formant resonators whose
frequencies follow the phones with Gaussian-smoothed transitions; a resonator with centre ``F`` and bandwidth
``B`` at sample rate ``fs`` is ``H(z) = (1 - b - c) / (1 - b z^-1 - c z^-2)`` with ``c = -exp(-2 pi B / fs)`` and
``b = 2 exp(-pi B / fs) cos(2 pi F / fs)`` (unity gain at 0 Hz). Filters are held constant over blocks of
``config.control_block`` samples with their state carried across blocks.

Unvoiced sound runs in parallel: band-pass noise for fricatives and aspiration, and a decaying noise burst at the
release of every stop. The sum is normalised so that the ``loudness_percentile`` of its per-frame RMS levels sits
at ``loudness_dbfs``, and a background noise floor is added, as in a real recording.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import butter, lfilter, sosfilt

from motionkit.data.synthetic.config import SpeechConfig
from motionkit.data.synthetic.identity import Voice
from motionkit.data.synthetic.phonetics import PHONES, Timeline

_NOISE_BANDS: tuple[tuple[float, float], ...] = tuple(
    sorted({phone.noise_band for phone in PHONES if phone.noise_band is not None})
)
_PHONE_BAND = np.array(
    [-1 if phone.noise_band is None else _NOISE_BANDS.index(phone.noise_band) for phone in PHONES], np.int64
)
_PHONE_FORMANTS = np.array([phone.formants for phone in PHONES], np.float64)
_PHONE_VOICING = np.array([phone.voicing for phone in PHONES], np.float64)
_PHONE_NOISE = np.array([phone.noise for phone in PHONES], np.float64)
_PHONE_OPENING = np.array([0.0 if phone.opening is None else phone.opening for phone in PHONES], np.float64)
_IS_VOWEL = np.array([phone.kind == "vowel" for phone in PHONES])
_IS_STOP = np.array([phone.kind == "stop" for phone in PHONES])

_VOWEL_LOUDNESS = (0.55, 0.45)  # vowel amplitude = a + b * opening: open vowels are louder
_UNSTRESSED_LOUDNESS = 0.8
_STOP_ASPIRATION = 0.5  # aspiration after an unvoiced release, relative to the stop's burst level
_BURST_GAIN = 2.0
_JITTER = 0.01  # relative f0 perturbation (smoothed over ~30 ms)
_SHIMMER = 0.05  # relative pulse-amplitude perturbation
_NOISE_FLOOR_POLE = 0.9  # one-pole low-pass of the background noise (a darker, room-like floor)


@dataclass(frozen=True)
class Speech:
    """Synthesised audio and the prosody that head motion follows.

    Attributes:
        audio: ``(N,)`` float32 waveform in [-1, 1].
        f0: ``(C,)`` f0 contour in Hz at the control rate ``sample_rate / control_block``.
        voicing: ``(C,)`` glottal-source amplitude at the control rate (0 where unvoiced).
        control_rate: control points per second.
    """

    audio: np.ndarray
    f0: np.ndarray
    voicing: np.ndarray
    control_rate: float


def synthesize(
    timeline: Timeline,
    voice: Voice,
    config: SpeechConfig,
    *,
    sample_rate: int,
    samples: int,
    frame: int,
    rng: np.random.Generator,
) -> Speech:
    """Render ``timeline`` spoken by ``voice`` as ``samples`` audio samples at ``sample_rate``.

    ``frame`` is the number of samples per video frame; loudness is normalised on frames of that size.
    """
    block = config.control_block
    blocks = -(-samples // block)
    control_rate = sample_rate / block
    control_times = (np.arange(blocks) + 0.5) / control_rate
    phone_at = np.clip(np.searchsorted(timeline.ends, control_times, side="right"), 0, len(timeline) - 1)
    kinds = timeline.phones[phone_at]
    position = (control_times - timeline.starts[phone_at]) / np.maximum(
        timeline.ends[phone_at] - timeline.starts[phone_at], 1e-9
    )
    released = _IS_STOP[kinds] & (position >= config.closure_fraction)

    f0 = _f0_contour(timeline, voice, config, control_times, rng, control_rate)
    voicing = _voicing(timeline, phone_at, kinds, released, config, control_rate)
    formants = gaussian_filter1d(
        _PHONE_FORMANTS[kinds] * voice.formant_scale, config.formant_smoothing_seconds * control_rate, axis=0
    )

    sample_times = (np.arange(samples) + 0.5) / sample_rate
    f0_samples = np.interp(sample_times, control_times, f0)
    voicing_samples = np.interp(sample_times, control_times, voicing)
    source = _glottal_source(f0_samples, voice, config, sample_rate, rng)
    voiced = _formant_cascade(source * voicing_samples, formants, voice, config, sample_rate)
    voiced /= max(_percentile_level(voiced, frame, config.loudness_percentile), 1e-9)

    unvoiced = _frication(timeline, kinds, released, config, control_times, sample_times, sample_rate, rng)
    unvoiced += _bursts(timeline, config, sample_rate, samples, rng)
    audio = voiced + unvoiced

    reference = _percentile_level(audio, frame, config.loudness_percentile)
    audio *= 10 ** (config.loudness_dbfs / 20) / max(reference, 1e-9)
    floor_db = config.loudness_dbfs + rng.uniform(*config.noise_floor_db)
    floor = lfilter([1 - _NOISE_FLOOR_POLE], [1, -_NOISE_FLOOR_POLE], rng.standard_normal(samples))
    audio += floor * (10 ** (floor_db / 20) / max(float(np.sqrt(np.mean(floor**2))), 1e-12))
    audio = np.clip(audio, -config.peak_limit, config.peak_limit)
    return Speech(audio=audio.astype(np.float32), f0=f0, voicing=voicing, control_rate=control_rate)


def _percentile_level(signal: np.ndarray, frame: int, percentile: float) -> float:
    """``percentile`` of the RMS of consecutive ``frame``-sample frames (linear amplitude)."""
    frames = max(len(signal) // frame, 1)
    padded = np.zeros(frames * frame)
    padded[: min(len(signal), frames * frame)] = signal[: frames * frame]
    rms = np.sqrt(np.mean(padded.reshape(frames, frame) ** 2, axis=1))
    return float(np.percentile(rms, percentile))


def _f0_contour(
    timeline: Timeline,
    voice: Voice,
    config: SpeechConfig,
    times: np.ndarray,
    rng: np.random.Generator,
    control_rate: float,
) -> np.ndarray:
    """f0 in Hz at ``times``: per-phrase declination, accent rises on stressed vowels, slow jitter."""
    factor = np.ones_like(times)
    for phrase in range(int(timeline.phrase.max()) + 1):
        members = np.flatnonzero(timeline.phrase == phrase)
        start, end = timeline.starts[members[0]], timeline.ends[members[-1]]
        inside = (times >= start) & (times < end)
        progress = (times[inside] - start) / max(end - start, 1e-9)
        factor[inside] = config.declination[0] + (config.declination[1] - config.declination[0]) * progress
    for i in np.flatnonzero(timeline.stressed & _IS_VOWEL[timeline.phones]):
        centre = 0.5 * (timeline.starts[i] + timeline.ends[i])
        width = 0.5 * (timeline.ends[i] - timeline.starts[i])
        factor += rng.uniform(*config.accent_rise) * np.exp(-0.5 * ((times - centre) / width) ** 2)
    jitter = gaussian_filter1d(rng.standard_normal(times.shape[0]), 0.03 * control_rate)
    jitter *= _JITTER / max(float(jitter.std()), 1e-9)
    return voice.f0 * factor * (1.0 + jitter)


def _voicing(
    timeline: Timeline,
    phone_at: np.ndarray,
    kinds: np.ndarray,
    released: np.ndarray,
    config: SpeechConfig,
    control_rate: float,
) -> np.ndarray:
    """Glottal-source amplitude at the control points."""
    amplitude = _PHONE_VOICING[kinds].copy()
    vowel = _IS_VOWEL[kinds]
    loudness = _VOWEL_LOUDNESS[0] + _VOWEL_LOUDNESS[1] * _PHONE_OPENING[kinds]
    stress = np.where(timeline.stressed[phone_at], 1.0, _UNSTRESSED_LOUDNESS)
    amplitude[vowel] *= (loudness * stress)[vowel]
    # A voiced stop's release already carries the onset of the next vowel's voicing; an unvoiced one does not.
    amplitude[released] = np.where(_PHONE_VOICING[kinds[released]] > 0, 0.5, 0.0)
    return np.maximum(gaussian_filter1d(amplitude, config.amplitude_ramp_seconds * control_rate), 0.0)


def _glottal_source(
    f0: np.ndarray, voice: Voice, config: SpeechConfig, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Glottal excitation at ``f0`` (Hz per sample).

    A pulse train (fractional pulse instants split linearly over two samples, amplitudes with shimmer) plus
    pitch-synchronous aspiration noise of RMS ``breathiness`` times the train's, both shaped by the glottal
    low-pass, the lip-radiation difference and the tilt low-pass.
    """
    phase = np.cumsum(f0 / sample_rate)
    cycle = np.floor(phase)
    pulses = np.flatnonzero(np.diff(cycle, prepend=0.0) > 0)
    overshoot = (phase[pulses] - cycle[pulses]) / (f0[pulses] / sample_rate)  # samples since the true instant
    amplitude = 1.0 + _SHIMMER * rng.standard_normal(pulses.shape[0])
    train = np.zeros_like(f0)
    np.add.at(train, pulses, amplitude * (1.0 - overshoot))
    np.add.at(train, np.maximum(pulses - 1, 0), amplitude * overshoot)
    breath = rng.standard_normal(f0.shape[0]) * (0.5 + 0.5 * np.cos(2 * np.pi * phase))
    train += breath * (voice.breathiness * float(np.sqrt(np.mean(train**2))))
    pole = np.exp(-2 * np.pi * config.glottal_pole_hz / sample_rate)
    flow = lfilter([(1 - pole) ** 2], [1.0, -2 * pole, pole**2], train)
    tilt = np.exp(-2 * np.pi * config.tilt_corner_hz * voice.tilt / sample_rate)
    return lfilter([1 - tilt], [1.0, -tilt], np.diff(flow, prepend=0.0))


def _resonator_sections(frequencies: np.ndarray, bandwidths: np.ndarray, sample_rate: int) -> np.ndarray:
    """Second-order sections ``(..., 6)`` of unity-DC-gain resonators at ``frequencies`` (Hz)."""
    c = -np.exp(-2 * np.pi * bandwidths / sample_rate)
    b = 2 * np.exp(-np.pi * bandwidths / sample_rate) * np.cos(2 * np.pi * frequencies / sample_rate)
    sections = np.zeros((*frequencies.shape, 6))
    sections[..., 0] = 1.0 - b - c
    sections[..., 3] = 1.0
    sections[..., 4] = -b
    sections[..., 5] = -c
    return sections


def _formant_cascade(
    excitation: np.ndarray, formants: np.ndarray, voice: Voice, config: SpeechConfig, sample_rate: int
) -> np.ndarray:
    """Run ``excitation`` through five cascaded resonators; F1-F3 per control block, F4-F5 fixed."""
    blocks = formants.shape[0]
    nyquist_margin = 0.45 * sample_rate
    upper = np.broadcast_to(np.array(config.upper_formants_hz) * voice.formant_scale, (blocks, 2))
    centres = np.minimum(np.concatenate([formants, upper], axis=1), nyquist_margin)
    bandwidths = np.broadcast_to(np.array(config.formant_bandwidths_hz), centres.shape)
    sections = _resonator_sections(centres, bandwidths, sample_rate)
    out = np.empty_like(excitation)
    state = np.zeros((centres.shape[1], 2))
    block = config.control_block
    for i in range(blocks):
        chunk = slice(i * block, min((i + 1) * block, excitation.shape[0]))
        out[chunk], state = sosfilt(sections[i], excitation[chunk], zi=state)
    return out


def _band_noise(band: tuple[float, float], samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS white noise band-passed to ``band`` (Hz) by a second-order Butterworth."""
    high = min(band[1], 0.49 * sample_rate)
    sos = butter(2, (band[0], high), btype="bandpass", fs=sample_rate, output="sos")
    noise = sosfilt(sos, rng.standard_normal(samples))
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def _frication(
    timeline: Timeline,
    kinds: np.ndarray,
    released: np.ndarray,
    config: SpeechConfig,
    control_times: np.ndarray,
    sample_times: np.ndarray,
    sample_rate: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Band-pass noise of fricatives, /h/ and the aspiration after unvoiced stop releases."""
    control_rate = 1.0 / (control_times[1] - control_times[0]) if control_times.shape[0] > 1 else 1.0
    amplitude = np.where(_IS_STOP[kinds], 0.0, _PHONE_NOISE[kinds])
    unvoiced_release = released & (_PHONE_VOICING[kinds] == 0)
    amplitude[unvoiced_release] = _STOP_ASPIRATION * _PHONE_NOISE[kinds[unvoiced_release]]
    amplitude = gaussian_filter1d(amplitude, config.amplitude_ramp_seconds * control_rate)
    band_of = _PHONE_BAND[kinds]
    out = np.zeros(sample_times.shape[0])
    for band_index, band in enumerate(_NOISE_BANDS):
        share = gaussian_filter1d(
            (band_of == band_index).astype(np.float64), config.amplitude_ramp_seconds * control_rate
        )
        envelope = np.interp(sample_times, control_times, amplitude * share)
        if envelope.max() > 0:
            out += envelope * _band_noise(band, sample_times.shape[0], sample_rate, rng)
    return out


def _bursts(
    timeline: Timeline, config: SpeechConfig, sample_rate: int, samples: int, rng: np.random.Generator
) -> np.ndarray:
    """A decaying band-pass noise burst at the release of every stop."""
    out = np.zeros(samples)
    length = max(round(config.burst_seconds * sample_rate), 1)
    decay = np.exp(-np.arange(length) / (length / 3))
    for i in np.flatnonzero(_IS_STOP[timeline.phones]):
        phone = timeline.phone(int(i))
        assert phone.noise_band is not None  # every stop has a burst band (see phonetics.CONSONANTS)
        release = timeline.starts[i] + config.closure_fraction * (timeline.ends[i] - timeline.starts[i])
        start = round(release * sample_rate)
        stop = min(start + length, samples)
        if stop <= start:
            continue
        burst = _band_noise(phone.noise_band, length, sample_rate, rng)[: stop - start]
        out[start:stop] += _BURST_GAIN * phone.noise * decay[: stop - start] * burst
    return out
