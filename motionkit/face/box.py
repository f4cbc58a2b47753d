"""The face box: one pixel rectangle type for detection, cropping, training data and the command line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from motionkit.errors import ImageError


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
