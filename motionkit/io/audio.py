"""Audio input: any file or array to mono float32 at the model rate, and wav2vec2-style normalisation.

Files: ``.wav``, ``.flac``, ``.ogg`` (and the other formats libsndfile reads) go through soundfile; ``.mp3``,
``.m4a``/``.aac`` and the audio track of video files (``.mp4``, ``.mov``, ``.mkv``, ``.webm``, ...) go through PyAV
(FFmpeg). Whatever the source, channels are averaged to mono (what ``librosa.load(mono=True)`` does) and the signal is
resampled to ``target_rate`` with a polyphase filter (``scipy.signal.resample_poly``, Kaiser window, beta 5).

Arrays and tensors: ``(N,)`` is mono; a 2-D array is ``(C, N)`` when ``shape[0] <= shape[1]`` and ``(N, C)``
otherwise (the channel axis is the shorter one), and at most :data:`MAX_CHANNELS` channels are accepted so that a
batch of clips is never silently mixed into one. Integer PCM is scaled to ``[-1, 1)`` (int16 / 32768, int32 / 2^31,
uint8 (x - 128) / 128); floating-point input is taken as is.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from motionkit.errors import AudioError

SOUNDFILE_SUFFIXES = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".aifc", ".au", ".caf", ".w64", ".rf64"}
)
"""Suffixes read with soundfile (libsndfile); everything else is decoded with PyAV."""

MAX_CHANNELS = 32
"""Largest channel count accepted for 2-D arrays; more means the array is probably a batch of clips."""

NORM_EPS = 1e-7
"""Epsilon of the wav2vec2 feature extractor's zero-mean/unit-variance normalisation."""

SILENCE_DBFS = -60.0
"""A clip whose loudest sample stays below this level (dB re full scale, 1.0) is silent: no speech to follow."""

AudioSource = str | Path | np.ndarray | torch.Tensor


def load_audio(source: AudioSource, sample_rate: int | None = None, target_rate: int = 16000) -> np.ndarray:
    """Load ``source`` as a mono float32 waveform ``(N,)`` at ``target_rate`` Hz.

    Args:
        source: a path to an audio or video file, or an array/tensor of samples (see the module docstring for the
            accepted layouts). The input is never modified.
        sample_rate: the rate of an array/tensor source in Hz (required for arrays; must be ``None`` for files,
            which carry their own rate).
        target_rate: the rate of the returned waveform in Hz.

    Returns:
        ``(N,)`` float32, C-contiguous, finite, ``N >= 1``.

    Raises:
        AudioError: the file is missing or unreadable, has no audio track, the array has an unsupported layout or
            dtype, or the audio is empty or contains NaN/inf.
    """
    if not isinstance(target_rate, int) or target_rate <= 0:
        raise AudioError(f"target_rate must be a positive integer in Hz, got {target_rate!r}.")
    if isinstance(source, (str, Path)):
        if sample_rate is not None:
            raise AudioError(
                f"sample_rate={sample_rate} was given with the file {source}; files carry their own rate, "
                "so pass sample_rate only with arrays and tensors."
            )
        samples, rate, name = *_read_file(Path(source)), str(source)
    elif isinstance(source, (np.ndarray, torch.Tensor)):
        if sample_rate is None:
            raise AudioError(
                "an audio array needs its sample rate: call load_audio(array, sample_rate=...) with the rate in Hz."
            )
        if not isinstance(sample_rate, int) or sample_rate <= 0:
            raise AudioError(f"sample_rate must be a positive integer in Hz, got {sample_rate!r}.")
        samples, rate, name = _mono_from_array(source), sample_rate, "the audio array"
    else:
        raise AudioError(
            f"cannot read audio from a {type(source).__name__}; pass a file path, a numpy array or a torch tensor."
        )
    if samples.size == 0:
        raise AudioError(f"{name} contains no audio samples; give a non-empty recording.")
    if not np.isfinite(samples).all():
        raise AudioError(f"{name} contains NaN or infinite samples; clean the signal before using it.")
    return resample(samples, rate, target_rate)


def is_silent(waveform: np.ndarray) -> bool:
    """Whether ``waveform`` ``(N,)`` (float, full scale 1) peaks below :data:`SILENCE_DBFS`."""
    peak = float(np.abs(waveform).max()) if waveform.size else 0.0
    return peak < 10.0 ** (SILENCE_DBFS / 20.0)


