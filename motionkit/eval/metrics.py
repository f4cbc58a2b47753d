"""Lip-sync and motion-quality metrics that need no pretrained weights: pure functions on per-frame series.

Conventions: a frame ``t`` of a video at ``fps`` covers audio samples ``[t * S, (t + 1) * S)`` with
``S = sample_rate / fps`` (640 at 16 kHz and 25 fps). Series are ``(T,)`` (one value per frame) or ``(T, D)``
(a vector per frame, e.g. motion latents). NaN entries (frames without a measurement) are ignored where stated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionkit.errors import AudioError, ConfigError, ShapeError, require

_EPS = 1e-12


def _series(name: str, x: object, *, ndim: tuple[int, ...] = (1,)) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    require(array.ndim in ndim, ShapeError, f"{name} must have {' or '.join(map(str, ndim))} dims, got {array.shape}.")
    require(array.shape[0] >= 2, ShapeError, f"{name} needs at least 2 frames, got {array.shape[0]}.")
    return array


def _same_length(a: np.ndarray, b: np.ndarray, names: str) -> None:
    require(
        a.shape[0] == b.shape[0],
        ShapeError,
        f"{names} must have the same number of frames, got {a.shape[0]} and {b.shape[0]}.",
    )


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two ``(T,)`` series over the frames where both are finite.

    ``r = sum (a - mean a)(b - mean b) / sqrt(sum (a - mean a)^2 sum (b - mean b)^2)``; NaN if either series is
    constant or fewer than 2 frames are finite.
    """
    a, b = _series("a", a), _series("b", b)
    _same_length(a, b, "a and b")
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 2:
        return float("nan")
    da, db = a[keep] - a[keep].mean(), b[keep] - b[keep].mean()
    denominator = np.sqrt((da @ da) * (db @ db))
    return float(da @ db / denominator) if denominator > _EPS else float("nan")


