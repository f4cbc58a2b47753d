"""Data types passed between components: motion tracks, encoded source faces and conditions.

Conventions: tensors are batch-first and time-second — latents ``(B, T, D)``, coefficients ``(B, T, M)``,
conditions ``(B, T, C)``; images ``(B, 3, H, W)`` in ``[-1, 1]``; the frame rate is 25 fps unless stated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import torch

from motionkit.errors import CheckpointError, MotionkitError, ShapeError
from motionkit.validation import check_tensor

if TYPE_CHECKING:
    from motionkit.space import MotionSpace

MOTION_TRACK_FORMAT = "motionkit.MotionTrack"
MOTION_TRACK_FORMAT_VERSION = 1

EmotionLabel = Literal["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
"""The seven emotion classes in FLOAT's order (index -> label)."""

EMOTION_LABELS: tuple[str, ...] = get_args(EmotionLabel)
"""The labels of :data:`EmotionLabel`, in order."""

Precision = Literal["float32", "bfloat16", "float16"]
"""Compute precision of rendering and sampling: float32, or autocast to bfloat16 / float16 (meant for GPUs)."""


@dataclass(frozen=True, eq=False)
class MotionTrack:
    """A batch of motion-latent sequences.

    Attributes:
        latents: ``(B, T, D)`` motion latents, one ``D``-vector per frame (FLOAT: ``D = 512``).
        fps: frames per second of the sequence.
        source: optional ``(B, D)`` source motion ``r_s`` of the portrait the track belongs to; edits that hold
            an axis "at the source value" and retargeting use it. Same dtype and device as ``latents``.

    Frame ``k`` lies at time ``k / fps`` seconds. Tracks compare by identity (``==`` does not compare tensors).
    """

    latents: torch.Tensor
    fps: float = 25.0
    source: torch.Tensor | None = field(default=None)

    def __post_init__(self) -> None:
        check_tensor("MotionTrack.latents", self.latents, ndim=3, hint="Expected (batch, frames, dim).")
        if self.latents.shape[1] == 0:
            raise ShapeError("MotionTrack.latents has no frames; a track needs at least one frame.")
        fps_is_number = isinstance(self.fps, (int, float)) and not isinstance(self.fps, bool)
        if not (fps_is_number and math.isfinite(self.fps) and self.fps > 0):
            raise ShapeError(f"MotionTrack.fps must be a positive number, got {self.fps!r}.")
        if self.source is not None:
            check_tensor(
                "MotionTrack.source",
                self.source,
                ndim=2,
                last_dim=self.dim,
                hint="Expected (batch, dim), the source motion of each portrait.",
            )
            if self.source.shape[0] != self.batch:
                raise ShapeError(
                    f"MotionTrack.source has batch {self.source.shape[0]} but latents have batch {self.batch}."
                )
            if (self.source.dtype, self.source.device) != (self.latents.dtype, self.latents.device):
                raise ShapeError(
                    f"MotionTrack.source is {self.source.dtype} on {self.source.device} but latents are "
                    f"{self.latents.dtype} on {self.latents.device}; move it with source.to(latents)."
                )

    @property
    def batch(self) -> int:
        return int(self.latents.shape[0])

    @property
    def frames(self) -> int:
        return int(self.latents.shape[1])

    @property
    def dim(self) -> int:
        return int(self.latents.shape[2])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.fps

    def __len__(self) -> int:
        return self.frames

    def slice(self, start: int = 0, stop: int | None = None) -> MotionTrack:
        """Frames ``[start, stop)`` (Python slice semantics, negative indices allowed)."""
        latents = self.latents[:, start:stop]
        if latents.shape[1] == 0:
            raise ShapeError(f"slice({start}, {stop}) of a {self.frames}-frame track is empty.")
        return replace(self, latents=latents)

    def seconds(self, start: float, stop: float | None = None) -> MotionTrack:
        """The frames whose time ``k / fps`` lies in ``[start, stop)`` seconds (``stop=None``: to the end)."""
        if not (math.isfinite(start) and start >= 0):
            raise ShapeError(f"seconds(start={start}) needs a finite start >= 0 seconds.")
        if stop is not None and not (math.isfinite(stop) and stop > start):
            raise ShapeError(f"seconds({start}, {stop}) needs stop > start (or stop=None for the rest of the track).")
        first = _first_frame_at_or_after(start, self.fps)
        last = None if stop is None else _first_frame_at_or_after(stop, self.fps)
        return self.slice(first, last)

    def with_latents(self, latents: torch.Tensor) -> MotionTrack:
        """The same track (fps, source) with new latents."""
        return replace(self, latents=latents)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> MotionTrack:
        source = None if self.source is None else self.source.to(device=device, dtype=dtype)
        return replace(self, latents=self.latents.to(device=device, dtype=dtype), source=source)

    @classmethod
    def concat(cls, tracks: Sequence[MotionTrack]) -> MotionTrack:
        """Concatenate tracks along time; fps, batch and dim must agree (the first track's source is kept)."""
        if not tracks:
            raise ShapeError("MotionTrack.concat needs at least one track.")
        for i, track in enumerate(tracks):
            if not isinstance(track, MotionTrack):
                raise ShapeError(f"MotionTrack.concat: item {i} is a {type(track).__name__}, not a MotionTrack.")
        first = tracks[0]
        for i, track in enumerate(tracks[1:], start=1):
            if (track.latents.dtype, track.latents.device) != (first.latents.dtype, first.latents.device):
                raise ShapeError(
                    f"track {i} is {track.latents.dtype} on {track.latents.device}, track 0 is "
                    f"{first.latents.dtype} on {first.latents.device}; convert with .to(...) first."
                )
            if track.fps != first.fps:
                raise ShapeError(f"track {i} has fps {track.fps}, track 0 has {first.fps}; resample first.")
            if (track.batch, track.dim) != (first.batch, first.dim):
                raise ShapeError(
                    f"track {i} has (batch, dim) = {(track.batch, track.dim)}, track 0 has {(first.batch, first.dim)}."
                )
        return replace(first, latents=torch.cat([t.latents for t in tracks], dim=1))

    def coefficients(self, space: MotionSpace) -> torch.Tensor:
        """Coefficients ``(B, T, M)`` of the latents in ``space`` (``V^T x`` per frame)."""
        return space.project(self.latents)

    def save(self, path: str | Path) -> Path:
        """Write the track to a ``.safetensors`` file with its metadata; returns the path."""
        from motionkit.io.tensors import write_tensors

        tensors = {"latents": self.latents}
        if self.source is not None:
            tensors["source"] = self.source
        metadata = {
            "format": MOTION_TRACK_FORMAT,
            "format_version": str(MOTION_TRACK_FORMAT_VERSION),
            "fps": repr(float(self.fps)),
            "dims": json.dumps({"batch": self.batch, "frames": self.frames, "dim": self.dim}),
        }
        return write_tensors(path, tensors, metadata)

    @classmethod
    def load(cls, path: str | Path) -> MotionTrack:
        """Read a track written by :meth:`save`."""
        from motionkit.io.tensors import read_tensors_and_metadata

        path = Path(path)
        tensors, metadata = read_tensors_and_metadata(
            path, what="motion track file", fix="pass a track written by MotionTrack.save or --save-track"
        )
        if metadata.get("format") != MOTION_TRACK_FORMAT or "latents" not in tensors:
            raise CheckpointError(f"{path} is not a motionkit motion track (missing format metadata).")
        try:
            version = int(metadata["format_version"])
            fps = float(metadata["fps"])
            dims = json.loads(metadata["dims"])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{path} has damaged motion-track metadata ({exc!r}).") from None
        if version > MOTION_TRACK_FORMAT_VERSION:
            raise CheckpointError(
                f"{path} has track format version {version}; this motionkit reads up to "
                f"{MOTION_TRACK_FORMAT_VERSION}. Upgrade motionkit."
            )
        latents = tensors["latents"]
        recorded = [dims.get(k) for k in ("batch", "frames", "dim")] if isinstance(dims, dict) else None
        if recorded != list(latents.shape):
            raise CheckpointError(
                f"{path}: latents have shape {tuple(latents.shape)} but the metadata says {dims}; the file is damaged."
            )
        try:
            return cls(latents=latents, fps=fps, source=tensors.get("source"))
        except MotionkitError as exc:
            raise CheckpointError(f"{path} holds an invalid motion track: {exc}") from None


