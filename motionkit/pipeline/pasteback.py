"""Paste-back: a learned renderer's square face crop put back into the photo (or video frame) it was cut from.

A crop-based renderer (FLOAT, synthetic-demo) draws an ``S x S`` square cut from the photo by FLOAT's crop rule
(:func:`motionkit.face.crop_box`): rows ``[top, top + height)`` and columns ``[left, left + width)`` of the photo
(:class:`CropWindow`; the square may leave the photo, where the crop was padded with black). Paste-back inverts
that transform and blends::

    R = resize(frame, (height, width))                 the rendered crop back at the photo's scale (bilinear)
    R' = R + (mean_band(P) - mean_band(R))              colour/brightness match per channel, per frame
    out = round(P (1 - m) + R' m)   where m > 0         P: the photo, m: the blend mask
    out = P                         where m = 0         bit for bit

The blend mask ``m`` (:func:`face_mask`) covers the face region: the convex hull of the face stack's 468 landmarks
grown by :data:`MASK_GROWTH` of the face size (room for the head to move) and feathered by a Gaussian of
:data:`FEATHER` face sizes, cut to zero outside the crop window (where nothing was rendered) with the same feather
inside its edges; values below :data:`MASK_FLOOR` are set to exactly 0 so the photo is untouched outside. Without
landmarks (a face given by a box, a drawing the face stack cannot find) the hull is the ellipse inscribed in the
face box. ``mean_band`` is the mean weighted by ``m (1 - m)`` (the feather band, where photo and render meet), so
the render's global colour or brightness drift does not show as a seam.

The output keeps the photo's size and aspect ratio; H.264 needs even sizes, so the video writer pads an odd width or
height with one repeated column / row (:class:`motionkit.io.VideoWriter`): at most one pixel, never a crop.

The photo family draws the whole photo at its own size: there is nothing to paste back, and
:meth:`PasteBack.for_portrait` returns ``None`` for it (the identity), not an error.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from scipy import ndimage

from motionkit.errors import FaceNotFoundError, ShapeError
from motionkit.face import Box, crop_box, face_box, read_box_file
from motionkit.face.crop import default_stack
from motionkit.io.image import UINT8_MAX, ImageInput, load_image
from motionkit.validation import check_tensor

MASK_GROWTH = 0.25
"""The landmark hull is scaled about its centre by ``1 + MASK_GROWTH``: the forehead above the mesh, the jaw line
and the room a turning or nodding head moves into are pasted too."""

FEATHER = 0.08
"""Gaussian sigma of the mask's edge, as a share of the face size (the mean side of the landmark box)."""

MASK_FLOOR = 1.0 / 512.0
"""Mask values below this are set to 0: a weight that cannot change an 8-bit pixel by half a level."""

GAUSSIAN_TRUNCATE = 3.0
"""The feather's Gaussian is cut at this many sigmas (so the mask has a finite support)."""


@dataclass(frozen=True)
class CropWindow:
    """Where a renderer's square input came from in the photo: rows ``[top, top + height)``, columns
    ``[left, left + width)`` in photo pixels, possibly extending outside the photo (FLOAT's black padding)."""

    top: int
    left: int
    height: int
    width: int

    @classmethod
    def for_photo(cls, shape: tuple[int, int], box: Box | None, crop: bool = True) -> CropWindow:
        """The window of :func:`motionkit.face.crop_portrait`: FLOAT's square around ``box`` (``crop=True``) or the
        whole photo (``crop=False``, resized to the model's square without keeping its aspect ratio)."""
        if not crop:
            return cls(0, 0, shape[0], shape[1])
        if box is None:
            raise ShapeError("a crop window needs the face box the portrait was cropped around.")
        top, left, side = crop_box(shape, box)
        return cls(top, left, side, side)

    def visible(self, shape: tuple[int, int]) -> tuple[slice, slice]:
        """The rows and columns of a photo of ``shape`` that the window covers."""
        rows = slice(max(self.top, 0), min(self.top + self.height, shape[0]))
        cols = slice(max(self.left, 0), min(self.left + self.width, shape[1]))
        return rows, cols


def hull_points(landmarks: np.ndarray | None, box: Box) -> np.ndarray:
    """``(N, 2)`` outline of the face in photo pixels: the landmarks' ``x, y`` or, without them, 64 points of the
    ellipse inscribed in ``box``."""
    if landmarks is not None:
        return np.asarray(landmarks, dtype=np.float64)[:, :2]
    angle = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
    cx, cy = (box.x1 + box.x2) / 2, (box.y1 + box.y2) / 2
    return np.stack([cx + box.width / 2 * np.cos(angle), cy + box.height / 2 * np.sin(angle)], axis=1)


