"""Decoding of a media file's audio track to mono float32 at a given rate, with PyAV.

The video dataset imports :func:`load_audio` from here; it has the signature of ``motionkit.io.audio.load_audio``
so that either can serve the dataset.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from motionkit.errors import AudioError


def load_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """The first audio stream of ``path`` as a mono float32 waveform ``(N,)`` at ``sample_rate`` Hz.

    Channels are averaged by FFmpeg's resampler (``layout="mono"``); samples start at the stream's first decoded
    frame. Raises :class:`AudioError` when the file has no audio stream or cannot be decoded.
    """
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path} has no audio track; use a file with speech audio.")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks: list[np.ndarray] = []
            for frame in container.decode(audio=0):
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    except (av.FFmpegError, OSError) as exc:
        raise AudioError(f"cannot decode the audio of {path} ({exc}); re-encode it (e.g. with ffmpeg).") from exc
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)
