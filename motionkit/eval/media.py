"""Reading what the metrics need from media files: RGB frames and 16 kHz mono audio."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import gcd
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from motionkit.errors import AudioError, ImageError, require


@dataclass(frozen=True)
class Media:
    """Decoded video: ``frames`` ``(T, H, W, 3)`` uint8, ``fps``, and ``audio`` ``(N,)`` float32 mono at
    ``sample_rate`` (``None`` when the file has no audio stream)."""

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None
    sample_rate: int


def read_video(path: str | Path, sample_rate: int = 16000) -> Media:
    """Decode every frame of ``path`` as RGB and its first audio stream as mono float32 at ``sample_rate``."""
    path = Path(path)
    require(path.is_file(), ImageError, f"video {path} does not exist; check the path.")
    try:
        with av.open(str(path)) as container:
            require(len(container.streams.video) > 0, ImageError, f"{path} has no video stream; give a video file.")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            fps = float(Fraction(rate)) if rate else 25.0
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        audio = _read_audio_stream(path, sample_rate)
    except av.error.FFmpegError as exc:
        raise ImageError(f"cannot decode {path}: {exc}; is it a video file?") from None
    require(len(frames) > 0, ImageError, f"{path} holds no video frames.")
    return Media(frames=np.stack(frames), fps=fps, audio=audio, sample_rate=sample_rate)


def _read_audio_stream(path: Path, sample_rate: int) -> np.ndarray | None:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        for frame in container.decode(container.streams.audio[0]):
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return np.concatenate(chunks).astype(np.float32) if chunks else None


def read_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Read an audio file (any rate, any channels) as mono float32 at ``sample_rate``."""
    path = Path(path)
    require(path.is_file(), AudioError, f"audio {path} does not exist; check the path.")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"cannot read audio {path}: {exc}; give a WAV/FLAC/OGG file.") from None
    mono = data.mean(axis=1)
    require(mono.size > 0, AudioError, f"audio {path} is empty.")
    if rate != sample_rate:
        common = gcd(int(rate), int(sample_rate))
        mono = resample_poly(mono, sample_rate // common, int(rate) // common)
    return mono.astype(np.float32)
