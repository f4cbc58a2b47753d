"""The One Euro filter (Casiery, Roussel and Vogel, CHI 2012) for landmark tracks, as MediaPipe's face mesh uses it.

Per coordinate, with frame interval ``dt`` seconds and the exponential smoothing factor
``alpha(f) = 1 / (1 + 1 / (2 pi f dt))``::

    dx  = (x - x_prev_filtered) / dt              derivative, itself smoothed at ``derivative_cutoff`` Hz
    f_c = min_cutoff + beta * |dx_smoothed|       the cut-off rises with speed: smooth when still, quick when moving
    x_filtered = x_prev_filtered + alpha(f_c) * (x - x_prev_filtered)

The speed is measured in face sizes per second (the face size is the mean side of the landmarks' bounding box),
so ``beta`` suits a face of any size (MediaPipe's "object scale"); the filtered values stay in pixels.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

MIN_SIZE = 1.0
"""Smallest face size used as the speed's unit, pixels (a degenerate set of points divides by this)."""


class OneEuroConfig(BaseModel):
    """One Euro filter settings (defaults: MediaPipe's face-landmark smoothing)."""

    model_config = ConfigDict(frozen=True)

    min_cutoff: float = Field(0.05, gt=0, description="Cut-off frequency at rest, Hz (lower: steadier, laggier).")
    beta: float = Field(80.0, ge=0, description="Cut-off increase per face-size/s of speed (higher: less lag).")
    derivative_cutoff: float = Field(1.0, gt=0, description="Cut-off of the speed estimate, Hz.")


def _alpha(cutoff: float | np.ndarray, dt: float) -> float | np.ndarray:
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))


class OneEuroFilter:
    """Filters a stream of (N, D) point arrays; :meth:`reset` forgets the past (e.g. after a re-detection)."""

    def __init__(self, config: OneEuroConfig | None = None) -> None:
        self.config = config or OneEuroConfig()
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def reset(self) -> None:
        """Start over: the next value passes unfiltered."""
        self._value = self._speed = None

    def __call__(self, points: np.ndarray, dt: float) -> np.ndarray:
        """The filtered ``points`` (N, D) after ``dt`` seconds since the previous call (a new array)."""
        x = np.array(points, dtype=np.float64)
        if self._value is None or self._speed is None or dt <= 0:
            self._value, self._speed = x, np.zeros_like(x)
            return x.copy()
        lo, hi = x[:, :2].min(axis=0), x[:, :2].max(axis=0)
        size = max(float((hi - lo).mean()), MIN_SIZE)
        config = self.config
        speed = (x - self._value) / (dt * size)
        self._speed = self._speed + _alpha(config.derivative_cutoff, dt) * (speed - self._speed)
        cutoff = config.min_cutoff + config.beta * np.abs(self._speed)
        self._value = self._value + _alpha(cutoff, dt) * (x - self._value)
        return self._value.copy()