def face_mask(shape: tuple[int, int], window: CropWindow, outline: np.ndarray) -> np.ndarray:
    """The blend mask ``(H, W)`` float32 in ``[0, 1]`` of the module docstring for a photo of ``shape``.

    Args:
        shape: the photo's ``(H, W)``.
        window: the crop window (the mask is 0 outside it).
        outline: ``(N, 2)`` face points in pixels (:func:`hull_points`).
    """
    height, width = shape
    points = np.asarray(outline, dtype=np.float64)
    lo, hi = points.min(axis=0), points.max(axis=0)
    size = max(float((hi - lo).mean()), 1.0)
    centre = points.mean(axis=0)
    hull = convex_hull(centre + (points - centre) * (1.0 + MASK_GROWTH))
    sigma = FEATHER * size
    # only the hull's box plus the Gaussian's reach can be non-zero: feather there (same values as over the whole
    # photo, since the box's margin is zero to the Gaussian's reach) and leave the rest 0
    reach = int(np.ceil(GAUSSIAN_TRUNCATE * sigma)) + 1
    x0, y0 = (max(int(np.floor(v)) - reach, 0) for v in hull.min(axis=0))
    x1, y1 = (int(np.ceil(v)) + reach + 1 for v in hull.max(axis=0))
    x1, y1 = min(x1, width), min(y1, height)
    mask = np.zeros((height, width), dtype=np.float32)
    if x1 <= x0 or y1 <= y0:
        return mask
    canvas = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(canvas).polygon([(float(x) - x0, float(y) - y0) for x, y in hull], fill=255)
    hard = np.asarray(canvas, dtype=np.float32) / UINT8_MAX
    soft = ndimage.gaussian_filter(hard, sigma, truncate=GAUSSIAN_TRUNCATE)
    # the window's edges fade like the hull's, so a face near the window border shows no step
    inside = np.zeros((height, width), dtype=np.float32)
    rows, cols = window.visible(shape)
    inside[rows, cols] = _window_ramp(window, shape, sigma)
    region = np.clip(soft * inside[y0:y1, x0:x1], 0.0, 1.0)
    region[region < MASK_FLOOR] = 0.0
    mask[y0:y1, x0:x1] = region
    return mask


