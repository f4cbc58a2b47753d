"""Decoding a scanned clip's cropped output frames: all of them in order, or a few by index with seeking."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import numpy as np

from motionkit.data.video.clip import ClipInfo, FaceCropper
from motionkit.errors import DataError

SEEK_GAP_SECONDS = 2.0
"""Read-ahead distance below which :func:`read_frames` decodes forward instead of seeking."""


def iter_clip_frames(info: ClipInfo, cropper: FaceCropper, chunk: int = 64) -> Iterator[np.ndarray]:
    """The clip's cropped output frames in order, in chunks of up to ``chunk`` frames ``(n, S, S, 3)`` uint8."""
    wanted: dict[int, list[int]] = {}
    for k, p in enumerate(info.source_pts):
        wanted.setdefault(p, []).append(k)
    pending: dict[int, np.ndarray] = {}
    next_frame = 0
    buffer: list[np.ndarray] = []
    try:
        with av.open(str(info.path)) as container:
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            for frame in container.decode(video):
                if frame.pts not in wanted:
                    continue
                image = cropper.checked_crop(frame.to_ndarray(format="rgb24"), info.box)
                for k in wanted[frame.pts]:
                    pending[k] = image
                while next_frame in pending:
                    buffer.append(pending.pop(next_frame))
                    next_frame += 1
                    if len(buffer) == chunk:
                        yield np.stack(buffer)
                        buffer = []
    except (av.FFmpegError, OSError, EOFError) as exc:
        raise DataError(f"{info.path} could not be decoded ({exc}).", reason="unreadable") from exc
    if next_frame != info.frames:
        raise DataError(
            f"{info.path} changed since it was scanned (decoded {next_frame} of {info.frames} frames); rescan.",
            reason="unreadable",
        )
    if buffer:
        yield np.stack(buffer)


def read_frames(info: ClipInfo, indices: Sequence[int], cropper: FaceCropper) -> np.ndarray:
    """Cropped output frames ``indices`` of a clip, ``(len(indices), S, S, 3)`` uint8, decoding as little as possible.

    Seeks to the keyframe before each needed frame unless it is less than ``SEEK_GAP_SECONDS`` ahead; the result
    equals the same frames of :func:`iter_clip_frames`.
    """
    for k in indices:
        if not 0 <= k < info.frames:
            raise DataError(f"frame {k} is outside {info.path} (0..{info.frames - 1}).", reason="too_short")
    targets = sorted({info.source_pts[k] for k in indices})
    wanted = set(targets)
    found: dict[int, np.ndarray] = {}
    gap = int(SEEK_GAP_SECONDS / Fraction(*info.time_base))
    from_start = False  # set when the demuxer seeks past a target; then decode from the first frame
    try:
        with av.open(str(info.path)) as container:
            video = container.streams.video[0]
            position = 0
            while position < len(targets):
                container.seek(info.source_pts[0] if from_start else targets[position], stream=video)
                reseek = False
                first = True
                for frame in container.decode(video):
                    if frame.pts is None:
                        continue
                    if first and not from_start and frame.pts > targets[position]:
                        from_start = reseek = True
                        break
                    first = False
                    if frame.pts in wanted and frame.pts not in found:
                        found[frame.pts] = cropper.checked_crop(frame.to_ndarray(format="rgb24"), info.box)
                    while position < len(targets) and targets[position] in found:
                        position += 1
                    if position == len(targets):
                        break
                    if not from_start and targets[position] - frame.pts > gap:
                        reseek = True
                        break
                if not reseek and position < len(targets):
                    break
    except (av.FFmpegError, OSError, EOFError) as exc:
        raise DataError(f"{info.path} could not be decoded ({exc}).", reason="unreadable") from exc
    missing = [p for p in targets if p not in found]
    if missing:
        raise DataError(
            f"{info.path}: frames at pts {missing[:3]} not found; the file changed, rescan.", reason="unreadable"
        )
    return np.stack([found[info.source_pts[k]] for k in indices])
