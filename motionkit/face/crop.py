"""FLOAT's portrait crop rule around the face stack's landmark box.

FLOAT crops a square of side ``2 bs`` around the face box centre, ``bs = int(1.6 * max(half width, half
height))``, padded with black where it leaves the image, and resizes it to the model resolution. Its face box comes
from S3FD (a network downloaded at run time); motionkit's comes from the face stack (:class:`FaceStack`): the
bounding box of the largest face's 468 landmarks (:func:`face_box`).

Why the landmark box and not the stack's detector box: S3FD was trained on WIDER FACE, whose boxes bound the visible
face from the forehead to the chin and from cheek to cheek; the landmark mesh spans the same features (forehead
point 10, chin 152, cheek contour 234 / 454), so its box has the same extent and centre. BlazeFace's box is a
square regressed to MediaPipe's own convention whose top sits lower on the forehead: on the astronaut photo it starts
10 px (10 % of the face) lower than the mesh and is centred 5 px lower, which would shift the crop down. The mesh is
also read at full resolution, so its box does not carry the detector's 128-px quantisation. The squares differ from
FLOAT's by what separates S3FD's boxes from the mesh's (a few percent of the face), not by the rule.

The square is resized with :func:`motionkit.io.image.resize_image` (Pillow) where FLOAT uses OpenCV.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from motionkit.errors import FaceNotFoundError, Fix, ImageError
from motionkit.face.box import Box, read_box_file
from motionkit.face.stack import FaceStack
from motionkit.io.image import ImageInput, fit_within, load_image, resize_image

CROP_SCALE = 1.6
"""Half-side of the square crop relative to the larger half-side of the face box (FLOAT)."""

NO_FACE_FIX = Fix(
    python="Or pass crop=False to use the whole image (resized to the model resolution), or box=(x1, y1, x2, y2) "
    "to give the face box in pixels.",
    cli="Or use --no-crop to use the whole image (resized to the model resolution), or --box X1,Y1,X2,Y2 to give "
    'the face box in pixels, or a face-box file beside the image (portrait.face.json for portrait.png, holding {"box": '
    "[x1, y1, x2, y2]}).",
)
"""What else to do when the face stack finds no face, in Python and on the command line."""


@functools.lru_cache(maxsize=1)
def default_stack() -> FaceStack:
    """The CPU face stack that :func:`face_box` uses when given none (networks loaded once per process)."""
    return FaceStack()


def face_box(image: ImageInput, stack: FaceStack | None = None) -> Box:
    """The largest face's landmark box in whole pixels: ``floor`` of the landmarks' minimum, ``ceil`` of their
    maximum, clipped to the image (a face cut by the border is boxed by its visible part).

    Args:
        image: a path, array or Pillow image (see :func:`motionkit.io.load_image`).
        stack: the face stack to use (default: :func:`default_stack`, on the CPU).

    Raises:
        FaceNotFoundError: no face (the message gives the image size, the smallest face found, and what to try).
    """
    pixels = load_image(image)
    height, width = pixels.shape[:2]
    try:
        face = (stack or default_stack()).face(pixels)
    except FaceNotFoundError as exc:
        raise FaceNotFoundError(str(exc), fix=NO_FACE_FIX) from None
    x0, y0, x1, y1 = face.box
    box = Box(
        x1=min(max(math.floor(x0), 0), width - 1),
        y1=min(max(math.floor(y0), 0), height - 1),
        x2=max(min(math.ceil(x1), width), 1),
        y2=max(min(math.ceil(y1), height), 1),
    )
    if box.x2 <= box.x1 or box.y2 <= box.y1:  # the mesh lies wholly outside the image: nothing to crop around
        raise FaceNotFoundError(f"the face found in the {width}x{height} image lies outside it.", fix=NO_FACE_FIX)
    return box


def fit_portrait(
    image: ImageInput, max_side: int | None, box: Box | None = None
) -> tuple[ImageInput | np.ndarray, Box | None]:
    """A portrait shrunk so that its longer side is at most ``max_side`` pixels (:func:`motionkit.io.image.fit_within`),
    with its face box (``box``, or the ``.face.json`` beside an image file) scaled along; with ``max_side`` None,
    ``image`` and ``box`` as they are (a file's own box is then read where it is cropped)."""
    if max_side is None:
        return image, box
    pixels = load_image(image)
    if box is None and isinstance(image, (str, Path)):
        box = read_box_file(image)
    shrunk = fit_within(pixels, max_side)
    if shrunk is pixels or box is None:
        return shrunk, box
    sx, sy = shrunk.shape[1] / pixels.shape[1], shrunk.shape[0] / pixels.shape[0]
    return shrunk, Box(round(box.x1 * sx), round(box.y1 * sy), round(box.x2 * sx), round(box.y2 * sy))


def crop_box(image_size: tuple[int, int], box: Box) -> tuple[int, int, int]:
    """FLOAT's square crop around a face box: ``(top, left, side)`` in original pixels (may extend outside).

    ``bs = int(1.6 * max(int(h / 2), int(w / 2)))``, centre ``(int((y1 + y2) / 2), int((x1 + x2) / 2))``; the
    square covers rows ``[cy - bs, cy + bs)`` and columns ``[cx - bs, cx + bs)``.
    """
    height, width = image_size
    if not (0 <= box.x1 < box.x2 <= width and 0 <= box.y1 < box.y2 <= height):
        raise ImageError(
            f"face box {box} is not inside the {width}x{height} image; boxes are (x1, y1, x2, y2) pixel "
            f"coordinates with 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height."
        )
    half_y = int((box.y2 - box.y1) / 2)
    half_x = int((box.x2 - box.x1) / 2)
    centre_y = int((box.y1 + box.y2) / 2)
    centre_x = int((box.x1 + box.x2) / 2)
    half_side = int(max(half_y, half_x) * CROP_SCALE)
    if half_side < 1:
        raise ImageError(f"face box {box} is too small to crop around; give a box of at least 2x2 pixels.")
    return centre_y - half_side, centre_x - half_side, 2 * half_side


def crop_portrait(
    image: ImageInput, size: int, box: Box | Sequence[float] | None = None, crop: bool = True
) -> np.ndarray:
    """Prepare a portrait for the renderer: ``(size, size, 3)`` uint8 RGB.

    Args:
        image: a path, array or Pillow image (see :func:`motionkit.io.load_image`).
        size: output side in pixels (the renderer resolution).
        box: the face box ``(x1, y1, x2, y2)``; when omitted, the box recorded beside an image file
            (``portrait.face.json``, see :mod:`motionkit.face.box`), else the largest face's landmark box
            (:func:`face_box`).
        crop: ``False`` skips detection and cropping and resizes the whole image to ``size x size`` (the aspect
            ratio is not preserved, as with FLOAT's ``--no_crop``).

    Raises:
        FaceNotFoundError: ``crop=True``, no ``box``, no box file and no face found.
        ImageError: unreadable image, or a box outside the image.
    """
    if not isinstance(size, int) or size < 1:
        raise ImageError(f"size must be a positive number of pixels, got {size!r}.")
    pixels = load_image(image)
    if not crop:
        return resize_image(pixels, size, size)
    if box is None and isinstance(image, (str, Path)):
        box = read_box_file(image)
    face = face_box(pixels) if box is None else Box.coerce(box)
    top, left, side = crop_box(pixels.shape[:2], face)
    height, width = pixels.shape[:2]
    square = np.zeros((side, side, 3), dtype=np.uint8)  # black where the square leaves the image
    rows = slice(max(top, 0), min(top + side, height))
    cols = slice(max(left, 0), min(left + side, width))
    square[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left] = pixels[rows, cols]
    return resize_image(square, size, size)
