"""Motion read from video frames: the driving face followed frame by frame, its motion in the model's space, and
the edit program that transfers it to a portrait on chosen axes.

**Following the face.** Frames come one at a time (:class:`~motionkit.io.VideoReader` streams them); the face stack's
:class:`~motionkit.face.FaceTracker` follows the face (the detector runs on the first frame and again whenever the
landmarks lose the face or it jumps; the landmarks are One Euro smoothed), and each frame is cropped by the same
rule as a portrait (FLOAT's square around the landmark box, :func:`motionkit.face.crop_box`). With ``crop=False``
frames are used whole (videos that are already face crops, such as the synthetic world's); with ``box`` every frame
is cropped around that box. A frame where no face is found keeps the motion of the nearest frame that has one, and
is counted (:class:`FaceCounts`); more than ``max_missing`` of them is refused.

**Reading the motion.** A learned renderer reads a frame's motion with its encoder: the motion of the crop encoded
as a portrait, ``r_t = V fc(E(crop_t))`` (LIA's motion code). The photo family has no encoder: its motion is
measured by the face stack in real units (:func:`measured_parameters`: yaw, pitch, roll in degrees from the head
pose; mouth opening from the inner-lip gap; blink from the eye aspect ratio), so a real photo is driven by a real
video without any learned model.

**Transfer** (:func:`transfer_program`), with ``r_s`` the portrait's own motion and ``d_t`` the driving motion::

    relative:  r_t = r_s + (d_t - d_0)      (LIA's relative transfer: the portrait keeps its own pose and face)
    absolute:  r_t = d_t                    (the driving face's pose and expression as they are)

then on chosen axes only: the other axes stay at ``r_s``. Axis names are the model's (``motionkit info``) or the
groups ``pose`` (yaw, pitch, roll) and ``expression`` (everything but the pose).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import torch

from motionkit.errors import ConfigError, EditError, FaceNotFoundError, Fix
from motionkit.face import Box, Face, FaceStack, FaceTracker
from motionkit.face.crop import default_stack
from motionkit.face.measures import LEFT_EYE_EAR, RIGHT_EYE_EAR, eye_aspect_ratio
from motionkit.families.photo.renderer import MODEL_AXES, MOUTH_GAP_PER_OPENING, PhotoPortrait, PhotoRenderer
from motionkit.pipeline.pasteback import CropWindow, convex_hull, hull_points
from motionkit.progress import ProgressCallback, no_progress
from motionkit.protocols import ControlledMotionGenerator, EncodedPortrait, PortraitRenderer
from motionkit.space import EditProgram, MotionSpace
from motionkit.space.axes import ALL_AXES
from motionkit.space.edits import Freeze, Retarget
from motionkit.types import MotionTrack

TransferMode = Literal["relative", "absolute"]
TRANSFER_MODES: tuple[TransferMode, ...] = ("relative", "absolute")

POSE_AXES = ("yaw", "pitch", "roll")
"""The axes of the ``pose`` group."""

AXIS_GROUPS = ("pose", "expression")
"""Group names accepted where axes are chosen: ``pose`` is :data:`POSE_AXES`, ``expression`` every other axis."""

DEFAULT_MAX_MISSING = 0.25
"""The largest share of frames without a face that is accepted (their motion is held from the nearest face)."""

CLOSED_EYE_SHARE = 0.75
"""The face stack's 468-point mesh reads a shut eye as a narrowed one, about 0.7-0.85 of its open aspect ratio
(docs/geometric.md, ``motionkit.eval.geometric.CLOSED_SHARE``); blink 1 is read at this share of the open eye."""

READ_STAGE = "reading the driving video"

Reading = TypeVar("Reading")


@dataclass
class FaceCounts:
    """How many frames were read and in how many no face was found (their indices in ``missing_frames``)."""

    frames: int = 0
    missing_frames: list[int] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return len(self.missing_frames)

    @property
    def missing_share(self) -> float:
        return self.missing / self.frames if self.frames else 0.0

    def check(self, max_missing: float, what: str) -> None:
        """Refuse when more than ``max_missing`` of the frames have no face."""
        if self.frames and self.missing == self.frames:
            raise FaceNotFoundError(
                f"no face was found in any of the {self.frames} frames of {what}; give a video with a visible face."
            )
        if self.missing_share > max_missing:
            raise FaceNotFoundError(
                f"no face was found in {self.missing} of the {self.frames} frames of {what} ({self.missing_share:.0%}, "
                f"more than the {max_missing:.0%} allowed); give a video where the face stays visible, or allow more",
                fix=Fix(python="with max_missing.", cli="with --max-missing."),
            )


@dataclass(frozen=True)
class FramePlacement:
    """Where the face of one video frame is: its face box, the convex outline of its landmarks ``(K, 2)`` (the
    ellipse in the box when the face is not tracked) and the crop window the renderer's input was cut from."""

    box: Box
    outline: np.ndarray
    window: CropWindow


