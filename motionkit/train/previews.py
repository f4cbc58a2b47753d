"""Preview images written during training (e.g. source | driving | reconstruction rows of the auto-encoder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from motionkit.errors import ShapeError
from motionkit.io.files import atomic_path
from motionkit.validation import check_tensor


def image_grid(rows: Sequence[torch.Tensor]) -> np.ndarray:
    """Tile image batches into one uint8 ``(R * H, B * W, 3)`` array: row ``r`` shows batch ``rows[r]``.

    Each row is ``(B, 3, H, W)`` in ``[-1, 1]`` (values outside are clamped); pixels are
    ``uint8(clamp((x + 1) * 127.5, 0, 255))`` truncated, as motionkit saves frames.
    """
    if not rows:
        raise ShapeError("image_grid needs at least one row of images.")
    for index, row in enumerate(rows):
        check_tensor(f"rows[{index}]", row, ndim=4, hint="Expected (B, 3, H, W) in [-1, 1].")
        if row.shape[1:] != rows[0].shape[1:] or row.shape[0] != rows[0].shape[0] or row.shape[1] != 3:
            raise ShapeError(f"rows[{index}] is {tuple(row.shape)}; every row must be (B, 3, H, W) like rows[0].")
    stacked = torch.stack([row.detach().float().cpu() for row in rows])  # (R, B, 3, H, W)
    pixels = ((stacked + 1) * 127.5).clamp(0, 255).to(torch.uint8)
    count, batch, _, height, width = pixels.shape
    return pixels.permute(0, 3, 1, 4, 2).reshape(count * height, batch * width, 3).numpy()


def save_image_grid(rows: Sequence[torch.Tensor], path: str | Path) -> Path:
    """Write :func:`image_grid` of ``rows`` to ``path`` (PNG or any format Pillow infers), atomically."""
    from PIL import Image

    path = Path(path)
    grid = image_grid(rows)
    with atomic_path(path) as tmp:
        Image.fromarray(grid).save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
    return path
