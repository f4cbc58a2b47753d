"""Face preparation: offline face detection and FLOAT's portrait crop rule.

FLOAT detects the face on a copy of the image scaled to 360 px height, scales the box back (``int`` truncation),
and crops a square of side ``2 bs`` around the box centre with ``bs = int(1.6 * max(half width, half height))``,
padding with black where the square leaves the image, then resizes the square to the model resolution.

Detection uses scikit-image's bundled LBP frontal-face cascade (no download, no extra dependency) instead of
FLOAT's S3FD network, so boxes differ slightly from FLOAT's; the crop rule itself is FLOAT's. Resizing uses
Pillow (box filter when shrinking, bicubic when enlarging) where FLOAT uses OpenCV (area / bicubic); the two
libraries' interpolations are not bit-identical.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from motionkit.errors import FaceNotFoundError, Fix, ImageError
from motionkit.io.image import ImageInput, load_image

DETECTION_HEIGHT = 360
"""Images are scaled to this height before detection (FLOAT's rule)."""

CROP_SCALE = 1.6
"""Half-side of the square crop relative to the larger half-side of the face box (FLOAT)."""

MIN_DETECTION_SIDE = 64
"""Smallest image side (pixels) accepted for detection; smaller images hold too few pixels per face."""

MIN_FACE_WINDOW = 30
"""Smallest face searched, in pixels of the 360-px detection image (the cascade's window is 24 px)."""

CASCADE_SCALE_FACTOR = 1.2
"""Growth of the search window between scales."""

CASCADE_STEP_RATIO = 1.0
"""Search step relative to the window (1 = exhaustive)."""

CASCADE_MIN_NEIGHBOURS = 4
"""Overlapping raw detections needed to accept a face (suppresses isolated false positives)."""

CASCADE_FILE = "lbpcascade_frontalface_opencv.xml"
NO_DETECTION_FIX = Fix(
    python="pass crop=False to use the whole image (resized to the model resolution), or box=(x1, y1, x2, y2) to "
    "give the face box in pixels.",
    cli="use --no-crop to use the whole image (resized to the model resolution), or --box X1,Y1,X2,Y2 to give the "
    "face box in pixels.",
)
"""What to do when the face cannot be detected, in Python and on the command line."""


@dataclass(frozen=True)
class Box:
    """A face box in pixel coordinates of the original image: columns ``[x1, x2)``, rows ``[y1, y2)``."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    @classmethod
    def coerce(cls, value: Box | Sequence[float]) -> Box:
        """A :class:`Box` from a ``Box`` or an ``(x1, y1, x2, y2)`` sequence (values truncated to int)."""
        if isinstance(value, Box):
            return value
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 4:
            raise ImageError(f"a face box must be (x1, y1, x2, y2) in pixels, got {value!r}.")
        try:
            x1, y1, x2, y2 = (int(v) for v in value)
        except (TypeError, ValueError) as exc:
            raise ImageError(f"a face box must hold four numbers (x1, y1, x2, y2), got {value!r}.") from exc
        return cls(x1, y1, x2, y2)


@functools.lru_cache(maxsize=1)
def _cascade() -> object:
    import skimage.data
    from skimage.feature import Cascade

    return Cascade(str(Path(skimage.data.__file__).parent / CASCADE_FILE))


def resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 image with Pillow: box filter when shrinking, bicubic when enlarging."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrinking = width * height < image.shape[0] * image.shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    return np.array(Image.fromarray(image).resize((width, height), method))


def detect_face(image: ImageInput) -> Box:
    """Detect the largest frontal face and return its box in original-image pixels.

    The image is scaled by ``mult = 360 / H`` for detection and the box is scaled back by ``1 / mult`` with
    ``int`` truncation, as FLOAT does.

    Raises:
        ImageError: the image is too small for detection.
        FaceNotFoundError: no face was found (the message suggests ``crop=False`` or an explicit box).
    """
    pixels = load_image(image)
    height, width = pixels.shape[:2]
    mult = DETECTION_HEIGHT / height
    scaled_width = round(width * mult)
    if min(height, width) < MIN_DETECTION_SIDE or scaled_width < MIN_FACE_WINDOW:
        raise ImageError(
            f"the image is {width}x{height} pixels, too small (or too narrow) for face detection, which needs at "
            f"least {MIN_DETECTION_SIDE} pixels per side;",
            fix=NO_DETECTION_FIX,
        )
    scaled = resize(pixels, scaled_width, DETECTION_HEIGHT)
    gray = np.asarray(Image.fromarray(scaled).convert("L"), dtype=np.float32) / 255.0
    faces = _cascade().detect_multi_scale(  # type: ignore[attr-defined]
        img=gray,
        scale_factor=CASCADE_SCALE_FACTOR,
        step_ratio=CASCADE_STEP_RATIO,
        min_size=(MIN_FACE_WINDOW, MIN_FACE_WINDOW),
        max_size=gray.shape,
        min_neighbor_number=CASCADE_MIN_NEIGHBOURS,
    )
    if not faces:
        raise FaceNotFoundError(f"no face found in the {width}x{height} image;", fix=NO_DETECTION_FIX)
    face = max(faces, key=lambda f: f["width"] * f["height"])
    return Box(
        x1=int(face["c"] / mult),
        y1=int(face["r"] / mult),
        x2=int((face["c"] + face["width"]) / mult),
        y2=int((face["r"] + face["height"]) / mult),
    )


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
        box: the face box ``(x1, y1, x2, y2)``; detected with :func:`detect_face` when omitted.
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
        return resize(pixels, size, size)
    face = detect_face(pixels) if box is None else Box.coerce(box)
    top, left, side = crop_box(pixels.shape[:2], face)
    height, width = pixels.shape[:2]
    square = np.zeros((side, side, 3), dtype=np.uint8)  # black where the square leaves the image
    rows = slice(max(top, 0), min(top + side, height))
    cols = slice(max(left, 0), min(left + side, width))
    square[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left] = pixels[rows, cols]
    return resize(square, size, size)
