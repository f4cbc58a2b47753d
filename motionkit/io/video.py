"""Video files: an H.264 + AAC writer that encodes frames as they arrive, and a reader for tests and evaluation.

The writer encodes with PyAV (H.264 in yuv420p: libx264 at constant rate factor ``crf``, or NVIDIA's NVENC where a
GPU and PyAV's FFmpeg have it, see :func:`select_codec`) and muxes the audio track (AAC) into the same MP4,
interleaved with the video. Encoding runs on a background thread fed by a bounded queue, so the caller renders the
next chunk while the previous one is encoded (libx264 and NVENC release the GIL while they work). Frames on a GPU
are converted to yuv420p there (:mod:`motionkit.io.yuv`, half the bytes of RGB) and copied to pinned host buffers
on a side stream (:mod:`motionkit.io.transfer`), so the copy overlaps rendering too; elsewhere libswscale converts
RGB inside the encoder (``conversion``). It writes to a
temporary file beside the target and renames it when the ``with`` block ends without error, so a failed render
never leaves a partial video behind. With ``segments > 1`` libx264 encodes runs of frames in parallel worker
processes whose packets are joined without re-encoding (:mod:`motionkit.io.segments`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import queue
import shutil
import tempfile
import threading
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, get_args

import av
import numpy as np
import torch

from motionkit.errors import AudioError, ConfigError, ImageError, OutputError, ShapeError
from motionkit.io.files import atomic_path
from motionkit.io.image import frames_to_uint8, tensor_to_image
from motionkit.io.segments import EncoderSettings, SegmentEncoder, join_segments
from motionkit.io.transfer import HostCopies, PendingCopy, copy_slots, host_copies
from motionkit.io.yuv import MIN_MATCHED_HEIGHT, rgb_to_yuv420

VIDEO_CODEC = "libx264"
"""The CPU H.264 encoder, present in every PyAV build: the fallback."""
NVENC_CODEC = "h264_nvenc"
"""NVIDIA's hardware H.264 encoder: used when a CUDA GPU is present and PyAV's FFmpeg can open it."""
VideoCodec = Literal["auto", "libx264", "h264_nvenc"]
"""Encoder choice: ``"auto"`` picks NVENC where it works (:func:`select_codec`), libx264 otherwise."""
VIDEO_CODECS: tuple[str, ...] = get_args(VideoCodec)
NVENC_PRESET = "p4"
"""NVENC's speed/quality preset (p1 fastest .. p7 best; p4 is FFmpeg's default "medium")."""
DEFAULT_QUEUE_CHUNKS = 2
"""Chunks a writer holds while its encoder thread is busy: one being encoded, one waiting; the caller renders the
next meanwhile. Bounds the memory of the overlap to two chunks of uint8 frames."""
PROBE_SIZE = 64
"""Side in pixels of the tiny encoder opened to check that NVENC works (driver, device, session limits)."""
PIXEL_FORMAT = "yuv420p"
RGB_FORMAT = "rgb24"
ColourConversion = Literal["auto", "torch", "swscale"]
"""Where float frames become yuv420p: ``"torch"`` on the frames' device before they are queued
(:func:`motionkit.io.yuv.rgb_to_yuv420`), ``"swscale"`` from uint8 RGB by libswscale in the encoder thread,
``"auto"`` torch for CUDA tensors and libswscale otherwise (on a CPU, torch's conversion costs more CPU time than
libswscale's: docs/pipeline.md)."""
COLOUR_CONVERSIONS: tuple[str, ...] = get_args(ColourConversion)
AUDIO_CODEC = "aac"
AUDIO_FRAME_SAMPLES = 1024
"""Samples per AAC frame."""
MAX_CRF = 51
"""x264's constant-rate-factor range is 0 (lossless) .. 51 (worst)."""
DEFAULT_CRF = 18
"""Visually near-lossless for talking heads; FLOAT's ffmpeg call uses x264's default 23."""
X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
"""x264's speed presets, fastest first."""
X264_PRESETS: tuple[str, ...] = get_args(X264Preset)
"""x264's speed presets, fastest first: a faster one encodes several times faster into a larger file at the same
crf (512 px frames of a random-weight model on a 2-core CPU: veryfast 271 frames/s, medium 100)."""
DEFAULT_PRESET: X264Preset = "veryfast"
"""At the default crf 18, ``veryfast`` encodes talking-head frames with less than half the CPU time of what FLOAT
writes (x264's defaults: crf 23, preset ``medium``) at a higher PSNR, in a file ~1.7x as large; ``medium`` at crf
18 costs 1.2x FLOAT's time (``benchmarks/encoding.py``, figures in docs/pipeline.md)."""
DEFAULT_SEGMENT_FRAMES = 250
"""Frames per run of a segmented encode: x264's default keyframe interval (``keyint``), so the runs add no more
keyframes than a single encoder places in a static talking head."""
FPS_DENOMINATOR_LIMIT = 1001
"""Frame rates are stored as fractions with denominators up to 1001 (NTSC rates such as 30000/1001)."""


def _frames_to_uint8(frames: np.ndarray | torch.Tensor) -> np.ndarray:
    """``(n, 3, H, W)`` float in [-1, 1] (FLOAT's mapping) or ``(n, H, W, 3)`` uint8 -> ``(n, H, W, 3)`` uint8."""
    if isinstance(frames, torch.Tensor) and frames.is_floating_point():
        if frames.ndim != 4 or frames.shape[1] != 3:
            raise ShapeError(
                f"float frames must have shape (n, 3, H, W) in [-1, 1], got {tuple(frames.shape)}; for a rendered "
                f"chunk (B, n, 3, H, W) write chunk[b]."
            )
        return tensor_to_image(frames)
    array = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else frames
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 4 or array.shape[3] != 3:
        described = f"{array.dtype} array of shape {array.shape}" if isinstance(array, np.ndarray) else type(frames)
        raise ShapeError(
            f"frames must be a float tensor (n, 3, H, W) in [-1, 1] or uint8 (n, H, W, 3), got {described}."
        )
    return array


def _pad_to_even(pixels: torch.Tensor) -> torch.Tensor:
    """``(n, 3, H, W)`` -> even ``H`` and ``W`` by repeating the last row / column (what ``np.pad(mode="edge")`` does
    to RGB arrays; concatenation works for every dtype on every device, unlike replication padding of uint8)."""
    if pixels.shape[-2] % 2:
        pixels = torch.cat([pixels, pixels[..., -1:, :]], dim=-2)
    if pixels.shape[-1] % 2:
        pixels = torch.cat([pixels, pixels[..., -1:]], dim=-1)
    return pixels


def _discard(item: np.ndarray | PendingCopy) -> None:
    """Drop a chunk that will not be encoded (after an encoder error); a copy's buffer goes back all the same."""
    if not isinstance(item, np.ndarray):
        item.release()


@functools.cache
def nvenc_available() -> bool:
    """Whether NVENC can encode here: a CUDA GPU is present, PyAV's FFmpeg has ``h264_nvenc``, and a small encoder
    of it opens (which needs the NVIDIA driver's encoding library and a free encoder session). Checked once per
    process."""
    if not torch.cuda.is_available():
        return False
    try:
        context: Any = av.CodecContext.create(NVENC_CODEC, "w")  # a video context; its type is not narrowed
        context.width = context.height = PROBE_SIZE
        context.pix_fmt = PIXEL_FORMAT
        context.time_base = Fraction(1, 25)
        context.open()
    except (av.FFmpegError, ValueError, OSError):
        return False
    return True


def select_codec(codec: VideoCodec = "auto") -> str:
    """The H.264 encoder to use: ``"auto"`` is NVENC where :func:`nvenc_available`, else libx264; a named encoder
    is checked against :data:`VIDEO_CODECS` (asking for NVENC where it does not work is an error)."""
    if codec not in VIDEO_CODECS:
        raise ConfigError(f"codec must be one of {', '.join(VIDEO_CODECS)}, got {codec!r}.")
    if codec == "auto":
        return NVENC_CODEC if nvenc_available() else VIDEO_CODEC
    if codec == NVENC_CODEC and not nvenc_available():
        raise ConfigError(
            f"{NVENC_CODEC} needs an NVIDIA GPU, its driver and a PyAV whose FFmpeg has NVENC; none works here. "
            f"Use codec='auto' or '{VIDEO_CODEC}'."
        )
    return codec


def _check_audio(audio: np.ndarray | torch.Tensor | None, sample_rate: int) -> np.ndarray | None:
    if audio is None:
        return None
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    if not isinstance(audio, np.ndarray) or audio.ndim != 1:
        shape = audio.shape if isinstance(audio, np.ndarray) else type(audio).__name__
        raise AudioError(f"audio must be a mono waveform of shape (samples,), got {shape}; mix channels first.")
    if not np.issubdtype(audio.dtype, np.floating):
        raise AudioError(f"audio must be float samples in [-1, 1], got dtype {audio.dtype}.")
    if not np.isfinite(audio).all():
        raise AudioError("audio contains NaN or infinite samples.")
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise AudioError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}.")
    return np.ascontiguousarray(audio, dtype=np.float32)


