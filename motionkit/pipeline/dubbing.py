"""Video dubbing: an existing video re-voiced, its mouth moved by new speech and everything else kept.

::

    video --VideoReader (model fps)--> frames --FaceFollower--> where each face is, its motion m_t (encoder)
    speech --conditioner, sampler (source: the identity frame's motion)--> s_t
    m'_t = m_{i(t)} with the mouth axes taken from s_t            (Mix over the model's mouth axes)
    out_t = paste_back(G(identity frame, m'_t), into frame i(t))  (frames without a face: frame i(t) as it is)

``i(t)`` maps the speech's frames to the video's: the video is cut when the speech is shorter and extended when it
is longer (``ping-pong``, the default, plays it forwards and backwards so the head never jumps; ``loop``; ``freeze``
holds the last frame). The audio is the new speech.

The photo family has no encoder: every original frame is drawn again by the geometric renderer with only its mouth
changed, ``mouth = s_t - own_t`` (the frame's own lip gap, measured by the face stack, is taken off, so the new
mouth replaces it rather than adding to it); pose, blinks and everything else are the frame's own.

Frames are decoded twice (reading the motion, then pasting back), one at a time; a backward ``ping-pong`` run is read
through a window of :data:`FRAME_WINDOW` decoded frames, re-decoding from the start when it leaves it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from motionkit.errors import EditError
from motionkit.families.photo.renderer import MODEL_AXES, MOUTH_GAP_PER_OPENING, PhotoRenderer
from motionkit.io import VideoReader, VideoWriter
from motionkit.io.image import tensor_to_image
from motionkit.io.video import DEFAULT_CRF, DEFAULT_PRESET, VideoCodec, X264Preset
from motionkit.pipeline.driving import FaceCounts, FramePlacement
from motionkit.pipeline.pasteback import PasteBack, face_mask
from motionkit.progress import ProgressCallback, no_progress
from motionkit.protocols import EncodedPortrait, PortraitRenderer
from motionkit.space import MotionSpace
from motionkit.types import MotionTrack, Precision

Extension = Literal["ping-pong", "loop", "freeze"]
EXTENSIONS: tuple[Extension, ...] = ("ping-pong", "loop", "freeze")

MOUTH_WORDS = ("mouth", "jaw", "lip")
"""An axis whose name contains one of these is a mouth axis: the axes dubbing takes from the speech."""

FRAME_WINDOW = 64
"""Decoded frames kept for reading a video out of order (a backward ping-pong run)."""

RENDER_STAGE = "dubbing"


def mouth_axes(space: MotionSpace) -> tuple[str, ...]:
    """The model's mouth axes (:data:`MOUTH_WORDS`); a model without one cannot dub."""
    names = tuple(name for name in space.axes if any(word in name for word in MOUTH_WORDS))
    if not names:
        raise EditError(
            f"this model has no mouth axis to dub with (its axes: {', '.join(space.axes) or 'none'}); name one with "
            "a calibration (motionkit calibrate) or use a model that has one."
        )
    return names


class FrameWindow:
    """Frames of a video by index, decoded in order and kept in a window of ``capacity`` frames."""

    def __init__(self, reader: VideoReader, capacity: int = FRAME_WINDOW) -> None:
        self.reader = reader
        self.capacity = capacity
        self._kept: OrderedDict[int, np.ndarray] = OrderedDict()
        self._stream: Iterator[np.ndarray] | None = None
        self._next = 0

    def __getitem__(self, index: int) -> np.ndarray:
        if index in self._kept:
            return self._kept[index]
        if self._stream is None or index < self._next:
            # out of the window behind: decode again from the start, keeping the frames before ``index`` too
            self._stream, self._next = self.reader.frames(), 0
            self._kept.clear()
        for frame in self._stream:
            self._kept[self._next] = frame
            self._next += 1
            if len(self._kept) > self.capacity:
                self._kept.popitem(last=False)
            if self._next > index:
                return frame
        raise IndexError(f"frame {index} is beyond the {self._next} frames of {self.reader.path}.")