def landmark_box(face: Face, shape: tuple[int, int]) -> Box:
    """The landmark box of ``face`` in whole pixels inside an image of ``shape`` (as :func:`motionkit.face.face_box`
    boxes a portrait's face)."""
    x0, y0, x1, y1 = face.box
    height, width = shape
    x_lo, y_lo = min(max(int(np.floor(x0)), 0), width - 1), min(max(int(np.floor(y0)), 0), height - 1)
    x_hi, y_hi = max(min(int(np.ceil(x1)), width), x_lo + 1), max(min(int(np.ceil(y1)), height), y_lo + 1)
    return Box(x_lo, y_lo, x_hi, y_hi)


class FaceFollower:
    """Follows the face of a video frame by frame and says where to crop it (see the module docstring).

    Args:
        fps: the frames' rate (the smoothing's time step).
        crop: ``False``: frames are used whole; ``box``: every frame is cropped around it.
        stack: the face stack (default: a CPU one, built when first needed).
    """

    def __init__(
        self, fps: float, *, crop: bool = True, box: Box | Sequence[float] | None = None, stack: FaceStack | None = None
    ) -> None:
        self.crop = crop
        self.box = None if box is None else Box.coerce(box)
        self.fps = fps
        self._stack = stack
        self._tracker: FaceTracker | None = None

    @property
    def tracks(self) -> bool:
        """Whether faces are tracked (not a whole frame or a fixed box)."""
        return self.crop and self.box is None

    def tracker(self) -> FaceTracker:
        if self._tracker is None:
            if self._stack is None:
                self._stack = default_stack()
            self._tracker = FaceTracker(self._stack, self.fps)
        return self._tracker

    def face(self, frame: np.ndarray) -> Face | None:
        """The tracked face of the next frame (``None``: none found)."""
        return self.tracker().update(frame)

    def placement(self, frame: np.ndarray, face: Face | None) -> FramePlacement | None:
        """Where the face of ``frame`` is (``None`` when tracking found none)."""
        height, width = frame.shape[:2]
        shape = (height, width)
        if not self.crop:
            whole = Box(0, 0, width, height)
            return FramePlacement(whole, hull_points(None, whole), CropWindow.for_photo(shape, None, crop=False))
        if self.box is not None:
            return FramePlacement(self.box, hull_points(None, self.box), CropWindow.for_photo(shape, self.box))
        if face is None:
            return None
        box = landmark_box(face, shape)
        return FramePlacement(box, convex_hull(face.points[:, :2]), CropWindow.for_photo(shape, box))


def measured_parameters(face: Face) -> np.ndarray:
    """``(5,)`` yaw, pitch, roll (degrees), inner-lip gap over mouth width, and the mean eye aspect ratio of a face."""
    points = face.points
    eyes = (eye_aspect_ratio(points, RIGHT_EYE_EAR) + eye_aspect_ratio(points, LEFT_EYE_EAR)) / 2
    return np.array([face.pose.yaw, face.pose.pitch, face.pose.roll, face.measures.mouth_open, eyes])


