"""FLOAT's portrait crop rule: a square of side ``2 bs`` around the face box centre, resized to the model resolution.

``bs = int(1.6 * max(half width, half height))``; where the square leaves the image it is padded with black. The
square is resized with :func:`motionkit.io.image.resize_image` (Pillow) where FLOAT uses OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from motionkit.errors import ImageError
from motionkit.face.box import Box
from motionkit.face.cascade import detect_face
from motionkit.io.image import ImageInput, load_image, resize_image

CROP_SCALE = 1.6
"""Half-side of the square crop relative to the larger half-side of the face box (FLOAT)."""


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
        box: the face box ``(x1, y1, x2, y2)``; detected with :func:`motionkit.face.detect_face` when omitted.
        crop: ``False`` skips detection and cropping and resizes the whole image to ``size x size`` (the aspect
            ratio is not preserved, as with FLOAT's ``--no_crop``).

    Raises:
        FaceNotFoundError: ``crop=True``, no ``box`` and no face detected.
        ImageError: unreadable image, box outside the image, or image too small for detection.
    """
    if not isinstance(size, int) or size < 1:
        raise ImageError(f"size must be a positive number of pixels, got {size!r}.")
    pixels = load_image(image)
    if not crop:
        return resize_image(pixels, size, size)
    face = detect_face(pixels) if box is None else Box.coerce(box)
    top, left, side = crop_box(pixels.shape[:2], face)
    height, width = pixels.shape[:2]
    square = np.zeros((side, side, 3), dtype=np.uint8)  # black where the square leaves the image
    rows = slice(max(top, 0), min(top + side, height))
    cols = slice(max(left, 0), min(left + side, width))
    square[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left] = pixels[rows, cols]
    return resize_image(square, size, size)
