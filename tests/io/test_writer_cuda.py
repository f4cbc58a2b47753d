"""The writer on a CUDA device: yuv420p planes converted on the GPU, copied through pinned buffers on a side
stream while the caller goes on (motionkit/io/transfer.py). Run by tools/gpu_session.sh (step writer-tests)."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from motionkit.io import VideoWriter
from motionkit.io.image import frames_to_uint8
from motionkit.io.transfer import PinnedCopies
from motionkit.io.yuv import rgb_to_yuv420
from tests.io.test_io_video import leftovers, smooth_frames, tone
from tests.io.test_transfer import fail_encoding_at, write_until_error

pytestmark = pytest.mark.gpu

CUDA = torch.device("cuda")


def decoded_planes(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="yuv420p") for frame in container.decode(video=0)])


def write(path: Path, chunks: list[torch.Tensor], queue_chunks: int) -> VideoWriter:
    """Write ``chunks`` losslessly (libx264 at crf 0 is qp 0; NVENC, the GPU default, is not lossless)."""
    with VideoWriter(path, crf=0, queue_chunks=queue_chunks, audio=tone(1.0), codec="libx264") as video:
        for chunk in chunks:
            video.write(chunk)
    return video


@pytest.mark.parametrize(("height", "width"), [(512, 512), (37, 51), (8, 2)])
def test_the_planes_are_the_same_bits_on_the_gpu(height: int, width: int) -> None:
    rgb = torch.randint(0, 256, (3, 3, height + height % 2, width + width % 2), dtype=torch.uint8)
    assert torch.equal(rgb_to_yuv420(rgb.to(CUDA)).cpu(), rgb_to_yuv420(rgb))


def test_pinned_side_stream_copies_write_the_serial_video(tmp_path: Path) -> None:
    """Queued chunks through the pinned ring give the frames of the serial path (queue 0: one buffer, the copy
    waited for at once) and of the same frames converted on the CPU, bit for bit."""
    chunks = [smooth_frames(8, 96, 128).to(CUDA) * scale for scale in torch.linspace(1.0, 0.3, 12).tolist()]
    overlapped = write(tmp_path / "overlapped.mp4", chunks, queue_chunks=2)
    assert isinstance(overlapped._copies, PinnedCopies)
    assert overlapped._copies.pool.free == overlapped._copies.pool.count  # every buffer given back
    write(tmp_path / "serial.mp4", chunks, queue_chunks=0)
    with VideoWriter(tmp_path / "cpu.mp4", crf=0, audio=tone(1.0), conversion="torch", codec="libx264") as video:
        for chunk in chunks:
            video.write(chunk.cpu())
    frames = decoded_planes(tmp_path / "serial.mp4")
    assert frames.shape[0] == 96
    assert np.array_equal(decoded_planes(tmp_path / "overlapped.mp4"), frames)
    assert np.array_equal(decoded_planes(tmp_path / "cpu.mp4"), frames)


def test_a_full_queue_reuses_buffers_only_after_encoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow encoder keeps the queue full for 60 chunks; every frame decodes to what was written (a buffer
    overwritten before its frames were encoded would show another chunk's frames)."""
    original = VideoWriter._encode_frames

    def slow(self: VideoWriter, frames: np.ndarray, pixel_format: str) -> None:
        time.sleep(0.01)
        original(self, frames, pixel_format)

    monkeypatch.setattr(VideoWriter, "_encode_frames", slow)
    levels = torch.linspace(-0.9, 0.9, 60).tolist()
    chunks = [torch.full((4, 3, 64, 64), level, device=CUDA) for level in levels]
    video = write(tmp_path / "stress.mp4", chunks, queue_chunks=2)
    assert video._copies is not None
    assert isinstance(video._copies, PinnedCopies)
    assert video._copies.pool.free == video._copies.pool.count
    luma = decoded_planes(tmp_path / "stress.mp4")[:, :64].reshape(60, 4, -1).astype(int)
    expected = rgb_to_yuv420(frames_to_uint8(torch.stack([chunk[0] for chunk in chunks]).cpu()))
    assert np.array_equal(luma, np.broadcast_to(expected[:, :64].reshape(60, 1, -1).numpy(), luma.shape))


def test_an_encoder_failure_midway_gives_every_buffer_back_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_encoding_at(monkeypatch, 5)
    writer = VideoWriter(tmp_path / "x.mp4", queue_chunks=2, codec="libx264")
    write_until_error(writer, 40, "no space left", device="cuda")
    assert leftovers(tmp_path) == []
    assert isinstance(writer._copies, PinnedCopies)
    assert writer._copies.pool.free == writer._copies.pool.count
