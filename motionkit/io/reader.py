"""Reading a video file frame by frame at a constant frame rate, with its rotation applied, in flat memory.

:class:`VideoReader` opens a file once to describe it (size, rate, rotation, audio) and decodes it again on every
:meth:`~VideoReader.frames` call, one frame at a time, so a 10-minute video needs the memory of a few frames.

* **Frame rate.** Output frame ``k`` (time ``k / fps``) shows the decoded frame whose timestamp is nearest (ties: the
  earlier one, as :mod:`motionkit.data.video.timeline` maps clips): a variable-frame-rate file comes out at the
  constant rate ``fps`` (default: the stream's average rate), repeating or dropping frames where its timing
  wanders. The last frame lasts ``1 / fps``.
* **Rotation.** Phones store portrait videos as landscape pixels plus a display rotation; frames are turned by it
  (in 90-degree steps) so they come out as a player shows them.
* **Damage.** A file that cannot be opened or decoded raises :class:`~motionkit.errors.ImageError` naming the file
  and how many frames were read; a file that decodes no frame at all is refused the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from motionkit.errors import ImageError
from motionkit.io.audio import load_audio

RIGHT_ANGLE = 90
"""Rotations are applied in steps of this many degrees (what containers record)."""


def _rotated(frame: np.ndarray, degrees: float) -> np.ndarray:
    """``frame`` turned counter-clockwise by ``degrees`` (a display rotation, rounded to 90-degree steps)."""
    turns = round(degrees / RIGHT_ANGLE) % 4
    return np.ascontiguousarray(np.rot90(frame, turns)) if turns else frame


class VideoReader:
    """A video file read frame by frame (see the module docstring).

    Args:
        path: the video file.
        fps: output frame rate (default: the stream's average rate).

    Raises:
        ImageError: the file is missing, unreadable or has no video stream.
    """

    def __init__(self, path: str | Path, fps: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ImageError(f"video file {self.path} does not exist; check the path.")
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise ImageError(f"{self.path} has no video stream; give a video file.")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.base_rate or stream.guessed_rate
                self.has_audio = bool(container.streams.audio)
                self.frame_count_hint = int(stream.frames or 0)
                self.duration_hint = (
                    float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
                )
                first = next(container.decode(stream), None)
        except (av.FFmpegError, OSError, EOFError, ValueError) as exc:
            raise ImageError(f"{self.path} is not a readable video ({exc}); check the file or re-encode it.") from exc
        if first is None:
            raise ImageError(f"{self.path} has no decodable video frames; the file is empty or damaged.")
        if fps is None:
            if not rate:
                raise ImageError(f"{self.path} does not record its frame rate; give the rate (fps) explicitly.")
            fps = float(rate)
        if not (math.isfinite(fps) and fps > 0):
            raise ImageError(f"the frame rate must be a positive number, got {fps!r}.")
        self.fps = float(fps)
        self.rotation = float(first.rotation or 0.0)
        height, width = first.height, first.width
        self.shape = (width, height) if round(self.rotation / RIGHT_ANGLE) % 2 else (height, width)
        """``(H, W)`` of the frames as shown (after rotation)."""

    def frames(self) -> Iterator[np.ndarray]:
        """``(H, W, 3)`` uint8 RGB frames at :attr:`fps`, decoded one at a time.

        Raises:
            ImageError: the file is corrupt or truncated (the message gives the frames read before the damage).
        """
        step = Fraction(self.fps).limit_denominator(1001 * 1000)
        produced = 0
        previous: tuple[np.ndarray, Fraction] | None = None
        start: Fraction | None = None
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    if frame.pts is None or frame.time_base is None:
                        raise ImageError(f"{self.path} has video frames without timestamps; remux it.")
                    time = Fraction(frame.pts) * frame.time_base
                    start = time if start is None else start
                    time -= start
                    pixels = _rotated(frame.to_ndarray(format="rgb24"), self.rotation)
                    if previous is not None:
                        # every output time up to the midpoint shows the previous frame (ties: the earlier frame)
                        midpoint = (previous[1] + time) / 2
                        while produced / step <= midpoint:
                            yield previous[0]
                            produced += 1
                    previous = (pixels, time)
        except (av.FFmpegError, OSError, EOFError) as exc:
            raise ImageError(
                f"{self.path} is corrupt or truncated: decoding failed after {produced} frames ({exc}); re-encode "
                "or repair the file."
            ) from exc
        if previous is None:
            raise ImageError(f"{self.path} has no decodable video frames; the file is empty or damaged.")
        end = previous[1] + 1 / step
        while produced / step < end - Fraction(1, 10**9):
            yield previous[0]
            produced += 1

    def audio(self, sample_rate: int) -> np.ndarray | None:
        """The audio track as mono float32 at ``sample_rate`` (``None`` when the file has none)."""
        if not self.has_audio:
            return None
        return load_audio(self.path, target_rate=sample_rate)