def _first_frame_at_or_after(seconds: float, fps: float) -> int:
    """Index of the first frame ``k`` with ``k / fps >= seconds`` (a nanosecond of slack for float rounding)."""
    return math.ceil(seconds * fps - 1e-9 * fps)


@dataclass(frozen=True, eq=False)
class SourceFace:
    """An encoded portrait: everything the renderer needs to animate it.

    Attributes:
        identity: ``(B, D)`` identity latent ``w_{S->r}`` (FLOAT's ``s_r``).
        coefficients: ``(B, M)`` motion coefficients ``lambda(S)`` of the portrait.
        motion: ``(B, D)`` source motion ``r_s = V lambda`` (the portrait's own pose/expression).
        features: encoder skip features, coarse to fine (FLOAT: 8x8 ... 512x512).
        image: the prepared ``(B, 3, H, W)`` input image in ``[-1, 1]``, if kept.
    """

    identity: torch.Tensor
    coefficients: torch.Tensor
    motion: torch.Tensor
    features: tuple[torch.Tensor, ...]
    image: torch.Tensor | None = None

    @property
    def batch(self) -> int:
        return int(self.identity.shape[0])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> SourceFace:
        def move(x: torch.Tensor) -> torch.Tensor:
            return x.to(device=device, dtype=dtype)

        return SourceFace(
            identity=move(self.identity),
            coefficients=move(self.coefficients),
            motion=move(self.motion),
            features=tuple(move(f) for f in self.features),
            image=None if self.image is None else move(self.image),
        )