def resample(waveform: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Resample a mono float32 waveform from ``rate`` to ``target_rate`` with ``scipy.signal.resample_poly``.

    The up/down factors are ``target_rate / rate`` reduced to lowest terms (44.1 kHz -> 16 kHz: up 160, down 441),
    so the output has ``ceil(N * target_rate / rate)`` samples. Returns a new float32 array (a copy when the rates
    are equal).
    """
    if rate == target_rate:
        return np.array(waveform, dtype=np.float32, copy=True)
    from scipy.signal import resample_poly

    ratio = Fraction(target_rate, rate)
    out = resample_poly(waveform.astype(np.float64), ratio.numerator, ratio.denominator)
    return np.ascontiguousarray(out, dtype=np.float32)


def normalize_waveform(waveform: np.ndarray, eps: float = NORM_EPS) -> np.ndarray:
    """Zero-mean, unit-variance normalisation of each clip, exactly as the wav2vec2 feature extractor does it.

    ``a = (w - mean(w)) / sqrt(var(w) + eps)`` with the population variance, evaluated by numpy in float32 (the
    arithmetic of ``Wav2Vec2FeatureExtractor(do_normalize=True)``, so the result is bit-identical to FLOAT's input).
    Silence stays silence: an all-zero clip maps to zeros.

    Args:
        waveform: ``(N,)`` one clip or ``(B, N)`` clips normalised row by row; converted to float32.
        eps: added to the variance (FLOAT / Hugging Face: ``1e-7``).

    Returns:
        float32 array of the same shape (a new array; the input is not modified).
    """
    w = np.asarray(waveform, dtype=np.float32)
    if w.ndim not in (1, 2) or w.shape[-1] == 0:
        raise AudioError(f"normalize_waveform expects (N,) or (B, N) with N >= 1, got shape {w.shape}.")
    if w.ndim == 2:
        return np.stack([normalize_waveform(row, eps) for row in w]) if len(w) else w.copy()
    normed = (w - w.mean()) / np.sqrt(w.var() + np.float32(eps))
    return np.asarray(normed, dtype=np.float32)


def _mono_from_array(source: np.ndarray | torch.Tensor) -> np.ndarray:
    array = source.detach().cpu().numpy() if isinstance(source, torch.Tensor) else np.asarray(source)
    samples = _to_float(array)
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2:
        raise AudioError(
            f"an audio array must be (N,), (C, N) or (N, C); got shape {samples.shape}. "
            "Pass one clip at a time (a batch (B, N) goes to the Conditioner directly)."
        )
    channel_axis = 0 if samples.shape[0] <= samples.shape[1] else 1
    channels = samples.shape[channel_axis]
    if channels > MAX_CHANNELS:
        raise AudioError(
            f"an audio array of shape {samples.shape} would have {channels} channels (the shorter axis is taken as "
            f"channels; at most {MAX_CHANNELS}). If it is a batch of clips, load them one by one or pass the (B, N) "
            "tensor to the Conditioner."
        )
    return np.ascontiguousarray(samples.mean(axis=channel_axis, dtype=np.float64), dtype=np.float32)


def _to_float(array: np.ndarray) -> np.ndarray:
    """Integer PCM to [-1, 1) floats; floats unchanged (as float32)."""
    if array.dtype == np.uint8:
        return (array.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(array.dtype, np.signedinteger):
        scale = float(2 ** (8 * array.dtype.itemsize - 1))
        return (array.astype(np.float64) / scale).astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32)
    raise AudioError(
        f"audio arrays must hold floats or integer PCM samples, got dtype {array.dtype}; convert with .astype(float)."
    )


def _read_file(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and their rate from an audio or video file."""
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist; check the path.")
    if path.suffix.lower() in SOUNDFILE_SUFFIXES:
        try:
            return _read_soundfile(path)
        except Exception:  # libsndfile cannot read every codec inside e.g. a WAV container; FFmpeg can.
            pass
    return _read_pyav(path)


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return _mix_channels_last(data), int(rate)


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises several FFmpeg error types
        raise AudioError(f"cannot read {path} as audio or video ({exc}); is it a media file?") from exc
    with container:
        if not container.streams.audio:
            raise AudioError(f"{path} has no audio track; give a file with sound.")
        stream = container.streams.audio[0]
        # Converts every sample format (s16, s32p, flt, ...) to float planar (channels, samples), keeping the rate.
        converter = av.AudioResampler(format="fltp")
        planes: list[np.ndarray] = []
        rate = 0
        try:
            for frame in container.decode(stream):
                rate = rate or int(frame.sample_rate)
                planes.extend(out.to_ndarray() for out in converter.resample(frame))
            planes.extend(out.to_ndarray() for out in converter.resample(None))
        except av.FFmpegError as exc:
            raise AudioError(f"{path}: the audio track could not be decoded ({exc}).") from exc
    if not planes or rate <= 0:
        raise AudioError(f"{path} contains no decodable audio samples.")
    data = np.concatenate(planes, axis=1)
    return np.ascontiguousarray(data.mean(axis=0, dtype=np.float64), dtype=np.float32), rate


def _mix_channels_last(data: np.ndarray) -> np.ndarray:
    if data.shape[1] == 1:
        return np.ascontiguousarray(data[:, 0], dtype=np.float32)
    return np.ascontiguousarray(data.mean(axis=1, dtype=np.float64), dtype=np.float32)
