"""The photo family's renderer: any real photo, found by the face stack, drawn by the geometric renderer.

The motion model speaks the synthetic world's parameters (:data:`MODEL_AXES`: yaw, pitch, roll in degrees;
mouth_open, mouth_width, blink, brows in 0 .. 1); the geometric renderer draws its own axes in real units relative to
the photo as taken (:mod:`motionkit.geometric.axes`). :func:`to_geometric` maps one onto the other::

    yaw, pitch, roll   ->  yaw, pitch, roll                      (degrees, unchanged)
    mouth_open m       ->  mouth = MOUTH_GAP_PER_OPENING * m      (inner-lip gap added, in mouth widths)
    blink b            ->  blink_left = blink_right = b
    brows r            ->  brows = BROW_RAISE_PER_UNIT * r         (face widths)
    mouth_width        ->  not drawn (the geometric renderer has no width axis)

Both gains are the synthetic world's own geometry (``motionkit/data/synthetic/render.py``), so a track drawn on a
photo opens the mouth and lifts the brows as much, relative to the face, as on the world's faces the model learned
from. The photo is the neutral face: its own pose, mouth and eyes are the model's neutral values, so a track that
stays neutral reproduces the photo exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from motionkit.errors import ConfigError, FaceNotFoundError, ShapeError, require
from motionkit.face import Box, Face, FaceStack
from motionkit.families.photo.config import PhotoMotionConfig
from motionkit.families.photo.motion import parameter_space
from motionkit.geometric import GeometricPortrait, GeometricRenderer, PortraitGeometry
from motionkit.io.image import ImageInput, load_image
from motionkit.space import MotionSpace
from motionkit.types import MotionTrack, Precision

MODEL_AXES: tuple[str, ...] = ("yaw", "pitch", "roll", "mouth_open", "mouth_width", "blink", "brows")
"""The motion model's parameters that :func:`to_geometric` maps, in the order of a photo-family track."""

MOUTH_GAP_PER_OPENING = 0.24 / (2 * 0.29)
"""Inner-lip gap, in mouth widths, of ``mouth_open`` 1 at resting width in the synthetic world: an opening of
0.24 mouth sizes over a mouth 2 x 0.29 mouth sizes wide (``_MOUTH_OPENING``, ``_MOUTH_HALF_WIDTH``)."""

BROW_RAISE_PER_UNIT = 0.075 / 2.0
"""Brow raise, in face widths, of ``brows`` 1 in the synthetic world: 0.075 head radii of travel (``_BROW``) over a
face two head radii wide."""


def to_geometric(values: torch.Tensor, neutral: torch.Tensor) -> torch.Tensor:
    """``(..., 7)`` model parameters (:data:`MODEL_AXES`) -> ``(..., 7)`` geometric parameters relative to the photo.

    ``neutral`` ``(7,)`` is the model's value of the photo as taken (its neutral face): each axis moves by its
    difference from it.
    """
    delta = values - neutral
    yaw, pitch, roll, mouth, _width, blink, brows = delta.unbind(-1)
    return torch.stack(
        [yaw, pitch, roll, MOUTH_GAP_PER_OPENING * mouth, blink, blink, BROW_RAISE_PER_UNIT * brows], dim=-1
    )


@dataclass(frozen=True)
class PhotoPortrait:
    """A photo prepared for the photo family (an :class:`~motionkit.protocols.EncodedPortrait`).

    Attributes:
        drawing: what the geometric renderer draws from.
        face: the face the photo was animated through (landmarks, pose, detection).
        neutral: ``(1, 7)`` the model's parameters of the photo as taken.
    """

    drawing: GeometricPortrait
    face: Face
    neutral: torch.Tensor

    @property
    def motion(self) -> torch.Tensor:
        """``(1, 7)`` the portrait's own parameters in the model's units (the motion model's source)."""
        return self.neutral

    @property
    def batch(self) -> int:
        return 1


def _overlap(a: tuple[float, float, float, float], b: Box) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    ix = max(0.0, min(a[2], b.x2) - max(a[0], b.x1))
    iy = max(0.0, min(a[3], b.y2) - max(a[1], b.y1))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


