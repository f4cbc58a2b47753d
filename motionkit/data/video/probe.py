"""Probing one video file: decode it once, fix its face box, check its audio, map its frames to the output rate.

Unusable files raise :class:`~motionkit.errors.DataError` with a ``reason`` (``unreadable``, ``no_video``,
``no_audio``, ``silent``, ``too_short``, ``no_face``) that the scan counts.
"""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from motionkit.data.video.clip import DEFAULT_SCAN, ClipInfo, FaceCropper, ScanSettings
from motionkit.data.video.timeline import nearest_source_frames, output_frames
from motionkit.errors import AudioError, DataError, FaceNotFoundError
from motionkit.face import Box
from motionkit.io.audio import load_audio

MAX_FPS_DENOMINATOR = 1001 * 1000
"""Largest denominator of the output rate as a fraction (covers NTSC rates such as 30000/1001)."""


def probe_clip(path: str | Path, cropper: FaceCropper, settings: ScanSettings = DEFAULT_SCAN) -> ClipInfo:
    """Decode ``path`` once and describe it as a :class:`ClipInfo`, or raise :class:`DataError` saying why not.

    The face box is the first one ``cropper.detect`` finds in the first ``settings.face_search_frames`` frames.
    """
    path = Path(path)
    fps = Fraction(settings.fps).limit_denominator(MAX_FPS_DENOMINATOR)
    pts: list[int] = []
    box: Box | None = None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path} has no video stream.", reason="no_video")
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            time_base = video.time_base
            audio_stream = container.streams.audio[0] if container.streams.audio else None
            if settings.require_audio and audio_stream is None:
                raise DataError(f"{path} has no audio track; the flow model needs speech.", reason="no_audio")
            audio_start = (
                Fraction(audio_stream.start_time) * audio_stream.time_base
                if audio_stream is not None and audio_stream.start_time is not None and audio_stream.time_base
                else Fraction(0)
            )
            for frame in container.decode(video):
                if frame.pts is None:
                    raise DataError(f"{path} has video frames without timestamps; remux it.", reason="unreadable")
                pts.append(int(frame.pts))
                if box is None and len(pts) <= settings.face_search_frames:
                    with contextlib.suppress(FaceNotFoundError):
                        box = Box.coerce(cropper.detect(frame.to_ndarray(format="rgb24")))
    except (av.FFmpegError, OSError, EOFError) as exc:
        decoded = f" after {len(pts)} frames" if pts else ""
        raise DataError(f"{path} is unreadable or corrupt{decoded} ({exc}).", reason="unreadable") from exc
    if not pts or time_base is None:
        raise DataError(f"{path} has no decodable video frames.", reason="no_video")
    pts.sort()
    first = pts[0]
    times = [Fraction(p - first) * time_base for p in pts]
    frames = output_frames(times, fps, Fraction(video.average_rate or fps))
    if frames < settings.min_frames:
        raise DataError(
            f"{path} is too short: {frames} frames at {settings.fps:g} fps, at least {settings.min_frames} needed.",
            reason="too_short",
        )
    if box is None:
        raise DataError(f"{path}: no face found in the first {settings.face_search_frames} frames.", reason="no_face")
    video_start = Fraction(first) * time_base
    audio_offset = round((video_start - audio_start) * settings.sample_rate)
    has_audio = False
    if settings.require_audio:
        waveform = aligned_audio(path, audio_offset, frames, settings)
        level = rms_db(waveform)
        if level < settings.silence_db:
            raise DataError(
                f"{path} is silent (audio level {level:.1f} dBFS < {settings.silence_db:g} dBFS).", reason="silent"
            )
        has_audio = True
    chosen = nearest_source_frames(times, frames, fps)
    return ClipInfo(
        path=path,
        frames=frames,
        source_pts=tuple(pts[j] for j in chosen),
        time_base=(time_base.numerator, time_base.denominator),
        box=box,
        audio_offset=audio_offset,
        has_audio=has_audio,
        fps=settings.fps,
        sample_rate=settings.sample_rate,
    )


def rms_db(waveform: np.ndarray) -> float:
    """RMS level of ``waveform`` in dBFS (``-inf`` for silence or no samples)."""
    if waveform.size == 0:
        return -math.inf
    rms = float(np.sqrt(np.mean(np.square(waveform, dtype=np.float64))))
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def aligned_audio(path: Path, offset: int, frames: int, settings: ScanSettings) -> np.ndarray:
    """The file's audio at ``settings.sample_rate``, shifted by ``offset`` samples and cut or zero-padded to
    ``frames`` output frames."""
    try:
        waveform = load_audio(path, target_rate=settings.sample_rate)
    except AudioError as exc:
        raise DataError(str(exc), reason="no_audio") from exc
    waveform = waveform[offset:] if offset >= 0 else np.concatenate([np.zeros(-offset, np.float32), waveform])
    length = frames * settings.samples_per_frame
    if waveform.size < length:
        waveform = np.concatenate([waveform, np.zeros(length - waveform.size, np.float32)])
    return waveform[:length]


def clip_audio(info: ClipInfo) -> np.ndarray:
    """The clip's audio aligned with its frames: float32 ``(frames * sample_rate / fps,)``, zero-padded at the end."""
    settings = ScanSettings(fps=info.fps, sample_rate=info.sample_rate)
    return aligned_audio(info.path, info.audio_offset, info.frames, settings)
