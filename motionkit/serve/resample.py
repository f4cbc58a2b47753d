"""Streaming resampling: audio arriving in chunks of any size, at any rate, to the model's rate.

The filter is ``scipy.signal.resample_poly``'s (:func:`motionkit.io.audio.resample` uses it for whole files): for the
rate ratio ``up / down`` in lowest terms, ``h = up * firwin(2 * half + 1, 1 / max(up, down), kaiser(5))`` with
``half = 10 * max(up, down)``, and output sample ``k`` is

    y[k] = sum_n x[n] * h[k * down + half - n * up]        (x[n] = 0 outside the signal)

Output ``k`` needs input up to ``n = floor((k * down + half) / up)``, so it is emitted as soon as that sample has
arrived (a delay of ``half / up`` input samples: 0.6 ms from 44.1 kHz) and :meth:`StreamResampler.finish` emits the
rest with zeros past the end. The result does not depend on how the input was chunked, and equals
``resample_poly(x, up, down)`` of the whole signal.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

KAISER_BETA = 5.0
"""``resample_poly``'s default window, ``("kaiser", 5.0)``."""
HALF_LENGTH_PER_RATE = 10
"""``resample_poly``'s filter half length per unit of ``max(up, down)``."""


class StreamResampler:
    """Resample a mono stream from ``rate`` to ``target_rate`` chunk by chunk (see the module docstring).

    Args:
        rate: the incoming sample rate (Hz).
        target_rate: the rate to produce (Hz).
    """

    def __init__(self, rate: int, target_rate: int) -> None:
        from scipy.signal import firwin

        ratio = Fraction(target_rate, rate)
        self.up, self.down = ratio.numerator, ratio.denominator
        self.identity = self.up == self.down == 1
        self.half = HALF_LENGTH_PER_RATE * max(self.up, self.down)
        self.filter = (
            np.ones(1)
            if self.identity
            else self.up * firwin(2 * self.half + 1, 1.0 / max(self.up, self.down), window=("kaiser", KAISER_BETA))
        )
        self.taps = math.ceil(len(self.filter) / self.up) + 1
        self.buffer = np.zeros(0, dtype=np.float64)  # input samples from index self.base on
        self.base = 0
        self.received = 0
        self.emitted = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Append ``samples`` (1-D) and return every output sample that is now complete (float32)."""
        self.received += len(samples)
        if self.identity:
            return np.asarray(samples, dtype=np.float32)
        self.buffer = np.concatenate([self.buffer, np.asarray(samples, dtype=np.float64)])
        # the last output whose newest input sample has arrived: floor((k down + half) / up) <= received - 1
        last = (self.up * (self.received - 1) - self.half) // self.down
        return self._emit(last + 1)

    def finish(self) -> np.ndarray:
        """The remaining output (the signal ends with zeros), ``ceil(N * up / down)`` samples in all."""
        if self.identity:
            return np.zeros(0, dtype=np.float32)
        return self._emit(-(-self.received * self.up // self.down))

    def _emit(self, end: int) -> np.ndarray:
        """Outputs ``emitted .. end - 1``; then drop input no later output needs."""
        if end <= self.emitted:
            return np.zeros(0, dtype=np.float32)
        k = np.arange(self.emitted, end)
        top = (k * self.down + self.half) // self.up  # newest input each output reads
        n = top[:, None] - np.arange(self.taps)[None, :]  # (K, taps) input indices
        phase = k[:, None] * self.down + self.half - n * self.up
        valid = (phase >= 0) & (phase < len(self.filter)) & (n >= 0) & (n < self.received)
        local = np.clip(n - self.base, 0, max(len(self.buffer) - 1, 0))
        values = self.buffer[local] if len(self.buffer) else np.zeros(n.shape)
        weights = np.where(valid, self.filter[np.clip(phase, 0, len(self.filter) - 1)], 0.0)
        out = (values * weights).sum(axis=1)
        self.emitted = end
        oldest_needed = max((end * self.down + self.half) // self.up - self.taps + 1, 0)
        if oldest_needed > self.base:
            self.buffer = self.buffer[oldest_needed - self.base :]
            self.base = oldest_needed
        return out.astype(np.float32)