def photo_motion(measured: np.ndarray, reference: np.ndarray, neutral: torch.Tensor) -> torch.Tensor:
    """``(T, 7)`` photo-family parameters (:data:`MODEL_AXES`) of driving measurements ``(T, 5)`` against the
    photo's own ``reference`` ``(5,)`` (:func:`measured_parameters`): each axis is the photo's neutral value plus
    the driving face's difference from the photo, in the model's units::

        yaw, pitch, roll:  neutral + (measured - reference)                         degrees
        mouth_open:        neutral + (gap - gap_ref) / MOUTH_GAP_PER_OPENING        (the renderer's mouth gain)
        blink:             neutral + clip((1 - ear / ear_ref) / (1 - CLOSED_EYE_SHARE), 0, 1)
        mouth_width, brows: neutral (not measured)
    """
    values = neutral[None].repeat(len(measured), 1).double()
    index = {name: i for i, name in enumerate(MODEL_AXES)}
    delta = torch.from_numpy(measured - reference[None])
    for k, name in enumerate(POSE_AXES):
        values[:, index[name]] += delta[:, k]
    values[:, index["mouth_open"]] += delta[:, 3] / MOUTH_GAP_PER_OPENING
    closing = 1.0 - torch.from_numpy(measured[:, 4] / max(float(reference[4]), 1e-9))
    values[:, index["blink"]] += (closing / (1.0 - CLOSED_EYE_SHARE)).clamp(0.0, 1.0)
    return values.float()


def read_driving_motion(
    renderer: PortraitRenderer,
    source: EncodedPortrait,
    frames: Iterable[np.ndarray],
    fps: float,
    *,
    follower: FaceFollower,
    counts: FaceCounts,
    placements: list[FramePlacement | None] | None = None,
    progress: ProgressCallback | None = None,
    total: int = 0,
) -> MotionTrack:
    """The driving motion ``d_t`` of every frame as a track ``(1, T, D)`` whose ``source`` is the portrait's motion.

    A learned renderer encodes each frame's crop; the photo family measures each frame (:func:`photo_motion`, with
    the portrait's own measurements as the reference, which makes ``d_t`` absolute). Frames without a face take the
    motion of the nearest frame with one and are counted in ``counts``; ``placements`` (when given) receives where
    each frame's face is, for pasting back into the frames.
    """
    report = progress or no_progress
    measuring = isinstance(source, PhotoPortrait)
    readings: list[torch.Tensor | np.ndarray | None] = []
    for frame in frames:
        face = follower.face(frame) if follower.tracks or measuring else None
        placement = follower.placement(frame, face)
        if placements is not None:
            placements.append(placement)
        if placement is None or (measuring and face is None):
            counts.missing_frames.append(counts.frames)
            readings.append(None)
        elif measuring:
            assert face is not None
            readings.append(measured_parameters(face))
        else:
            crop = follower.crop
            encoded = renderer.encode_portrait(frame, crop=crop, box=placement.box if crop else None)
            readings.append(encoded.motion[0].detach().float().cpu())
        counts.frames += 1
        report(READ_STAGE, counts.frames, max(total, counts.frames))
    if not readings:
        raise ConfigError("the driving video has no frames.")
    filled: list[torch.Tensor | np.ndarray] = _fill_missing(readings)
    if measuring:
        assert isinstance(source, PhotoPortrait)
        latents = photo_motion(np.stack(filled), measured_parameters(source.face), source.neutral[0].cpu())
    else:
        latents = torch.stack([torch.as_tensor(r) for r in filled])
    latents = latents.to(source.motion.device, torch.float32)
    return MotionTrack(latents[None], fps=fps, source=source.motion.detach().to(latents))


def read_driving_controls(
    generator: ControlledMotionGenerator,
    frames: Iterable[np.ndarray],
    *,
    follower: FaceFollower,
    counts: FaceCounts,
    progress: ProgressCallback | None = None,
    total: int = 0,
) -> dict[str, np.ndarray]:
    """The controls ``generator`` measures on the face of every frame (name -> ``(T, C)``), each frame measured
    whole (the controls' camera is relative to the frame). Frames without a face take the values of the nearest frame
    with one and are counted in ``counts``."""
    report = progress or no_progress
    readings: list[dict[str, np.ndarray] | None] = []
    for frame in frames:
        face = follower.face(frame)
        if face is None:
            counts.missing_frames.append(counts.frames)
        readings.append(None if face is None else generator.measure_controls(face, (frame.shape[0], frame.shape[1])))
        counts.frames += 1
        report(READ_STAGE, counts.frames, max(total, counts.frames))
    if not readings:
        raise ConfigError("the driving video has no frames.")
    filled: list[dict[str, np.ndarray]] = _fill_missing(readings)
    return {name: np.stack([reading[name] for reading in filled]) for name in filled[0]}


