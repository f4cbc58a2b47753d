"""Launch descriptions the launchers compute once per problem shape and reuse (``functools.lru_cache``).

At small shapes a kernel call is host-bound, and before this cache every call re-derived its tiles, grid and
keyword arguments (Triton's ``cdiv`` alone is a ``constexpr_function`` costing microseconds per call on the host).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LAUNCH_CACHE_SIZE = 1024
"""Problems whose launches are kept per kernel family: a training loop repeats a few shapes, and the bound caps
the memory of a stream of varying lengths."""


@dataclass(frozen=True)
class Launch:
    """Grid and keyword arguments (compile-time constants, ``num_warps``, ``num_stages``) of one kernel launch."""

    grid: tuple[int, int]
    options: dict[str, Any]


def cdiv(numerator: int, denominator: int) -> int:
    """``ceil(numerator / denominator)`` for positive ints, in plain Python."""
    return -(-numerator // denominator)