@dataclass(frozen=True, eq=False)
class DubbedVideo:
    """A re-voiced video, rendered and pasted back frame chunk by frame chunk when saved or iterated.

    Attributes:
        renderer: the model's renderer.
        source: the identity frame, encoded (learned renderers; unused by the photo family).
        track: ``(1, T, D)`` the motion drawn, one frame per speech frame.
        indices: ``(T,)`` which original frame each output frame is drawn into.
        placements: where the face is in each original frame (``None``: no face, the frame is kept).
        reader: the original video.
        audio, sample_rate: the new speech.
        counts: frames read and frames without a face.
        mouth_change: photo family: ``(T,)`` the speech's mouth opening (:func:`spoken_opening`) drawn on each
            frame in place of its own (see the module docstring).
    """

    renderer: PortraitRenderer
    source: EncodedPortrait
    track: MotionTrack
    indices: np.ndarray
    placements: list[FramePlacement | None]
    reader: VideoReader
    audio: np.ndarray
    sample_rate: int
    counts: FaceCounts
    precision: Precision = "float32"
    chunk_size: int = 8
    mouth_change: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    @property
    def fps(self) -> float:
        return float(self.track.fps)

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.reader.shape

    def frames(self) -> Iterator[np.ndarray]:
        """``(H, W, 3)`` uint8 frames at the video's size, in order."""
        for chunk in self.chunks():
            yield from chunk

    def chunks(self) -> Iterator[np.ndarray]:
        """``(n, H, W, 3)`` uint8 chunks of :meth:`frames`."""
        originals = FrameWindow(self.reader)
        if self.mouth_change is not None:
            yield from self._photo_chunks(originals)
            return
        rendered = self.renderer.render(self.source, self.track, self.chunk_size, precision=self.precision)
        start = 0
        for chunk in rendered:
            frames = []
            for offset, crop in enumerate(chunk[0]):
                index = int(self.indices[start + offset])
                frames.append(self._pasted(originals[index], self.placements[index], crop))
            start += chunk.shape[1]
            yield np.stack(frames)

    def _pasted(self, frame: np.ndarray, placement: FramePlacement | None, crop: torch.Tensor) -> np.ndarray:
        if placement is None:
            return frame
        mask = face_mask(frame.shape[:2], placement.window, placement.outline)
        return PasteBack(frame, placement.window, mask)(crop[None])[0]

    def _photo_chunks(self, originals: FrameWindow) -> Iterator[np.ndarray]:
        assert isinstance(self.renderer, PhotoRenderer)
        assert self.mouth_change is not None
        mouth = MODEL_AXES.index("mouth_open")
        frames = []
        for t, index in enumerate(self.indices):
            frame = originals[int(index)]
            if self.placements[int(index)] is None:
                frames.append(frame)
            else:
                portrait = self.renderer.encode_portrait(frame)
                values = portrait.neutral.clone()
                # the frame's own lip gap is taken off so the speech's opening replaces it (never past closed lips)
                own = portrait.face.measures.mouth_open / MOUTH_GAP_PER_OPENING
                values[0, mouth] += float(self.mouth_change[t]) - own
                drawn = next(iter(self.renderer.render(portrait, MotionTrack(values[None], fps=self.fps), 1)))
                frames.append(tensor_to_image(drawn[0, 0]))
            if len(frames) == self.chunk_size:
                yield np.stack(frames)
                frames = []
        if frames:
            yield np.stack(frames)

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
        """Render, paste back and write an MP4 with the new speech (nothing is left behind on failure);
        ``codec`` and ``encoder_segments`` as in :meth:`motionkit.pipeline.Video.save`."""
        report = progress or no_progress
        total = len(self)
        with VideoWriter(
            path, fps=self.fps, crf=crf, preset=preset, audio=self.audio, sample_rate=self.sample_rate,
            codec=codec, overwrite=overwrite, segments=encoder_segments,
        ) as writer:  # fmt: skip
            report(RENDER_STAGE, 0, total)
            for chunk in self.chunks():
                writer.write(chunk)
                report(RENDER_STAGE, writer.frames_written, total)
        return Path(path)


def spoken_opening(speech: MotionTrack, neutral: torch.Tensor) -> np.ndarray:
    """``(T,)`` the speech's mouth opening above the neutral one, in the photo family's ``mouth_open`` units."""
    mouth = MODEL_AXES.index("mouth_open")
    opening = speech.latents[0, :, mouth].detach().cpu().double() - float(neutral[0, mouth])
    return opening.clamp(min=0.0).numpy()