class VideoWriter:
    """Write an MP4 (H.264 video, optional AAC audio) frame chunk by frame chunk.

    Use as a context manager; the file appears at ``path`` only when the block exits without an exception::

        with VideoWriter("out.mp4", fps=25.0, audio=waveform, sample_rate=16000) as video:
            for chunk in renderer.render(source, track):
                video.write(chunk[0])

    Args:
        path: output file (``.mp4``).
        fps: frame rate.
        crf: x264 constant rate factor, 0 (lossless luma) .. 51; FLOAT uses x264's default 23.
        preset: x264 speed preset (``X264_PRESETS``): faster ones trade file size for encoding speed, which bounds
            end-to-end generation on a GPU. NVENC uses :data:`NVENC_PRESET` and ``crf`` as its constant quality.
        audio: mono float waveform at ``sample_rate`` muxed as AAC (kept whole, even if longer than the video).
        sample_rate: audio sample rate in Hz.
        overwrite: replace an existing file (otherwise an existing ``path`` is an error).
        codec: H.264 encoder (:func:`select_codec`; ``"auto"``: NVENC where a GPU has it, else libx264).
        queue_chunks: chunks waiting for the encoder thread before :meth:`write` blocks; ``0`` encodes in the
            calling thread.
        segments: libx264 worker processes (default 1: one encoder in this process). Above 1, runs of
            ``segment_frames`` frames, each starting with a keyframe, are encoded in parallel processes and their
            packets joined without re-encoding; ``codec="auto"`` then means libx264 and NVENC is an error. Gains
            need idle cores (docs/pipeline.md); on 2 cores it is slower.
        segment_frames: frames per run of a segmented encode (the last run takes what is left).
        conversion: where float frames become yuv420p (:data:`ColourConversion`): ``"auto"`` converts CUDA
            tensors with torch on their GPU (the planes then reach the encoder thread through pinned buffers,
            :mod:`motionkit.io.transfer`) and leaves the rest to libswscale in the encoder thread; the two agree
            within 1 level of chroma, with identical luma (:mod:`motionkit.io.yuv`). uint8 frames, segmented
            encodes and frames under :data:`~motionkit.io.yuv.MIN_MATCHED_HEIGHT` rows always use libswscale.

    Frames are ``(n, 3, H, W)`` float tensors in ``[-1, 1]`` (clamped, ``(x + 1) / 2 * 255`` truncated to uint8
    on the tensor's device, as FLOAT saves them) or ``(n, H, W, 3)`` uint8 arrays. H.264 in yuv420p needs even
    sizes: an odd width or height is padded by repeating the last column / row. :meth:`write` checks and converts
    the frames (to yuv420p as well where ``conversion`` says so), then hands them to the encoder thread; an
    encoder failure is raised by the next :meth:`write` or when the block ends.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float = 25.0,
        crf: int = DEFAULT_CRF,
        audio: np.ndarray | torch.Tensor | None = None,
        sample_rate: int = 16000,
        overwrite: bool = False,
        preset: X264Preset = DEFAULT_PRESET,
        codec: VideoCodec = "auto",
        queue_chunks: int = DEFAULT_QUEUE_CHUNKS,
        segments: int = 1,
        segment_frames: int = DEFAULT_SEGMENT_FRAMES,
        conversion: ColourConversion = "auto",
    ) -> None:
        if not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
            raise ConfigError(f"fps must be a positive number, got {fps!r}.")
        if not isinstance(crf, int) or not 0 <= crf <= MAX_CRF:
            raise ConfigError(f"crf must be an integer in [0, {MAX_CRF}] (lower is better quality), got {crf!r}.")
        if preset not in X264_PRESETS:
            raise ConfigError(f"preset must be one of {', '.join(X264_PRESETS)} (fastest first), got {preset!r}.")
        if not isinstance(queue_chunks, int) or queue_chunks < 0:
            raise ConfigError(f"queue_chunks must be a whole number >= 0 (0: no encoder thread), got {queue_chunks!r}.")
        if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
            raise ConfigError(
                f"segments must be a whole number >= 1 (encoder processes; 1: one encoder), got {segments!r}."
            )
        if isinstance(segment_frames, bool) or not isinstance(segment_frames, int) or segment_frames < 1:
            raise ConfigError(f"segment_frames must be a whole number >= 1, got {segment_frames!r}.")
        if conversion not in COLOUR_CONVERSIONS:
            raise ConfigError(f"conversion must be one of {', '.join(COLOUR_CONVERSIONS)}, got {conversion!r}.")
        if segments > 1 and conversion == "torch":
            raise ConfigError(
                f"segments={segments} sends RGB frames to encoder processes, which convert them with libswscale; use "
                f"conversion='auto' or 'swscale' with segments, or segments=1."
            )
        if segments > 1 and codec == NVENC_CODEC:
            raise ConfigError(
                f"segments={segments} splits the work of {VIDEO_CODEC} over processes; {NVENC_CODEC} is one hardware "
                f"encoder. Use segments=1 with {NVENC_CODEC}, or codec='{VIDEO_CODEC}'."
            )
        self.codec = VIDEO_CODEC if segments > 1 else select_codec(codec)
        self.segments = segments
        self.segment_frames = segment_frames
        self.queue_chunks = queue_chunks
        self.conversion = conversion
        self.path = Path(path)
        self.fps = float(fps)
        self.crf = crf
        self.preset = preset
        self.sample_rate = sample_rate
        self.overwrite = overwrite
        self._audio = _check_audio(audio, sample_rate)
        self._rate = Fraction(self.fps).limit_denominator(FPS_DENOMINATOR_LIMIT)
        self._atomic: Any = None
        self._container: Any = None
        self._video: Any = None
        self._audio_stream: Any = None
        self._size: tuple[int, int] | None = None
        self._frames_written = 0
        self._frames_encoded = 0
        self._samples_written = 0
        self._queue: queue.Queue[np.ndarray | PendingCopy | None] | None = None
        self._copies: HostCopies | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._segmenter: SegmentEncoder | None = None
        self._segment_folder: Path | None = None
        self._encoder_cpu_seconds = 0.0

    @property
    def encoder_cpu_seconds(self) -> float:
        """CPU seconds of the encoder processes of a segmented encode, known once the file is written (0 with one
        encoder, whose time is this process's)."""
        return self._encoder_cpu_seconds

    @property
    def frames_written(self) -> int:
        """Frames accepted by :meth:`write` (encoded, or queued for the encoder thread)."""
        return self._frames_written

    def __enter__(self) -> VideoWriter:
        self._atomic = atomic_path(self.path, overwrite=self.overwrite)
        tmp = self._atomic.__enter__()
        try:
            self._container = av.open(str(tmp), mode="w")
        except (av.FFmpegError, ValueError) as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise OutputError(f"cannot write a video to {self.path} ({exc}); use an .mp4 path.") from exc
        return self

    def write(self, frames: np.ndarray | torch.Tensor) -> None:
        """Encode ``frames`` (see the class docstring) and the audio up to the end of the last frame."""
        if self._container is None:
            raise OutputError("VideoWriter.write called outside its `with` block; use `with VideoWriter(...) as v:`.")
        pixels: np.ndarray | torch.Tensor
        if isinstance(frames, torch.Tensor) and self._converts_in_torch(frames):
            pixels = frames_to_uint8(frames)
            height, width = pixels.shape[2:4]
        else:
            pixels = _frames_to_uint8(frames)
            height, width = pixels.shape[1:3]
        count = len(pixels)
        if count == 0:
            return
        if self._size is None:
            self._open_video(width, height)
        elif self._size != (width, height):
            raise ShapeError(
                f"frames of size {width}x{height} do not match the video's {self._size[0]}x{self._size[1]}; every "
                f"frame of a video must have the same size."
            )
        self._raise_encoder_error()
        item: np.ndarray | PendingCopy
        if isinstance(pixels, torch.Tensor):
            planes = rgb_to_yuv420(_pad_to_even(pixels))
            if self._copies is None:
                self._copies = host_copies(planes.device, copy_slots(self.queue_chunks))
            item = self._copies.start(planes, self._raise_encoder_error)
        else:
            item = np.pad(pixels, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        self._frames_written += count
        if self._segmenter is not None:
            assert isinstance(item, np.ndarray)  # segmented encodes take RGB (_converts_in_torch)
            self._segmenter.write(item)
            return
        if self._queue is None:
            self._encode(item)
            return
        while True:  # a bounded wait, so that an encoder thread that died cannot leave the caller blocked
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                if self._error is not None:
                    _discard(item)  # never queued: its buffer goes back before the error is raised
                self._raise_encoder_error()

    def _converts_in_torch(self, frames: torch.Tensor) -> bool:
        """Whether ``frames`` go to yuv420p with torch (:data:`ColourConversion`): float ``(n, 3, H, W)`` tensors
        with ``conversion="torch"``, or on a CUDA device with ``"auto"``, of at least :data:`MIN_MATCHED_HEIGHT`
        rows once padded, in a writer with one encoder."""
        if not frames.is_floating_point() or self.segments > 1:
            return False
        if frames.ndim != 4 or frames.shape[1] != 3 or frames.shape[2] + frames.shape[2] % 2 < MIN_MATCHED_HEIGHT:
            return False  # the RGB path reports a wrong shape; libswscale filters small frames its own way
        return self.conversion == "torch" or (self.conversion == "auto" and frames.device.type == "cuda")

    def _encode(self, item: np.ndarray | PendingCopy) -> None:
        """Encode and mux a chunk, ``(n, H, W, 3)`` uint8 RGB or a copy of ``(n, 3H/2, W)`` yuv420p planes, and
        the audio up to its end; a copy's buffer is given back even when encoding fails."""
        if isinstance(item, np.ndarray):
            self._encode_frames(item, RGB_FORMAT)
            return
        try:
            self._encode_frames(item.wait(), PIXEL_FORMAT)
        finally:
            item.release()

    def _encode_frames(self, frames: np.ndarray, pixel_format: str) -> None:
        """Encode and mux frames of ``pixel_format`` (one array per frame, as ``av.VideoFrame.from_ndarray`` takes
        them) and the audio up to their end."""
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=pixel_format)
            video_frame.pts = self._frames_encoded
            self._container.mux(self._video.encode(video_frame))
            self._frames_encoded += 1
        self._write_audio(until=round(self._frames_encoded / self._rate * self.sample_rate))

    def _encoder_loop(self) -> None:
        """The encoder thread: encode queued chunks until the ``None`` sentinel; keep the first error for the
        caller (and drain the queue so that the caller never blocks on it)."""
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._encode(item)
                except BaseException as error:
                    self._error = error
            else:
                _discard(item)

    def _raise_encoder_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _stop_encoder(self) -> None:
        """Let the encoder thread finish the queued chunks and end."""
        if self._thread is None or self._queue is None:
            return
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._thread = None

    def _open_video(self, width: int, height: int) -> None:
        self._size = (width, height)
        if self.codec == NVENC_CODEC:
            options = {"preset": NVENC_PRESET, "rc": "vbr", "cq": str(self.crf)}
        else:
            options = {"crf": str(self.crf), "preset": self.preset}
        settings = EncoderSettings(
            self.codec, self._rate, options, PIXEL_FORMAT, width + width % 2, height + height % 2
        )
        if self.segments > 1:  # the streams are added when the runs are joined, from the first run's stream
            self._segment_folder = Path(tempfile.mkdtemp(prefix="motionkit-segments-"))
            self._segmenter = SegmentEncoder(self._segment_folder, settings, self.segments, self.segment_frames)
            return
        stream = self._container.add_stream(self.codec, rate=self._rate)
        stream.width, stream.height = settings.width, settings.height
        stream.pix_fmt = PIXEL_FORMAT
        stream.time_base = 1 / self._rate
        stream.options = options
        self._video = stream
        self._add_audio_stream()
        if self.queue_chunks > 0:
            self._queue = queue.Queue(maxsize=self.queue_chunks)
            self._thread = threading.Thread(target=self._encoder_loop, name="motionkit-video-encoder", daemon=True)
            self._thread.start()

    def _add_audio_stream(self) -> None:
        """Add the AAC stream, after the video so that the video is stream 0."""
        if self._audio is not None:
            audio = self._container.add_stream(AUDIO_CODEC, rate=self.sample_rate)
            audio.layout = "mono"
            self._audio_stream = audio

    def _add_joined_stream(self, template: Any) -> Any:
        """The video stream of a segmented encode, from its first run's stream; then the audio stream."""
        self._video = self._container.add_stream_from_template(template)
        self._add_audio_stream()
        return self._video

    def _mux_joined(self, packet: Any, frames_before: int) -> None:
        """Mux a joined video packet after the audio up to the start of its run."""
        self._write_audio(until=round(frames_before / self._rate * self.sample_rate))
        self._container.mux(packet)

    def _join(self) -> None:
        """Wait for the segment workers and copy their packets into the container."""
        assert self._segmenter is not None
        paths = self._segmenter.finish()
        self._frames_encoded = join_segments(paths, self._rate, self._add_joined_stream, self._mux_joined)
        self._encoder_cpu_seconds = self._segmenter.cpu_seconds

    def _close_segments(self, abort: bool) -> None:
        """Stop the segment workers (at once when the video is ``abort``-ed) and delete their files."""
        if self._segmenter is not None:
            self._segmenter.close(abort)
            self._segmenter = None
        if self._segment_folder is not None:
            shutil.rmtree(self._segment_folder, ignore_errors=True)
            self._segment_folder = None

    def _write_audio(self, until: int | None = None) -> None:
        """Encode audio samples up to ``until`` (all of them when ``None``), in whole AAC frames except the last."""
        if self._audio is None or self._audio_stream is None:
            return
        end = len(self._audio) if until is None else min(until, len(self._audio))
        while self._samples_written < end:
            stop = min(self._samples_written + AUDIO_FRAME_SAMPLES, len(self._audio))
            if until is not None and stop > end and stop < len(self._audio):
                break  # wait for the next video chunk rather than emit a short frame mid-stream
            chunk = self._audio[self._samples_written : stop]
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
            frame.sample_rate = self.sample_rate
            frame.pts = self._samples_written
            frame.time_base = Fraction(1, self.sample_rate)
            self._container.mux(self._audio_stream.encode(frame))
            self._samples_written = stop

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        container = self._container
        if exc is not None and self._error is None:
            self._error = exc  # the video is abandoned: the encoder thread skips what is still queued
        try:
            self._stop_encoder()
            if exc_type is None:
                self._raise_encoder_error()
                if self._segmenter is not None:
                    self._join()
                if self._video is None:
                    raise OutputError(f"no frames were written to {self.path}; nothing was saved.")
                self._write_audio()  # the audio beyond the last frame (muxed through self._container)
                if self._audio_stream is not None:
                    container.mux(self._audio_stream.encode(None))
                if self._segmenter is None:
                    container.mux(self._video.encode(None))
            self._container = None
            container.close()
        except BaseException as error:
            self._close_segments(abort=True)
            self._container = None
            with contextlib.suppress(av.FFmpegError, OSError, ValueError):  # report the original error
                container.close()
            self._atomic.__exit__(type(error), error, error.__traceback__)
            if isinstance(error, av.FFmpegError):
                raise OutputError(f"writing {self.path} failed ({error}).") from error
            raise
        self._close_segments(abort=exc is not None)
        self._atomic.__exit__(exc_type, exc, traceback)


def read_video(path: str | Path, sample_rate: int = 16000) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Decode a video file.

    Returns:
        ``(frames, fps, audio)``: frames ``(T, H, W, 3)`` uint8 RGB, the frame rate, and the first audio track
        mixed to mono float32 at ``sample_rate`` (``None`` when the file has no audio).
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"video file {path} does not exist.")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, ValueError) as exc:
        raise ImageError(f"{path} is not a readable video ({exc}).") from exc
    with container:
        if not container.streams.video:
            raise ImageError(f"{path} has no video stream.")
        video = container.streams.video[0]
        streams = [video, *container.streams.audio[:1]]
        audio_samples = None
        if len(streams) > 1 and streams[1].duration is not None and streams[1].time_base is not None:
            # decoders emit whole codec frames; the stream duration says where the signal ends
            audio_samples = round(streams[1].duration * streams[1].time_base * sample_rate)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        frames: list[np.ndarray] = []
        samples: list[np.ndarray] = []
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    frames.append(frame.to_ndarray(format="rgb24"))
                elif isinstance(frame, av.AudioFrame):
                    samples.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(frame))
        if len(streams) > 1:
            samples.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(None))
        rate = video.average_rate or video.base_rate
        fps = float(rate) if rate else 0.0
    if not frames:
        raise ImageError(f"{path} has no decodable video frames.")
    audio = np.concatenate(samples).astype(np.float32)[:audio_samples] if len(streams) > 1 and samples else None
    return np.stack(frames), fps, audio
