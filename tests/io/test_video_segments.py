"""Segmented libx264 encoding (VideoWriter(segments=N)): parallel runs joined without re-encoding."""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import shutil
import signal
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from motionkit.errors import ConfigError, OutputError
from motionkit.io import VideoWriter, read_video

FPS = 25.0
SIZE = 64
SAMPLE_RATE = 16000
PSNR_SLACK_DB = 0.5
"""A run boundary costs the frames after it their references (a fresh IDR), nothing more."""


def _frames(count: int) -> np.ndarray:
    """A moving smooth pattern, so that H.264 predicts frames from one another as it does talking heads."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    t = np.arange(count)[:, None, None, None]
    channels = np.stack([x, y, x + y], axis=-1)[None]
    return (127.5 + 100 * np.sin((channels + 2 * t) / 9.0)).astype(np.uint8)


def _psnr(reference: np.ndarray, decoded: np.ndarray) -> float:
    error = np.mean((reference.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / error)


def _save(path: Path, frames: np.ndarray, audio: np.ndarray, **options: int) -> None:
    with VideoWriter(path, fps=FPS, audio=audio, sample_rate=SAMPLE_RATE, codec="libx264", **options) as writer:
        for start in range(0, len(frames), 10):  # chunks that straddle the run boundaries
            writer.write(frames[start : start + 10])


def _video_packets(path: Path) -> tuple[list[tuple[int, int, bool]], Fraction]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [(p.pts, p.dts, p.is_keyframe) for p in container.demux(stream) if p.size]
        return packets, Fraction(stream.time_base)


def test_segments_decode_like_one_encoder(tmp_path: Path) -> None:
    frames = _frames(37)  # 3 runs of 13, 13 and 11 frames
    audio = (0.3 * np.sin(np.arange(int(37 / FPS * SAMPLE_RATE)) * 0.05)).astype(np.float32)
    _save(tmp_path / "one.mp4", frames, audio)
    _save(tmp_path / "three.mp4", frames, audio, segments=3, segment_frames=13)
    single, fps_single, audio_single = read_video(tmp_path / "one.mp4", SAMPLE_RATE)
    joined, fps_joined, audio_joined = read_video(tmp_path / "three.mp4", SAMPLE_RATE)
    assert joined.shape == single.shape == frames.shape
    assert fps_joined == fps_single == FPS
    assert abs(_psnr(frames, joined) - _psnr(frames, single)) < PSNR_SLACK_DB
    assert audio_single is not None
    assert audio_joined is not None
    np.testing.assert_array_equal(audio_joined, audio_single)  # the same AAC encode, muxed the same way

    packets, time_base = _video_packets(tmp_path / "three.mp4")
    tick = 1 / (FPS * time_base)  # one frame in the stream's time base
    presented = sorted(pts for pts, _, _ in packets)
    assert presented == [round(i * tick) for i in range(len(frames))]  # continuous, no gap or overlap
    decoded_order = [dts for _, dts, _ in packets]
    assert all(a < b for a, b in itertools.pairwise(decoded_order))
    keyframes = [round(pts / tick) for pts, _, key in packets if key]
    assert keyframes == [0, 13, 26]  # every run starts with an IDR frame
    with av.open(str(tmp_path / "three.mp4")) as container:
        duration = container.streams.video[0].duration * time_base
    assert duration == pytest.approx(len(frames) / FPS)
    assert not multiprocessing.active_children()


def test_the_encoder_processes_report_their_cpu_time(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "out.mp4", fps=FPS, segments=2, segment_frames=4) as writer:
        writer.write(_frames(8))
        assert writer.encoder_cpu_seconds == 0  # known when the runs are joined
    assert writer.encoder_cpu_seconds > 0


def _kill_a_worker(writer: VideoWriter) -> None:
    assert writer._segmenter is not None
    pid = writer._segmenter._processes[1].pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def _remove_the_run_folder(writer: VideoWriter) -> None:
    assert writer._segment_folder is not None
    shutil.rmtree(writer._segment_folder)


@pytest.mark.parametrize(("sabotage", "message"), [(_kill_a_worker, "died"), (_remove_the_run_folder, "failed")])
def test_a_failing_worker_is_an_error_and_leaves_no_file(
    tmp_path: Path, sabotage: Callable[[VideoWriter], None], message: str
) -> None:
    frames = _frames(40)
    target = tmp_path / "out.mp4"

    def write_while_sabotaged() -> None:
        with VideoWriter(target, fps=FPS, segments=2, segment_frames=5) as writer:
            writer.write(frames[:2])
            sabotage(writer)
            for start in range(2, len(frames), 2):
                writer.write(frames[start : start + 2])

    with pytest.raises(OutputError, match=message):
        write_while_sabotaged()
    assert list(tmp_path.iterdir()) == []
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("options", [{"segments": 0}, {"segments": 2.5}, {"segments": True}, {"segment_frames": 0}])
def test_bad_segment_settings(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=next(iter(options))):
        VideoWriter(tmp_path / "out.mp4", **options)  # type: ignore[arg-type]


def test_segments_are_for_libx264(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="h264_nvenc is one hardware"):
        VideoWriter(tmp_path / "out.mp4", segments=2, codec="h264_nvenc")
    assert VideoWriter(tmp_path / "out.mp4", segments=2).codec == "libx264"  # "auto" means libx264 then


def test_an_error_in_the_caller_stops_the_workers_and_leaves_no_file(tmp_path: Path) -> None:
    frames = _frames(12)

    def fail_while_writing() -> None:
        with VideoWriter(tmp_path / "out.mp4", fps=FPS, segments=2, segment_frames=3) as writer:
            writer.write(frames)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fail_while_writing()
    assert list(tmp_path.iterdir()) == []
    assert not multiprocessing.active_children()