def frame_rms(audio: np.ndarray, sample_rate: int = 16000, fps: float = 25.0, frames: int | None = None) -> np.ndarray:
    """``(T,)`` RMS of each frame's audio samples ``[t * S, (t + 1) * S)``; a short last frame is zero-padded.

    ``T`` defaults to ``ceil(len(audio) / S)``.
    """
    audio = np.asarray(audio, dtype=np.float64)
    require(
        audio.ndim == 1,
        AudioError,
        f"audio must be a mono (N,) waveform, got shape {audio.shape}; average the channels.",
    )
    require(audio.size > 0, AudioError, "audio is empty; give at least one frame of samples.")
    require(bool(np.isfinite(audio).all()), AudioError, "audio contains NaN or infinite samples.")
    step = sample_rate / fps
    require(abs(step - round(step)) < 1e-9, ConfigError, f"sample_rate / fps must be whole, got {step}.")
    step = round(step)
    count = frames if frames is not None else -(-audio.size // step)
    padded = np.zeros(count * step)
    padded[: min(audio.size, count * step)] = audio[: count * step]
    return np.sqrt(np.mean(padded.reshape(count, step) ** 2, axis=1))


def audio_envelope(
    audio: np.ndarray,
    sample_rate: int = 16000,
    fps: float = 25.0,
    *,
    frames: int | None = None,
    floor_db: float = -60.0,
) -> np.ndarray:
    """Frame-aligned loudness in dB relative to the clip's loudest frame, ``(T,)``.

    ``e_t = max(20 log10(rms_t / max_t rms_t), floor_db)`` with ``rms_t`` from :func:`frame_rms`. The log scale
    follows how mouth opening grows with loudness; the floor keeps silence from dominating correlations.
    """
    rms = frame_rms(audio, sample_rate, fps, frames)
    peak = max(float(rms.max()), _EPS)
    return np.maximum(20.0 * np.log10(np.maximum(rms, _EPS) / peak), floor_db)


def silence_mask(
    audio: np.ndarray,
    sample_rate: int = 16000,
    fps: float = 25.0,
    *,
    frames: int | None = None,
    threshold_db: float = -25.0,
    reference_percentile: float = 95.0,
    min_frames: int = 4,
    hangover: int = 2,
) -> np.ndarray:
    """``(T,)`` bool: frames inside a pause of the speech.

    A frame is quiet when its level ``20 log10 rms_t`` is below ``P + threshold_db``, with ``P`` the
    ``reference_percentile`` of the frame levels (the clip's speaking level). Runs of quiet frames shorter than
    ``min_frames`` (stop closures inside words) are not pauses. A pause then loses ``hangover`` frames at each end
    that touches speech: lips start to move before the sound and settle after it.
    """
    rms = frame_rms(audio, sample_rate, fps, frames)
    level = 20.0 * np.log10(np.maximum(rms, _EPS))
    quiet = level < np.percentile(level, reference_percentile) + threshold_db
    silent = np.zeros_like(quiet)
    T = quiet.shape[0]
    start = 0
    while start < T:
        if not quiet[start]:
            start += 1
            continue
        stop = start
        while stop < T and quiet[stop]:
            stop += 1
        if stop - start >= min_frames:
            first = start + (hangover if start > 0 else 0)
            last = stop - (hangover if stop < T else 0)
            silent[first:last] = True
        start = stop
    return silent


def closed_mouth_rate(mouth: np.ndarray, silent: np.ndarray, threshold: float = 0.15) -> float:
    """Share of silent frames whose mouth opening is below ``threshold`` (NaN openings count as not closed).

    ``rate = #{t : silent_t and m_t < threshold} / #{t : silent_t}``; NaN when there is no silent frame.
    """
    mouth = _series("mouth", mouth)
    silent = np.asarray(silent, dtype=bool)
    _same_length(mouth, silent, "mouth and silent")
    if not silent.any():
        return float("nan")
    with np.errstate(invalid="ignore"):
        closed = mouth < threshold
    return float(closed[silent].mean())


@dataclass(frozen=True)
class Offset:
    """Result of :func:`av_offset`.

    Attributes:
        frames: the lag with the highest correlation; > 0 means the video is late (the mouth moves after the sound).
        correlation: the correlation at that lag.
        lags: ``(2 L + 1,)`` lags tried; ``curve``: the correlation at each lag.
    """

    frames: int
    correlation: float
    lags: np.ndarray
    curve: np.ndarray


def av_offset(mouth: np.ndarray, envelope: np.ndarray, max_lag: int = 15) -> Offset:
    """Audio-video offset by cross-correlation, in frames.

    For each lag ``k`` in ``[-max_lag, max_lag]``, ``c_k = pearson(m_{t}, e_{t - k})`` over the frames where both
    exist; the offset is ``argmax_k c_k``. With ``k > 0`` the mouth at ``t`` matches the sound at ``t - k``: the
    video lags the audio by ``k`` frames (shift the video ``k`` frames earlier to fix it). SyncNet reports the same
    quantity.
    """
    m, e = _series("mouth", mouth), _series("envelope", envelope)
    _same_length(m, e, "mouth and envelope")
    require(max_lag >= 0, ConfigError, f"max_lag must be >= 0, got {max_lag}.")
    T = m.shape[0]
    require(
        2 * max_lag + 1 < T,
        ShapeError,
        f"{T} frames are too few for max_lag={max_lag}; need more than {2 * max_lag + 1}.",
    )
    lags = np.arange(-max_lag, max_lag + 1)
    curve = np.array([pearson(m[max(k, 0) : T + min(k, 0)], e[max(-k, 0) : T - max(k, 0)]) for k in lags])
    best = int(np.nanargmax(curve)) if np.isfinite(curve).any() else max_lag
    return Offset(frames=int(lags[best]), correlation=float(curve[best]), lags=lags, curve=curve)


def jitter(series: np.ndarray, fps: float = 25.0, cutoff_hz: float = 5.0) -> float:
    """Share of the motion's spectral energy above ``cutoff_hz``, in [0, 1].

    The series (``(T,)`` or ``(T, D)``) has its linear trend removed per dimension and a Hann window applied; with
    ``X_d(f)`` its spectrum, ``jitter = sum_{f > cutoff} sum_d |X_d(f)|^2 / sum_{f > 0} sum_d |X_d(f)|^2``. Head and
    lip motion of speech lives below about 4 Hz (syllable rate), so shaking from frame to frame shows up as
    energy near the Nyquist frequency ``fps / 2``. NaN frames are filled by linear interpolation.
    """
    x = _series("series", series, ndim=(1, 2))
    x = x.reshape(x.shape[0], -1)
    require(0 < cutoff_hz < fps / 2, ConfigError, f"cutoff_hz must lie in (0, {fps / 2}), got {cutoff_hz}.")
    x = _fill_nan(x)
    t = np.arange(x.shape[0], dtype=np.float64)
    design = np.stack([t, np.ones_like(t)], axis=1)
    trend = design @ np.linalg.lstsq(design, x, rcond=None)[0]
    spectrum = np.abs(np.fft.rfft((x - trend) * np.hanning(x.shape[0])[:, None], axis=0)) ** 2
    freqs = np.fft.rfftfreq(x.shape[0], d=1.0 / fps)
    total = float(spectrum[freqs > 0].sum())
    return float(spectrum[freqs > cutoff_hz].sum() / total) if total > _EPS else 0.0


def _fill_nan(x: np.ndarray) -> np.ndarray:
    out = x.copy()
    t = np.arange(x.shape[0])
    for d in range(x.shape[1]):
        good = np.isfinite(x[:, d])
        if not good.any():
            out[:, d] = 0.0
        elif not good.all():
            out[:, d] = np.interp(t, t[good], x[good, d])
    return out


def frame_changes(series: np.ndarray) -> np.ndarray:
    """``(T,)`` change ``d_t = ||x_t - x_{t-1}||`` of a ``(T,)`` or ``(T, D)`` series (Euclidean over the last
    dimension); ``d_0`` is NaN (frame 0 has no predecessor)."""
    x = _series("series", series, ndim=(1, 2))
    x = x.reshape(x.shape[0], -1)
    change = np.full(x.shape[0], np.nan)
    change[1:] = np.linalg.norm(np.diff(x, axis=0), axis=1)
    return change


@dataclass(frozen=True)
class SeamReport:
    """Result of :func:`seam_discontinuity`.

    Attributes:
        ratio: mean change across seams over the median change inside windows (the project's target metric).
        reference_ratio: the same statistic at mid-window positions, where there is no seam: what ``ratio``
            looks like for this series by chance (few seams make ``ratio`` noisy).
        local_ratio: mean over seams of the change across the seam over the median change of the ``context``
            frames on either side (compares each seam with its own neighbourhood; about 1 without seams).
        seam_changes: ``(S,)`` change ``|x_s - x_{s-1}|`` at every seam ``s``.
        inside_median: median change between consecutive frames of the same window.
        seams: ``(S,)`` frame index of every seam (the first frame of a new window).
    """

    ratio: float
    reference_ratio: float
    local_ratio: float
    seam_changes: np.ndarray
    inside_median: float
    seams: np.ndarray


def seam_discontinuity(
    series: np.ndarray, window: int = 50, first_seam: int | None = None, context: int = 5
) -> SeamReport:
    """How much more a windowed generator's output jumps at window boundaries than inside windows.

    With ``d_t = ||x_t - x_{t-1}||`` (Euclidean over the last dimension of ``(T, D)`` input, absolute for ``(T,)``)
    and seams ``s = first_seam, first_seam + window, ...`` (default ``first_seam = window``; FLOAT generates
    ``L = 50`` new frames per window), ``ratio = mean_s d_s / median_{t not a seam} d_t``.
    ``local_ratio = mean_s d_s / median{d_t : 0 < |t - s| <= context}``; ``reference_ratio`` is ``ratio`` with
    the seams moved by ``window // 2``.
    """
    x = _series("series", series, ndim=(1, 2))
    x = x.reshape(x.shape[0], -1)
    require(window >= 2, ConfigError, f"window must be at least 2 frames, got {window}.")
    require(context >= 1, ConfigError, f"context must be at least 1 frame, got {context}.")
    first = window if first_seam is None else first_seam
    require(first >= 1, ConfigError, f"first_seam must be at least 1, got {first}.")
    T = x.shape[0]
    seams = np.arange(first, T, window)
    require(seams.size > 0, ShapeError, f"{T} frames hold no seam for window={window}, first_seam={first}.")
    change = frame_changes(x)
    inside = np.ones(T, dtype=bool)
    inside[0] = False
    inside[seams] = False
    inside_median = float(np.nanmedian(change[inside]))

    def ratio_at(positions: np.ndarray) -> float:
        if positions.size == 0 or inside_median <= _EPS:
            return float("nan")
        return float(np.nanmean(change[positions]) / inside_median)

    local = []
    for s in seams:
        around = np.r_[max(s - context, 1) : s, s + 1 : min(s + context + 1, T)]
        reference = float(np.nanmedian(change[around])) if around.size else float("nan")
        local.append(change[s] / reference if reference > _EPS else float("nan"))
    mid = seams - window // 2
    return SeamReport(
        ratio=ratio_at(seams),
        reference_ratio=ratio_at(mid[mid >= 1]),
        local_ratio=float(np.nanmean(local)) if np.isfinite(local).any() else float("nan"),
        seam_changes=change[seams],
        inside_median=inside_median,
        seams=seams,
    )


@dataclass(frozen=True)
class EditAccuracy:
    """Result of :func:`edit_accuracy`.

    Attributes:
        gain: least-squares factor between measured and requested change (1 = exactly as requested).
        relative_error: ``|gain - 1|``.
        correlation: Pearson correlation of requested and measured change (shape fidelity; NaN for a constant).
        residual: RMS of ``measured - gain * requested`` (unexplained change, in the series' unit).
    """

    gain: float
    relative_error: float
    correlation: float
    residual: float


def edit_accuracy(requested: np.ndarray, measured: np.ndarray) -> EditAccuracy:
    """Compare a requested per-frame change of an axis with the change measured in the video.

    ``requested`` is the edit's intended change (e.g. degrees of pitch for a nod, a constant 15 for "turn 15°");
    ``measured`` is the measured axis of the edited video minus that of the unedited one. The gain is the
    least-squares fit through the origin, ``g = sum r m / sum r^2`` over frames where both are finite, so a nod
    rendered at 85% of its amplitude gives ``g = 0.85``.
    """
    r, m = _series("requested", requested), _series("measured", measured)
    _same_length(r, m, "requested and measured")
    keep = np.isfinite(r) & np.isfinite(m)
    require(keep.sum() >= 2, ShapeError, "requested and measured share fewer than 2 finite frames.")
    r, m = r[keep], m[keep]
    energy = float(r @ r)
    require(energy > _EPS, ConfigError, "the requested change is zero everywhere; there is nothing to compare.")
    gain = float(r @ m) / energy
    correlation = pearson(r, m) if np.ptp(r) > _EPS else float("nan")
    residual = float(np.sqrt(np.mean((m - gain * r) ** 2)))
    return EditAccuracy(gain=gain, relative_error=abs(gain - 1.0), correlation=correlation, residual=residual)
