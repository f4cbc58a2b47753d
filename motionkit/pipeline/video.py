"""Video: a generated talking-head clip whose frames are rendered only when they are needed.

A :class:`Video` holds what is needed to make the frames — the encoded portrait (:class:`~motionkit.SourceFace`),
the motion track, the renderer — and the audio to mux. Nothing is decoded until :meth:`Video.save` or
:meth:`Video.frames` is called, and then frames are rendered in chunks of ``chunk_size`` and written (or yielded)
as they come: peak memory is set by the chunk, not by the length of the clip. A 10-minute track is 15,000 x 512
floats (30 MB); its frames at 512 px would be 47 GB.

With a :class:`~motionkit.pipeline.pasteback.PasteBack`, every rendered crop is put back into the photo it was cut
from, so saved frames have the photo's own size (see :mod:`motionkit.pipeline.pasteback`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, overload

import numpy as np
import torch

from motionkit.errors import ConfigError, ShapeError
from motionkit.io import VideoWriter, tensor_to_image
from motionkit.io.video import DEFAULT_CRF, DEFAULT_PRESET, VideoCodec, X264Preset
from motionkit.pipeline.pasteback import PasteBack
from motionkit.progress import ProgressCallback, no_progress
from motionkit.protocols import EncodedPortrait, PortraitRenderer
from motionkit.renderer import Precision
from motionkit.types import MotionTrack

DEFAULT_CHUNK_SIZE = 8
"""Frames rendered together before they are written (the renderer's default)."""

RENDER_STAGE = "rendering"


@dataclass(frozen=True, eq=False)
class Video:
    """A talking-head clip of one portrait, rendered lazily.

    Attributes:
        renderer: the renderer that decodes the frames.
        source: the encoded portrait (batch 1).
        track: the motion that is rendered, ``(1, T, D)`` latents at ``track.fps`` (after edits).
        audio: mono float32 waveform at ``sample_rate`` muxed into saved files, or ``None`` for a silent video.
        sample_rate: rate of ``audio`` in Hz.
        unedited: the motion before edits, when ``track`` is an edited version of it (see :attr:`sampled_track`).
        precision: decoder precision (``"float32"``, or autocast ``"bfloat16"`` / ``"float16"`` on GPUs).
        chunk_size: frames decoded before they are written; sets the peak memory of rendering.
        paste_back: puts each rendered crop back into the photo (``None``: frames are the renderer's own).

    ``len(video)`` is the number of frames; frame ``t`` is ``G(identity + track.latents[0, t], features)``.
    """

    renderer: PortraitRenderer
    source: EncodedPortrait
    track: MotionTrack
    audio: np.ndarray | None = None
    sample_rate: int = 16000
    unedited: MotionTrack | None = None
    precision: Precision = "float32"
    chunk_size: int = DEFAULT_CHUNK_SIZE
    paste_back: PasteBack | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.track, MotionTrack) or not isinstance(self.source, EncodedPortrait):
            raise ShapeError("a Video needs an encoded portrait (renderer.encode_portrait) and a MotionTrack.")
        if self.track.batch != 1 or self.source.batch != 1:
            raise ShapeError(
                f"a Video shows one portrait with one track; got a source of batch {self.source.batch} and a track "
                f"of batch {self.track.batch}. Render batches with Renderer.render."
            )
        if not isinstance(self.chunk_size, int) or self.chunk_size < 1:
            raise ConfigError(f"chunk_size must be a positive number of frames, got {self.chunk_size!r}.")

    @property
    def sampled_track(self) -> MotionTrack:
        """The motion before edits (``track`` itself when no edit was applied)."""
        return self.track if self.unedited is None else self.unedited

    @property
    def fps(self) -> float:
        return float(self.track.fps)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.track.duration

    @property
    def frame_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the frames in pixels (the photo's with paste-back)."""
        if self.paste_back is not None:
            return self.paste_back.shape
        return self.renderer.frame_shape(self.source)

    def __len__(self) -> int:
        return self.track.frames

    def with_track(self, track: MotionTrack) -> Video:
        """The same portrait, audio and settings with another motion track (e.g. an edited one); the sampled
        motion (:attr:`sampled_track`) stays this video's, so plots of the edit can show before and after."""
        return replace(self, track=track, unedited=self.sampled_track)

    def chunks(self) -> Iterator[torch.Tensor]:
        """Rendered chunks ``(n, 3, S, S)`` float32 on the renderer's device, not clamped, in time order (the
        renderer's own frames, before any paste-back)."""
        for chunk in self.renderer.render(self.source, self.track, self.chunk_size, precision=self.precision):
            yield chunk[0]

    def output_chunks(self) -> Iterator[torch.Tensor | np.ndarray]:
        """The chunks a saved file is made of: the renderer's float frames (:meth:`chunks`), or, with a paste-back,
        those frames put back into the photo as ``(n, H, W, 3)`` uint8 RGB."""
        for chunk in self.chunks():
            yield chunk if self.paste_back is None else self.paste_back(chunk)

    def pixel_chunks(self) -> Iterator[np.ndarray]:
        """What a saved file holds, chunk by chunk: ``(n, H, W, 3)`` uint8 RGB (pasted back when requested)."""
        for chunk in self.output_chunks():
            yield tensor_to_image(chunk) if isinstance(chunk, torch.Tensor) else chunk

    @overload
    def frames(self, raw: Literal[False] = False) -> Iterator[np.ndarray]: ...

    @overload
    def frames(self, raw: Literal[True]) -> Iterator[torch.Tensor]: ...

    def frames(self, raw: bool = False) -> Iterator[np.ndarray] | Iterator[torch.Tensor]:
        """Iterate over the frames, rendering them chunk by chunk.

        Args:
            raw: ``False`` yields what a saved file holds, ``(H, W, 3)`` uint8 RGB (clamped to ``[-1, 1]`` and
                mapped with ``(x + 1) / 2 * 255``, truncated, as FLOAT saves; pasted back into the photo when the
                video has a paste-back); ``True`` yields the decoder output ``(3, S, S)`` float32 on the CPU before
                clamping (what FLOAT's parity values are).
        """
        if raw:
            return (frame for chunk in self.chunks() for frame in chunk.cpu())
        return (frame for chunk in self.pixel_chunks() for frame in chunk)

    def save(
        self,
        path: str | Path,
        *,
        crf: int = DEFAULT_CRF,
        preset: X264Preset = DEFAULT_PRESET,
        codec: VideoCodec = "auto",
        encoder_segments: int = 1,
        overwrite: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Path:
        """Render and write an MP4 (H.264, yuv420p, with the audio as AAC), streaming frames into the encoder.

        The encoder works on a thread of its own (:class:`motionkit.io.VideoWriter`): chunk ``k + 1`` is rendered
        while chunk ``k`` is encoded.

        Args:
            path: output file (``.mp4``). It appears only when complete: a failure leaves nothing.
            crf: x264 constant rate factor, 0 (lossless luma) .. 51.
            preset: x264 speed preset (``motionkit.io.video.X264_PRESETS``, fastest first; default ``"veryfast"``,
                see ``motionkit.io.video.DEFAULT_PRESET``); ``"medium"`` adds 0.3-1.3 dB of PSNR at the same crf
                for 2.5x the encoding time.
            codec: H.264 encoder, ``"auto"`` (NVENC where a GPU and PyAV's FFmpeg have it, else libx264),
                ``"libx264"`` or ``"h264_nvenc"`` (see :func:`motionkit.io.video.select_codec`).
            encoder_segments: libx264 processes encoding runs of frames in parallel, joined without re-encoding
                (``VideoWriter(segments=...)``); 1 (the default) is one encoder thread. Worth it only with idle
                cores beyond what one x264 uses (docs/pipeline.md); the script that calls it needs the
                ``if __name__ == "__main__":`` guard (Python's ``forkserver`` and ``spawn`` start methods import it).
            overwrite: replace an existing file (otherwise an existing ``path`` raises ``OutputError`` before any
                frame is rendered).
            progress: ``progress("rendering", frames_done, frames_total)`` callback.
        """
        report = progress or no_progress
        total = len(self)
        with VideoWriter(
            path,
            fps=self.fps,
            crf=crf,
            preset=preset,
            codec=codec,
            segments=encoder_segments,
            audio=self.audio,
            sample_rate=self.sample_rate,
            overwrite=overwrite,
        ) as writer:
            report(RENDER_STAGE, 0, total)
            for chunk in self.output_chunks():  # a GPU converts its float frames to yuv420p (VideoWriter.conversion)
                writer.write(chunk)
                report(RENDER_STAGE, writer.frames_written, total)
        return Path(path)