def _window_ramp(window: CropWindow, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """``(h, w)`` over the window's visible part: 0 at the window's edges, rising to 1 over ``2 sigma`` pixels (a
    smoothstep); edges on or beyond the photo's border do not fade (there is no photo there to meet)."""
    rows, cols = window.visible(shape)
    ramp = max(2.0 * sigma, 1.0)

    def profile(part: slice, lo: int, hi: int, extent: int) -> np.ndarray:
        x = np.arange(part.start, part.stop, dtype=np.float64) + 0.5
        near = np.ones_like(x)
        if lo > 0:
            near = np.minimum(near, np.clip((x - lo) / ramp, 0.0, 1.0))
        if hi < extent:
            near = np.minimum(near, np.clip((hi - x) / ramp, 0.0, 1.0))
        return near * near * (3.0 - 2.0 * near)

    along_rows = profile(rows, window.top, window.top + window.height, shape[0])
    along_cols = profile(cols, window.left, window.left + window.width, shape[1])
    return np.outer(along_rows, along_cols).astype(np.float32)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain: the hull of ``(N, 2)`` points, counter-clockwise."""
    ordered = sorted({(float(x), float(y)) for x, y in points})
    if len(ordered) < 3:
        return np.asarray(ordered)

    def half(sequence: list[tuple[float, float]]) -> list[tuple[float, float]]:
        chain: list[tuple[float, float]] = []
        for p in sequence:
            while len(chain) >= 2:
                (ax, ay), (bx, by) = chain[-2], chain[-1]
                if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) > 0:
                    break
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(ordered), half(ordered[::-1])
    return np.asarray(lower[:-1] + upper[:-1])


def _centre_inside(landmarks: np.ndarray, box: Box) -> bool:
    x, y = np.asarray(landmarks, dtype=np.float64)[:, :2].mean(axis=0)
    return box.x1 <= x < box.x2 and box.y1 <= y < box.y2


@dataclass(frozen=True, eq=False)
class PasteBack:
    """Puts rendered crops back into one photo (see the module docstring).

    Attributes:
        photo: ``(H, W, 3)`` uint8 RGB, the photo the portrait was cut from (never modified).
        window: where the crop came from.
        mask: ``(H, W)`` float32 blend mask (0 outside the face region).
        colour_match: match the render's per-channel mean to the photo's in the feather band.
    """

    photo: np.ndarray
    window: CropWindow
    mask: np.ndarray
    colour_match: bool = True

    def __post_init__(self) -> None:
        if self.photo.dtype != np.uint8 or self.photo.ndim != 3 or self.photo.shape[2] != 3:
            raise ShapeError(f"the photo must be (H, W, 3) uint8, got {self.photo.dtype} {self.photo.shape}.")
        if self.mask.shape != self.photo.shape[:2]:
            raise ShapeError(f"the mask has shape {self.mask.shape} but the photo {self.photo.shape[:2]}.")
        if not self.mask.any():
            raise ShapeError("the blend mask is empty: the face lies outside the crop window.")

    @functools.cached_property
    def bounds(self) -> tuple[slice, slice]:
        """The rows and columns of the mask's non-zero part: the only pixels paste-back changes."""
        ys, xs = np.nonzero(self.mask)
        return slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1)

    @classmethod
    def for_photo(
        cls,
        image: ImageInput,
        *,
        box: Box | Sequence[float] | None = None,
        crop: bool = True,
        landmarks: np.ndarray | None = None,
        colour_match: bool = True,
    ) -> tuple[PasteBack, Box | None]:
        """The paste-back of a photo cropped by FLOAT's rule, and the face box to encode it with.

        Args:
            image: the photo.
            box: the face box; default: the box file beside an image path, else the face stack's landmark box
                (:func:`motionkit.face.face_box`), as :func:`motionkit.face.crop_portrait` chooses it.
            crop: ``False``: the whole photo was resized to the model's square.
            landmarks: ``(468, 2+)`` face landmarks in photo pixels for the mask; default: the face stack's, or the
                ellipse inscribed in the box when it finds no face.

        Returns:
            ``(paste_back, box)``: encode the portrait with ``box`` (``None`` for ``crop=False``) so the crop and
            its inverse agree.
        """
        pixels = load_image(image)
        if box is None and crop and isinstance(image, (str, Path)):
            box = read_box_file(image)
        if landmarks is None:
            with contextlib.suppress(FaceNotFoundError):  # a given box without a findable face: the box's ellipse
                landmarks = default_stack().face(pixels).points
        if box is not None:
            face = Box.coerce(box)
            if landmarks is not None and not _centre_inside(landmarks, face):
                landmarks = None  # the stack's largest face is another one than the boxed face: the box's ellipse
        elif crop:
            face = face_box(pixels)  # FLOAT's crop rule (raises, saying what to try, when there is no face)
        else:
            face = Box(0, 0, pixels.shape[1], pixels.shape[0])
        window = CropWindow.for_photo(pixels.shape[:2], face, crop)
        mask = face_mask(pixels.shape[:2], window, hull_points(landmarks, face))
        return cls(pixels, window, mask, colour_match), (face if crop else None)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the output frames: the photo's."""
        return (int(self.photo.shape[0]), int(self.photo.shape[1]))

    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        """``(n, 3, S, S)`` rendered crops in ``[-1, 1]`` -> ``(n, H, W, 3)`` uint8 frames at the photo's size."""
        check_tensor("frames", frames, ndim=4, hint="Expected rendered crops (n, 3, S, S) in [-1, 1].")
        rows, cols = self.bounds
        window = self.window
        scale_y, scale_x = frames.shape[2] / window.height, frames.shape[3] / window.width
        # sample the render only where the mask is non-zero: pixel centres of the bounds, in crop coordinates
        y = (torch.arange(rows.start, rows.stop, dtype=torch.float32) + 0.5 - window.top) * scale_y
        x = (torch.arange(cols.start, cols.stop, dtype=torch.float32) + 0.5 - window.left) * scale_x
        grid_y = (2.0 * y / frames.shape[2] - 1.0).view(-1, 1).expand(-1, x.numel())
        grid_x = (2.0 * x / frames.shape[3] - 1.0).view(1, -1).expand(y.numel(), -1)
        grid = torch.stack([grid_x, grid_y], dim=-1)[None].expand(frames.shape[0], -1, -1, -1)
        sampled = F.grid_sample(
            frames.detach().float().cpu().clamp(-1.0, 1.0),
            grid,
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        )
        # (n, h, w, 3) in [0, 255]
        rendered = ((sampled + 1.0) * (UINT8_MAX / 2.0)).permute(0, 2, 3, 1).numpy()
        photo = self.photo[rows, cols].astype(np.float32)
        mask = self.mask[rows, cols][None, :, :, None]
        if self.colour_match:
            band = (mask * (1.0 - mask))[0]
            weight = float(band.sum())
            if weight > 0:
                photo_mean = (photo * band).sum(axis=(0, 1)) / weight
                render_mean = (rendered * band[None]).sum(axis=(1, 2)) / weight  # (n, 3)
                rendered = rendered + (photo_mean[None] - render_mean)[:, None, None, :]
        blended = np.clip(np.rint(photo[None] * (1.0 - mask) + rendered * mask), 0, UINT8_MAX).astype(np.uint8)
        out = np.repeat(self.photo[None], frames.shape[0], axis=0)
        touched = np.broadcast_to(mask > 0, blended.shape)
        region = out[:, rows, cols]
        region[touched] = blended[touched]
        return out
