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

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from motionkit.errors import ConfigError, FaceNotFoundError, ImageError, ShapeError, require
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

MAX_PHOTO_SIDE = 4096
"""Longest photo side drawn (a 4K frame): every frame has the photo's own size, and the per-frame cost grows with
the face region's pixels (docs/geometric.md, Speed), so a larger photo is refused with the advice to resize it."""
LARGE_PHOTO_SIDE = 2048
"""Longest photo side drawn without a warning: above it a frame holds over 4 times the pixels of a 1024 px photo,
and a phone photo (12 megapixels: 11 times) takes about a minute of a 2-core CPU per second of video
(docs/photo-motion.md), so the warning names --max-side."""
MIN_FACE_WIDTH = 64
"""Narrowest face drawn, in pixels (the landmarks' box): at 64 px the mouth is about 25 px wide and an eye about 12,
so the lips and lids still span several pixels; below it they move by fractions of a pixel."""
MAX_PHOTO_YAW = 30.0
MAX_PHOTO_PITCH = 25.0
"""Largest head turn and nod of the photo itself (degrees, the face stack's pose): beyond them the far cheek is
hidden, its landmarks are guesses and a turn drawn from them folds (the renderer's own fold-free range is +/-20
degrees of yaw relative to the photo, docs/geometric.md)."""


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

        Several faces: the largest is animated, with a warning naming how many were found and the box taken.

        Raises:
            ImageError: a photo larger than :data:`MAX_PHOTO_SIDE`.
            FaceNotFoundError: no face, or none overlapping ``box``, a face narrower than :data:`MIN_FACE_WIDTH` or
                turned further than :data:`MAX_PHOTO_YAW` / :data:`MAX_PHOTO_PITCH` from frontal (each message says
                what to try).
        """
        require(
            crop,
            ConfigError,
            "the photo renderer animates the whole photo at its own size through its face, so it never resizes the "
            "whole image; leave crop at its default (on the command line: drop --no-crop).",
        )
        pixels = load_image(image)
        _check_size(pixels)
        stack = self.face_stack()
        face = self._largest(stack, pixels) if box is None else self._face_in(stack, pixels, Box.coerce(box))
        _check_face(face)
        geometry = PortraitGeometry(face.points, mask=stack.segment(pixels))
        drawing = self.geometric.encode_portrait(pixels, geometry=geometry)
        return PhotoPortrait(drawing=drawing, face=face, neutral=self._neutral[None].clone())

    @staticmethod
    def _largest(stack: FaceStack, pixels: np.ndarray) -> Face:
        faces = stack.faces(pixels)
        if not faces:
            return stack.face(pixels)  # raises, with the face stack's own explanation of what it needs
        if len(faces) > 1:
            x0, y0, x1, y1 = (round(v) for v in faces[0].box)
            warnings.warn(
                f"found {len(faces)} faces in the photo; animating the largest (box {x0},{y0},{x1},{y1}). Give a box "
                "around another face to animate it instead (--box X1,Y1,X2,Y2; box= in Python).",
                stacklevel=3,
            )
        return faces[0]

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


def _check_size(pixels: np.ndarray) -> None:
    height, width = pixels.shape[:2]
    require(
        max(height, width) <= MAX_PHOTO_SIDE,
        ImageError,
        f"the photo is {width}x{height} px; the photo renderer draws every frame at the photo's own size, up to "
        f"{MAX_PHOTO_SIDE} px on the longer side. Resize the photo (for example to 1024 px on its longer side).",
    )
    if max(height, width) > LARGE_PHOTO_SIDE:
        megapixels = height * width / 1e6
        warnings.warn(
            f"the photo is {width}x{height} px ({megapixels:.1f} megapixels): every frame is drawn and encoded at "
            f"that size, {megapixels / 1.048576:.0f} times the work of a 1024 x 1024 photo (a 12-megapixel photo "
            "takes about a minute of a 2-core CPU per second of video). Shrink it first: --max-side 1024 on the "
            "command line, motionkit.io.image.fit_within(image, 1024) in Python.",
            stacklevel=4,
        )


def _check_face(face: Face) -> None:
    x0, _, x1, _ = face.box
    require(
        x1 - x0 >= MIN_FACE_WIDTH,
        FaceNotFoundError,
        f"the face is {x1 - x0:.0f} px wide; the photo renderer needs at least {MIN_FACE_WIDTH} px, or lips and "
        "eyelids move by fractions of a pixel. Use a larger photo, or one taken closer to the face.",
    )
    yaw, pitch = face.pose.yaw, face.pose.pitch
    require(
        abs(yaw) <= MAX_PHOTO_YAW and abs(pitch) <= MAX_PHOTO_PITCH,
        FaceNotFoundError,
        f"the face in the photo is turned {yaw:+.0f} degrees (yaw) and {pitch:+.0f} (pitch) from frontal; the "
        f"geometric renderer animates faces within {MAX_PHOTO_YAW:g} degrees of yaw and {MAX_PHOTO_PITCH:g} of "
        "pitch (it cannot draw the hidden side of a profile). Use a more frontal photo.",
    )


__all__ = [
    "LARGE_PHOTO_SIDE",
    "MAX_PHOTO_PITCH",
    "MAX_PHOTO_SIDE",
    "MAX_PHOTO_YAW",
    "MIN_FACE_WIDTH",
    "MODEL_AXES",
    "PhotoPortrait",
    "PhotoRenderer",
    "to_geometric",
]