def within_range(track: MotionTrack, renderer: PortraitRenderer) -> MotionTrack:
    """``track`` clamped to each axis's range when the renderer draws parameters with ranges (the photo family,
    whose motion model clamps what it generates the same way); other tracks as they are."""
    if not isinstance(renderer, PhotoRenderer):
        return track
    axes = renderer.config.axes
    low = torch.tensor([a.minimum for a in axes]).to(track.latents)
    high = torch.tensor([a.maximum for a in axes]).to(track.latents)
    return MotionTrack(torch.maximum(torch.minimum(track.latents, high), low), fps=track.fps, source=track.source)


def _fill_missing(readings: Sequence[Reading | None]) -> list[Reading]:
    """Each missing reading replaced by the nearest present one (earlier on ties)."""
    present = [i for i, r in enumerate(readings) if r is not None]
    if not present:
        raise FaceNotFoundError("no face was found in any frame of the video; give a video with a visible face.")
    positions = np.asarray(present)
    filled = []
    for i, reading in enumerate(readings):
        if reading is None:
            nearest = int(positions[np.argmin(np.abs(positions - i))])
            reading = readings[nearest]
        assert reading is not None
        filled.append(reading)
    return filled


def resolve_axes(space: MotionSpace, axes: str | Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
    """The named axes chosen by ``axes`` (names and groups, or ``"pose,mouth"``) and whether the ``expression``
    group was among them; ``None`` or ``"all"``: every direction, returned as ``((), True)`` with no pose kept out."""
    if axes is None or axes == ALL_AXES:
        return (), True
    names = [a.strip() for a in axes.split(",")] if isinstance(axes, str) else [str(a).strip() for a in axes]
    chosen: list[str] = []
    expression = False
    for name in names:
        if name == "expression":
            expression = True
        elif name == "pose":
            chosen.extend(a for a in POSE_AXES if a in space.axes)
        elif name in space.axes:
            chosen.append(name)
        else:
            known = ", ".join([*space.axes, *AXIS_GROUPS])
            raise EditError(f"unknown axis {name!r}; this model's axes are: {known} (or 'all').")
    return tuple(dict.fromkeys(chosen)), expression


def transfer_program(
    space: MotionSpace, mode: TransferMode = "relative", axes: str | Sequence[str] | None = None
) -> EditProgram:
    """The edit program that turns a driving track (its ``source``: the portrait's motion) into the portrait's track
    (see the module docstring)."""
    if mode not in TRANSFER_MODES:
        raise ConfigError(f"the transfer mode must be one of {', '.join(TRANSFER_MODES)}, got {mode!r}.")
    chosen, expression = resolve_axes(space, axes)
    edits: list[Retarget | Freeze] = [Retarget(axes=ALL_AXES)] if mode == "relative" else []
    if expression:
        frozen = tuple(a for a in POSE_AXES if a in space.axes and a not in chosen)
        if axes not in (None, ALL_AXES) and frozen:
            edits.append(Freeze(axes=frozen, at="source"))
    else:
        edits.append(Freeze(axes=ALL_AXES, keep=chosen, at="source"))
    return EditProgram(edits=edits)


def extend_track(track: MotionTrack, frames: int, method: Literal["ping-pong", "loop", "freeze"]) -> MotionTrack:
    """``track`` cut or extended to ``frames`` frames: ``ping-pong`` plays it forwards and backwards, ``loop``
    starts it again, ``freeze`` holds its last frame."""
    return MotionTrack(
        track.latents[:, extended_indices(track.frames, frames, method)], fps=track.fps, source=track.source
    )


def extended_indices(length: int, frames: int, method: Literal["ping-pong", "loop", "freeze"]) -> np.ndarray:
    """Which of ``length`` frames shows at each of ``frames`` output frames (see :func:`extend_track`)."""
    k = np.arange(frames)
    if method == "loop" or length == 1:
        return k % length
    if method == "freeze":
        return np.minimum(k, length - 1)
    if method == "ping-pong":
        period = 2 * (length - 1)
        phase = k % period
        return np.where(phase < length, phase, period - phase)
    raise ConfigError(f"extension must be ping-pong, loop or freeze, got {method!r}.")
