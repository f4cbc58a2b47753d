"""Portrait images: loading any common layout as 8-bit RGB, and converting between uint8 arrays and tensors.

The tensor convention is FLOAT's: ``(B, 3, H, W)`` float32 RGB in ``[-1, 1]`` with ``x = (u - 127.5) / 127.5`` for
8-bit values ``u``; frames go back with ``u = uint8(trunc((clamp(x, -1, 1) + 1) / 2 * 255))``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from motionkit.errors import ImageError, ShapeError
from motionkit.validation import check_tensor

PIXEL_CENTER = 127.5
"""8-bit value that maps to 0 (and the scale that maps 0 / 255 to -1 / 1)."""

UINT8_MAX = 255
HIGH_BYTE_SHIFT = 8
"""16-bit samples keep their high byte (what Pillow does for 16-bit RGB PNGs and OpenCV for 16-bit files)."""

ImageInput = str | Path | np.ndarray | Image.Image
"""A path to an image file, an ``(H, W)`` / ``(H, W, 1|3|4)`` array, or a Pillow image."""


def load_image(image: ImageInput) -> np.ndarray:
    """Load a portrait as an ``(H, W, 3)`` uint8 RGB array (a new array; the input is never modified).

    Conversions: grayscale is replicated to RGB, alpha is dropped (as OpenCV's ``imread`` does), palette / CMYK /
    1-bit images are converted, 16-bit samples keep their high byte, float arrays must lie in ``[0, 1]`` and are
    scaled to 0..255. Files are read with Pillow, honouring the EXIF orientation.

    Raises:
        ImageError: missing or unreadable file, not an image, empty image or unsupported layout.
    """
    if isinstance(image, (str, Path)):
        return _from_pil(_open(Path(image)), str(image))
    if isinstance(image, Image.Image):
        return _from_pil(image, "the image")
    if isinstance(image, np.ndarray):
        return _from_array(image, "the image array")
    raise ImageError(
        f"cannot load an image from a {type(image).__name__}; pass a file path, a numpy array (H, W, 3) or a PIL.Image."
    )


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise ImageError(f"image file {path} does not exist; check the path.")
    try:
        with Image.open(path) as handle:
            handle.load()
            return ImageOps.exif_transpose(handle)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise ImageError(f"{path} is not a readable image ({exc}); use a PNG, JPEG, WebP or similar file.") from exc


def _from_pil(image: Image.Image, name: str) -> np.ndarray:
    if image.mode in ("RGB", "L", "RGBA", "I;16", "I;16B", "I;16L", "I", "F"):
        return _from_array(np.asarray(image), name)
    if image.mode in ("LA", "La", "PA"):
        return _from_array(np.asarray(image.convert("L")), name)
    return _from_array(np.asarray(image.convert("RGB")), name)


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * UINT8_MAX
    if array.dtype == np.uint16:
        return (array >> HIGH_BYTE_SHIFT).astype(np.uint8)
    if array.dtype in (np.int32, np.int64, np.uint32) and array.size and array.min() >= 0 and array.max() <= 65535:
        return (array.astype(np.uint32) >> HIGH_BYTE_SHIFT).astype(np.uint8)  # 16-bit data in a wider integer
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
            raise ImageError(
                f"{name} is a float image with values outside [0, 1]; scale it to [0, 1] or convert it to uint8."
            )
        return np.rint(array.astype(np.float64) * UINT8_MAX).astype(np.uint8)
    raise ImageError(f"{name} has unsupported sample type {array.dtype}; use uint8, uint16 or float in [0, 1].")


def _from_array(array: np.ndarray, name: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=2)
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[:, :, :3]
    else:
        raise ImageError(
            f"{name} has shape {array.shape}; expected (H, W) grayscale or (H, W, 3|4) channels-last RGB(A)."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"{name} is empty (shape {array.shape}).")
    return np.array(_to_uint8(array, name), dtype=np.uint8, order="C", copy=True)


def resize_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 image to ``(height, width, 3)`` with Pillow: box (area) filter when the pixel
    count shrinks, bicubic when it grows; the input itself is returned when it already has that size.

    FLOAT resizes with OpenCV (area / bicubic); the two libraries' interpolations are close, not bit-identical.
    """
    if image.shape[1] == width and image.shape[0] == height:
        return image
    shrinking = width * height < image.shape[0] * image.shape[1]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    return np.array(Image.fromarray(np.ascontiguousarray(image)).resize((width, height), method))


def fit_within(image: np.ndarray, max_side: int) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 image shrunk (:func:`resize_image`, aspect ratio kept, sides rounded) so that its
    longer side is at most ``max_side`` pixels; the input itself when it already fits."""
    height, width = image.shape[:2]
    if max(height, width) <= max_side:
        return image
    scale = max_side / max(height, width)
    return resize_image(image, max(1, round(width * scale)), max(1, round(height * scale)))


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(1, 3, H, W)`` float32 in ``[-1, 1]``: ``(u - 127.5) / 127.5`` (FLOAT's input)."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        described = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image)
        raise ImageError(f"image_to_tensor takes an (H, W, 3) uint8 RGB array, got {described}; use load_image first.")
    return images_to_tensor(image)[None]


def images_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 ``(..., H, W, 3)`` RGB frames -> float32 ``(..., 3, H, W)`` in ``[-1, 1]``: ``(u - 127.5) / 127.5``."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).float().movedim(-1, -3)
    return (x - PIXEL_CENTER) / PIXEL_CENTER


def tensor_to_image(images: torch.Tensor) -> np.ndarray:
    """``(N, 3, H, W)`` or ``(3, H, W)`` tensors in ``[-1, 1]`` -> ``(N, H, W, 3)`` / ``(H, W, 3)`` uint8.

    FLOAT's mapping: clamp to ``[-1, 1]``, ``(x + 1) / 2 * 255`` in float32, cast to uint8 by truncation.
    """
    return frames_to_uint8(images).movedim(-3, -1).cpu().numpy()


def frames_to_uint8(images: torch.Tensor) -> torch.Tensor:
    """``(N, 3, H, W)`` or ``(3, H, W)`` tensors in ``[-1, 1]`` -> uint8 of the same layout, on their own device.

    FLOAT's mapping: clamp to ``[-1, 1]``, ``(x + 1) / 2 * 255`` in float32, cast to uint8 by truncation.
    """
    check_tensor("images", images, ndim=(3, 4), hint="Expected (N, 3, H, W) or (3, H, W) in [-1, 1].")
    if images.shape[-3] != 3:
        raise ShapeError(f"images must have 3 channels in dimension -3, got shape {tuple(images.shape)}.")
    # the clamp's copy is the only temporary: the rest runs in place (the same operations in the same order, so
    # the same bits), which halves the memory traffic of a large frame
    x = images.detach().float().clamp(-1.0, 1.0)
    return x.add_(1.0).div_(2.0).mul_(UINT8_MAX).to(torch.uint8)
