"""VideoReader: constant-rate frames from variable-rate files, rotation metadata, damaged files, flat memory."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from motionkit.errors import ImageError
from motionkit.io import VideoReader, VideoWriter

SIZE = (48, 64)  # (H, W)


def numbered(k: int) -> np.ndarray:
    """A frame whose brightness encodes ``k`` (survives lossless x264)."""
    return np.full((*SIZE, 3), 10 * k, dtype=np.uint8)


def write_timed(path: Path, times_ms: list[int], rotation: int | None = None) -> None:
    """Frames ``numbered(k)`` shown at ``times_ms[k]`` (a variable frame rate), optionally with a display rotation."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height = SIZE[1], SIZE[0]
        stream.pix_fmt = "yuv444p"
        stream.time_base = Fraction(1, 1000)
        stream.options = {"crf": "0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for k, time in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(numbered(k), format="rgb24")
            frame.pts, frame.time_base = time, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def levels(frames: list[np.ndarray]) -> list[int]:
    return [round(float(f.mean()) / 10) for f in frames]


def test_a_variable_frame_rate_comes_out_at_a_constant_rate(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mp4"
    # 0, 40, 80 ms, then a 200 ms gap, then 40 ms steps again
    write_timed(path, [0, 40, 80, 280, 320])
    frames = list(VideoReader(path, fps=25).frames())
    # output k at k * 40 ms shows the nearest frame: the 80 ms frame until the midpoint 180 ms (ties: earlier)
    assert levels(frames) == [0, 1, 2, 2, 2, 3, 3, 3, 4]


def test_rotation_metadata_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "rotated.mp4"
    write_timed(path, [0, 40], rotation=90)
    reader = VideoReader(path)
    assert reader.rotation == 90
    assert reader.shape == (SIZE[1], SIZE[0])
    assert next(iter(reader.frames())).shape == (SIZE[1], SIZE[0], 3)


def test_damaged_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist"):
        VideoReader(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(ImageError, match="not a readable video"):
        VideoReader(junk)
    audio_only = tmp_path / "audio.wav"
    import soundfile as sf

    sf.write(audio_only, np.zeros(1600, np.float32), 16000)
    with pytest.raises(ImageError, match="no video stream"):
        VideoReader(audio_only)


def test_frames_stream_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.mp4"
    frames = 600
    with VideoWriter(path, fps=25, crf=30, preset="ultrafast") as writer:
        for _ in range(frames // 100):
            writer.write(np.zeros((100, 240, 320, 3), np.uint8))
    reader = VideoReader(path)
    tracemalloc.start()
    count = sum(1 for _ in reader.frames())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == frames
    # the whole video decoded would be 138 MB; a few frames are 0.2 MB each
    assert peak < 20 * 240 * 320 * 3
    assert reader.audio(16000) is None
