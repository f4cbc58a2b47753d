"""The H.264 + AAC video writer (streaming, atomic, audio muxed) and the reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from motionkit.errors import AudioError, ConfigError, OutputError, ShapeError
from motionkit.io import VideoWriter, read_video
from motionkit.io import video as video_module

SAMPLE_RATE = 16000


def smooth_frames(count: int, height: int = 64, width: int = 64) -> torch.Tensor:
    """Moving gradients in [-1, 1]: easy to encode, so decoding errors stay small."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    t = torch.arange(count, dtype=torch.float32).view(count, 1, 1) / count
    xy = (x * y).expand(count, -1, -1)
    return torch.stack([torch.sin(2 * x + 3 * t), torch.cos(2 * y - 2 * t), xy], dim=1).clamp(-1, 1) * 0.8


def tone(seconds: float) -> np.ndarray:
    n = int(seconds * SAMPLE_RATE)
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_and_read_back_with_audio(tmp_path: Path) -> None:
    frames = smooth_frames(30)
    audio = tone(1.2)
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=25.0, crf=18, audio=audio, sample_rate=SAMPLE_RATE) as video:
        for start in range(0, 30, 8):
            video.write(frames[start : start + 8])
        assert video.frames_written == 30
    decoded, fps, sound = read_video(path)
    assert decoded.shape == (30, 64, 64, 3)
    assert decoded.dtype == np.uint8
    assert fps == 25.0
    expected = ((frames.clamp(-1, 1) + 1) / 2 * 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.abs(decoded.astype(float) - expected).mean() < 3.0
    assert sound is not None
    assert len(sound) == len(audio)
    core = slice(2000, 16000)  # away from the codec's start-up and end frames
    correlation = np.corrcoef(sound[core], audio[core])[0, 1]
    assert correlation > 0.95
    with av.open(str(path)) as container:
        video_stream, audio_stream = container.streams.video[0], container.streams.audio[0]
        assert video_stream.codec_context.name == "h264"
        assert video_stream.codec_context.pix_fmt == "yuv420p"
        assert audio_stream.codec_context.name == "aac"
        assert audio_stream.codec_context.sample_rate == SAMPLE_RATE
    assert leftovers(tmp_path) == ["out.mp4"]


def test_uint8_frames_and_no_audio(tmp_path: Path) -> None:
    frames = np.random.RandomState(0).randint(0, 256, size=(5, 32, 48, 3), dtype=np.uint8)
    with VideoWriter(tmp_path / "u8.mp4") as video:
        video.write(frames)
    decoded, _, sound = read_video(tmp_path / "u8.mp4")
    assert decoded.shape == (5, 32, 48, 3)
    assert sound is None


def test_odd_sizes_are_padded(tmp_path: Path) -> None:
    frames = np.full((3, 31, 45, 3), 90, dtype=np.uint8)
    with VideoWriter(tmp_path / "odd.mp4", crf=0) as video:
        video.write(frames)
    decoded, _, _ = read_video(tmp_path / "odd.mp4")
    assert decoded.shape == (3, 32, 46, 3)
    assert np.abs(decoded.astype(int) - 90).max() <= 2


def test_fractional_frame_rate(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "ntsc.mp4", fps=30000 / 1001) as video:
        video.write(smooth_frames(4, 16, 16))
    _, fps, _ = read_video(tmp_path / "ntsc.mp4")
    assert fps == pytest.approx(29.97, abs=1e-3)


def test_frames_are_encoded_as_they_arrive(tmp_path: Path) -> None:
    """The temporary file grows during writing (in output-buffer steps): frames are not kept until the end."""
    with VideoWriter(tmp_path / "stream.mp4") as video:
        for _ in range(8):
            video.write(torch.rand(16, 3, 128, 128) * 2 - 1)  # noise: about 10 kB per encoded frame
        (partial,) = [p for p in tmp_path.iterdir() if "partial" in p.name]
        assert partial.stat().st_size > 200_000
        assert not (tmp_path / "stream.mp4").exists()
    assert leftovers(tmp_path) == ["stream.mp4"]


def test_failure_leaves_no_file(tmp_path: Path) -> None:
    def failing_render() -> None:
        with VideoWriter(tmp_path / "x.mp4", audio=tone(1.0)) as video:
            video.write(smooth_frames(4))
            raise RuntimeError("render failed")

    with pytest.raises(RuntimeError, match="render failed"):
        failing_render()
    assert leftovers(tmp_path) == []


def test_nothing_written_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="no frames"), VideoWriter(tmp_path / "empty.mp4"):
        pass
    assert leftovers(tmp_path) == []


def test_changing_frame_size_is_rejected(tmp_path: Path) -> None:
    def write_two_sizes() -> None:
        with VideoWriter(tmp_path / "x.mp4") as video:
            video.write(smooth_frames(2, 32, 32))
            video.write(smooth_frames(2, 64, 64))

    with pytest.raises(ShapeError, match="same size"):
        write_two_sizes()
    assert leftovers(tmp_path) == []


