"""Learning-rate schedules as pure functions of the step (no state to checkpoint beyond the step itself)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from motionkit.config.train import ScheduleName
from motionkit.errors import ConfigError


@dataclass(frozen=True)
class LRSchedule:
    """Multiplier ``f(s)`` of the peak learning rate at optimiser step ``s = 0, 1, ...`` (``lr_s = lr * f(s)``).

    With warm-up length ``W`` and total steps ``S``:

    * ``constant``:        ``f(s) = 1``
    * ``warmup_constant``: ``f(s) = min(1, (s + 1) / W)``
    * ``warmup_cosine``:   ``f(s) = (s + 1) / W`` for ``s < W``, then with progress
      ``p = (s - W) / max(1, S - W)`` (clamped to ``[0, 1]``):
      ``f(s) = r + (1 - r) * (1 + cos(pi * p)) / 2``, where ``r`` is ``min_ratio``.

    The warm-up counts ``s + 1`` so that the first step already trains (``f(0) = 1 / W``); ``W = 0`` means
    no warm-up.
    """

    name: ScheduleName
    total_steps: int
    warmup_steps: int = 0
    min_ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.total_steps < 1 or self.warmup_steps < 0:
            raise ConfigError(f"schedule needs total_steps >= 1 and warmup_steps >= 0, got {self}.")
        if not 0.0 <= self.min_ratio <= 1.0:
            raise ConfigError(f"schedule min_ratio must be in [0, 1], got {self.min_ratio}.")

    def __call__(self, step: int) -> float:
        if self.name == "constant":
            return 1.0
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.name == "warmup_constant":
            return 1.0
        progress = min(1.0, max(0.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)))
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