CONTROL_NAMES = ("pose", "cam", "gaze")
"""The optional per-frame controls of :class:`Conditions`, in order (IMTalker's head pose, camera and gaze)."""


@dataclass(frozen=True, eq=False)
class Conditions:
    """Per-frame driving signals for the flow sampler.

    Attributes:
        audio: ``(B, T, Da)`` audio features at ``fps`` (FLOAT: ``Da = 512``).
        emotion: ``(B, T, E)`` emotion weights per frame (FLOAT: ``E = 7``, soft labels or one-hot).
        fps: frame rate of all tensors.
        pose, cam, gaze: optional ``(B, T, C)`` per-frame controls in the units of the model that reads them
            (IMTalker: SMIRK head pose ``(B, T, 3)`` and camera ``(B, T, 3)``, L2CS gaze ``(B, T, 2)``); ``None``:
            not given (a model without them ignores them; IMTalker then uses its "missing" value).
    """

    audio: torch.Tensor
    emotion: torch.Tensor
    fps: float = 25.0
    pose: torch.Tensor | None = None
    cam: torch.Tensor | None = None
    gaze: torch.Tensor | None = None

    def __post_init__(self) -> None:
        check_tensor("Conditions.audio", self.audio, ndim=3, hint="Expected (batch, frames, features).")
        check_tensor("Conditions.emotion", self.emotion, ndim=3, hint="Expected (batch, frames, classes).")
        if self.audio.shape[:2] != self.emotion.shape[:2]:
            raise ShapeError(
                f"Conditions.audio has (batch, frames) {tuple(self.audio.shape[:2])} but emotion has "
                f"{tuple(self.emotion.shape[:2])}; broadcast the emotion over frames first."
            )
        for name, value in self.controls().items():
            check_tensor(f"Conditions.{name}", value, ndim=3, hint="Expected (batch, frames, values).")
            if value.shape[:2] != self.audio.shape[:2]:
                raise ShapeError(
                    f"Conditions.{name} has (batch, frames) {tuple(value.shape[:2])} but audio has "
                    f"{tuple(self.audio.shape[:2])}; give one value per frame (crop or pad the track first)."
                )

    @property
    def batch(self) -> int:
        return int(self.audio.shape[0])

    @property
    def frames(self) -> int:
        return int(self.audio.shape[1])

    def controls(self) -> dict[str, torch.Tensor]:
        """The per-frame controls that are given, by name (in :data:`CONTROL_NAMES` order)."""
        values = {name: getattr(self, name) for name in CONTROL_NAMES}
        return {name: value for name, value in values.items() if value is not None}

    def with_controls(self, **controls: torch.Tensor | None) -> Conditions:
        """A copy with the named controls (``pose``, ``cam``, ``gaze``) replaced (``None`` removes one)."""
        unknown = sorted(set(controls) - set(CONTROL_NAMES))
        if unknown:
            raise ShapeError(f"unknown control(s) {', '.join(unknown)}; the controls are {', '.join(CONTROL_NAMES)}.")
        given = {name: controls.get(name, getattr(self, name)) for name in CONTROL_NAMES}
        return Conditions(self.audio, self.emotion, self.fps, **given)

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Conditions:
        moved = {name: fn(value) for name, value in self.controls().items()}
        return Conditions(fn(self.audio), fn(self.emotion), self.fps, **moved)

    def slice(self, start: int = 0, stop: int | None = None) -> Conditions:
        return self._map(lambda x: x[:, start:stop])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Conditions:
        return self._map(lambda x: x.to(device=device, dtype=dtype))

    @classmethod
    def concat(cls, parts: Sequence[Conditions]) -> Conditions:
        if not parts:
            raise ShapeError("Conditions.concat needs at least one part.")
        for i, part in enumerate(parts[1:], start=1):
            if part.fps != parts[0].fps:
                raise ShapeError(f"conditions part {i} has fps {part.fps}, part 0 has {parts[0].fps}; resample first.")
            if set(part.controls()) != set(parts[0].controls()):
                raise ShapeError(
                    f"conditions part {i} has the controls {sorted(part.controls())}, part 0 has "
                    f"{sorted(parts[0].controls())}; give every part the same controls."
                )
        controls = {name: torch.cat([p.controls()[name] for p in parts], 1) for name in parts[0].controls()}
        return cls(
            torch.cat([p.audio for p in parts], 1), torch.cat([p.emotion for p in parts], 1), parts[0].fps, **controls
        )