def test_overwrite_rules(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    path.write_bytes(b"old")
    with pytest.raises(OutputError, match="already exists"):
        VideoWriter(path).__enter__()
    with VideoWriter(path, overwrite=True) as video:
        video.write(smooth_frames(2, 16, 16))
    assert path.stat().st_size > 3
    assert leftovers(tmp_path) == ["v.mp4"]


def test_bad_frames(tmp_path: Path) -> None:
    with VideoWriter(tmp_path / "v.mp4") as video:
        with pytest.raises(ShapeError, match=r"\(n, 3, H, W\).*chunk\[b\]"):
            video.write(torch.zeros(1, 2, 3, 16, 16))
        with pytest.raises(ShapeError, match="uint8"):
            video.write(np.zeros((2, 16, 16, 3), dtype=np.float32))
        with pytest.raises(ShapeError, match="uint8"):
            video.write(np.zeros((2, 3, 16, 16), dtype=np.uint8))
        video.write(smooth_frames(1, 16, 16))
    with pytest.raises(OutputError, match="outside its `with` block"):
        VideoWriter(tmp_path / "w.mp4").write(smooth_frames(1))


def test_speed_preset_trades_size_for_speed(tmp_path: Path) -> None:
    frames = smooth_frames(20)
    sizes = {}
    for preset in ("ultrafast", "medium"):
        with VideoWriter(tmp_path / f"{preset}.mp4", crf=18, preset=preset) as video:
            video.write(frames)
        decoded, _, _ = read_video(tmp_path / f"{preset}.mp4")
        assert decoded.shape == (20, 64, 64, 3)
        sizes[preset] = (tmp_path / f"{preset}.mp4").stat().st_size
    assert sizes["ultrafast"] > 1.2 * sizes["medium"]  # no B-frames, no CABAC: same quality target, more bytes


def test_bad_settings_and_audio(tmp_path: Path) -> None:
    # bad settings are input errors (the CLI's exit code 3), not output problems
    with pytest.raises(ConfigError, match=r"crf must be an integer in \[0, 51\]"):
        VideoWriter(tmp_path / "v.mp4", crf=60)
    with pytest.raises(ConfigError, match=r"preset must be one of ultrafast, .*veryslow"):
        VideoWriter(tmp_path / "v.mp4", preset="turbo")
    with pytest.raises(ConfigError, match="fps"):
        VideoWriter(tmp_path / "v.mp4", fps=0)
    with pytest.raises(AudioError, match="mono"):
        VideoWriter(tmp_path / "v.mp4", audio=np.zeros((2, 100), np.float32))
    with pytest.raises(AudioError, match="NaN"):
        VideoWriter(tmp_path / "v.mp4", audio=np.full(100, np.nan, np.float32))
    with pytest.raises(AudioError, match="float"):
        VideoWriter(tmp_path / "v.mp4", audio=np.zeros(100, np.int16))
    with pytest.raises(OutputError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "v.mp4").__enter__()


def test_read_video_errors(tmp_path: Path) -> None:
    from motionkit.errors import ImageError

    with pytest.raises(ImageError, match="does not exist"):
        read_video(tmp_path / "none.mp4")
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(ImageError, match="not a readable video"):
        read_video(tmp_path / "text.mp4")


@pytest.mark.parametrize("conversion", ["swscale", "torch"])
def test_the_encoder_thread_writes_what_the_caller_would(tmp_path: Path, conversion: str) -> None:
    """Chunks queued for the encoder thread give the same decoded video and audio as encoding in the caller, with
    either colour conversion."""
    chunks = [smooth_frames(5, 48, 64) * s for s in (1.0, 0.9, 0.7, 0.5)]
    decoded = {}
    for queued in (0, 1, video_module.DEFAULT_QUEUE_CHUNKS):
        path = tmp_path / f"queue{queued}.mp4"
        with VideoWriter(
            path,
            audio=tone(0.9),
            sample_rate=SAMPLE_RATE,
            queue_chunks=queued,
            conversion=conversion,  # type: ignore[arg-type]
        ) as video:
            for chunk in chunks:
                video.write(chunk)
            assert video.frames_written == 5 * len(chunks)
        decoded[queued] = read_video(path, SAMPLE_RATE)
    frames, fps, audio = decoded[0]
    assert frames.shape == (20, 48, 64, 3)
    for other_frames, other_fps, other_audio in decoded.values():
        assert np.array_equal(other_frames, frames)
        assert other_fps == fps
        assert other_audio is not None
        assert audio is not None
        assert np.array_equal(other_audio, audio)
    with pytest.raises(ConfigError, match="queue_chunks"):
        VideoWriter(tmp_path / "x.mp4", queue_chunks=-1)


@pytest.mark.parametrize("conversion", ["swscale", "torch"])
def test_an_encoder_failure_reaches_the_caller_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conversion: str
) -> None:
    def failing(self: VideoWriter, frames: np.ndarray, pixel_format: str) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(VideoWriter, "_encode_frames", failing)
    writer = VideoWriter(tmp_path / "x.mp4", conversion=conversion)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="no space left"), writer as video:  # noqa: PT012
        for _ in range(6):  # fills the bounded queue: the error surfaces in write() or when the block ends
            video.write(smooth_frames(2))
    assert leftovers(tmp_path) == []


class _Context:
    """A stand-in codec context whose ``open`` succeeds or fails as an NVENC without a usable GPU does."""

    def __init__(self, works: bool) -> None:
        self.works = works

    def open(self) -> None:
        if not self.works:
            raise av.FFmpegError(1, "Operation not permitted")


@pytest.fixture
def no_cached_probe() -> Iterator[None]:
    video_module.nvenc_available.cache_clear()
    yield
    video_module.nvenc_available.cache_clear()


@pytest.mark.usefixtures("no_cached_probe")
def test_the_encoder_is_nvenc_only_where_it_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert video_module.select_codec() == "libx264"
    with pytest.raises(ConfigError, match=r"needs an NVIDIA GPU.*codec=.auto."):
        video_module.select_codec("h264_nvenc")
    with pytest.raises(ConfigError, match="codec must be one of"):
        video_module.select_codec("vp9")  # type: ignore[arg-type]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for works, expected in ((False, "libx264"), (True, "h264_nvenc")):
        video_module.nvenc_available.cache_clear()
        monkeypatch.setattr(av.CodecContext, "create", lambda name, mode, works=works: _Context(works))
        assert video_module.select_codec() == expected
    assert video_module.select_codec("libx264") == "libx264"
