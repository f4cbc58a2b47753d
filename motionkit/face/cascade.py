"""Offline face detection with scikit-image's bundled LBP frontal-face cascade, on FLOAT's 360-px detection image.

FLOAT detects the face on a copy of the image scaled to 360 px height and scales the box back (``int`` truncation);
this module does the same with the LBP cascade (no download, no extra dependency) instead of FLOAT's S3FD network,
so boxes differ slightly from FLOAT's.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from motionkit.errors import FaceNotFoundError, Fix, ImageError
from motionkit.face.box import Box
from motionkit.io.image import ImageInput, load_image, resize_image

DETECTION_HEIGHT = 360
"""Images are scaled to this height before detection (FLOAT's rule)."""

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


@functools.lru_cache(maxsize=1)
def _cascade() -> object:
    import skimage.data
    from skimage.feature import Cascade

    return Cascade(str(Path(skimage.data.__file__).parent / CASCADE_FILE))


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
    scaled = resize_image(pixels, scaled_width, DETECTION_HEIGHT)
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
