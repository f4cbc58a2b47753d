"""The face box: one pixel rectangle type for detection, cropping, training data and the command line.

A box beside an image file: ``<image stem>.face.json`` (``{"box": [x1, y1, x2, y2]}``) gives the face box of that
image, read by :func:`motionkit.face.crop_portrait` when no box is passed (for portraits the detector cannot find,
such as the drawn face of the bundled demo portrait).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from motionkit.errors import ImageError

BOX_FILE_SUFFIX = ".face.json"
"""Suffix of the face-box file beside an image (replaces the image's own suffix)."""


@dataclass(frozen=True)
class Box:
    """A box in pixel coordinates of an image: columns ``[x1, x2)``, rows ``[y1, y2)`` (a face, or a region of
    one such as the mouth)."""

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

    def as_tuple(self) -> tuple[int, int, int, int]:
        """``(x1, y1, x2, y2)``."""
        return (self.x1, self.y1, self.x2, self.y2)

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


def box_file(image_path: str | Path) -> Path:
    """Where the face-box file of ``image_path`` lives: ``portrait.png`` -> ``portrait.face.json``."""
    return Path(image_path).with_suffix(BOX_FILE_SUFFIX)


def read_box_file(image_path: str | Path) -> Box | None:
    """The face box recorded beside ``image_path`` (see the module docstring), or ``None`` when there is no file.

    Raises:
        ImageError: the file exists but is not ``{"box": [x1, y1, x2, y2]}``.
    """
    path = box_file(image_path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImageError(f"face-box file {path} is unreadable ({exc}); fix it or delete it.") from exc
    if not isinstance(data, dict) or "box" not in data:
        raise ImageError(f'face-box file {path} must hold {{"box": [x1, y1, x2, y2]}}; fix it or delete it.')
    values = data["box"]
    if not (isinstance(values, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)):
        raise ImageError(f"face-box file {path}: the box must be four integer pixel coordinates, got {values!r}.")
    return Box.coerce(values)