class PhotoRenderer(nn.Module):
    """Draws a photo-family track on a real photo at its own resolution (a :class:`~motionkit.protocols.
    PortraitRenderer`): the face stack finds the face and the person, the geometric renderer moves them.

    Args:
        config: the motion model's configuration (its axes must be :data:`MODEL_AXES`).
        geometric: the geometric renderer (default settings when omitted).
    """

    def __init__(self, config: PhotoMotionConfig, geometric: GeometricRenderer | None = None) -> None:
        super().__init__()
        require(
            config.axis_names == MODEL_AXES,
            ConfigError,
            f"the photo renderer draws tracks of the axes {', '.join(MODEL_AXES)}; this model has "
            f"{', '.join(config.axis_names)}.",
        )
        self.config = config
        self.geometric = geometric or GeometricRenderer()
        self._space = parameter_space(config)
        self._neutral: torch.Tensor
        self.register_buffer(
            "_neutral", torch.tensor([axis.neutral for axis in config.axes], dtype=torch.float32), persistent=False
        )
        self._stack: FaceStack | None = None

    @property
    def space(self) -> MotionSpace:
        """The model's parameter space (identity basis, named axes in real units)."""
        return self._space

    @property
    def latent_dim(self) -> int:
        return len(MODEL_AXES)

    @property
    def device(self) -> torch.device:
        return self.geometric.device

    def face_stack(self) -> FaceStack:
        """The face stack on this renderer's device (built once, on first use)."""
        if self._stack is None or self._stack.device != self.device:
            self._stack = FaceStack(self.device)
        return self._stack

    def encode_portrait(
        self, image: ImageInput, *, crop: bool = True, box: Box | Sequence[float] | None = None
    ) -> PhotoPortrait:
        """Find the face of ``image`` (the largest, or the one that overlaps ``box`` most) and prepare the photo.

        The whole photo is drawn at its own size: ``crop=False`` (a learned renderer's whole-image resize) has no
        meaning here and is refused.

        Raises:
            FaceNotFoundError: no face, or none overlapping ``box`` (the message says what to try).
        """
        require(
            crop,
            ConfigError,
            "the photo renderer animates the whole photo at its own size through its face, so it never resizes the "
            "whole image; leave crop at its default (on the command line: drop --no-crop).",
        )
        pixels = load_image(image)
        stack = self.face_stack()
        face = stack.face(pixels) if box is None else self._face_in(stack, pixels, Box.coerce(box))
        geometry = PortraitGeometry(face.points, mask=stack.segment(pixels))
        drawing = self.geometric.encode_portrait(pixels, geometry=geometry)
        return PhotoPortrait(drawing=drawing, face=face, neutral=self._neutral[None].clone())

    @staticmethod
    def _face_in(stack: FaceStack, pixels: np.ndarray, box: Box) -> Face:
        faces = stack.faces(pixels)
        scored = [(_overlap(face.box, box), face) for face in faces]
        best = max(scored, key=lambda item: item[0], default=(0.0, None))
        if best[1] is None or best[0] <= 0.0:
            height, width = pixels.shape[:2]
            raise FaceNotFoundError(
                f"no face overlaps the box ({box.x1}, {box.y1}, {box.x2}, {box.y2}) in the {width}x{height} image "
                f"({len(faces)} face(s) found); give a box around the face to animate, or none for the largest face."
            )
        return best[1]

    def frame_shape(self, portrait: PhotoPortrait) -> tuple[int, int]:
        """``(H, W)``: the photo's own size."""
        return self.geometric.frame_shape(portrait.drawing)

    def render(
        self, source: PhotoPortrait, track: MotionTrack, chunk_size: int = 8, *, precision: Precision = "float32"
    ) -> Iterator[torch.Tensor]:
        """Frames ``(B, n, 3, H, W)`` in [-1, 1] of a ``(B, T, 7)`` track in the model's units, ``chunk_size`` at a
        time."""
        require(
            track.dim == self.latent_dim,
            ShapeError,
            f"the photo renderer draws tracks of {self.latent_dim} parameters ({', '.join(MODEL_AXES)}), got "
            f"dimension {track.dim}.",
        )
        neutral = source.neutral[0].to(track.latents.device, track.latents.dtype)
        drawn = MotionTrack(to_geometric(track.latents, neutral), fps=track.fps)
        return self.geometric.render(source.drawing, drawn, chunk_size, precision=precision)


__all__ = ["MODEL_AXES", "PhotoPortrait", "PhotoRenderer", "to_geometric"]
