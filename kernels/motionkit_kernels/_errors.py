"""motionkit's error classes, looked up when an error is raised.

``motionkit`` imports ``motionkit_kernels`` while it initialises, so importing ``motionkit.errors`` at module level
here would be circular when ``motionkit_kernels`` is imported first. The classes are resolved at raise time instead.
"""

from __future__ import annotations

import importlib
from typing import Literal

ErrorKind = Literal["ShapeError", "ConfigError"]


def kernel_error(kind: ErrorKind, message: str) -> Exception:
    """``motionkit.errors.<kind>(message)``: ``ShapeError`` for tensor shapes/dtypes, ``ConfigError`` for options."""
    errors = importlib.import_module("motionkit.errors")
    error_class: type[Exception] = getattr(errors, kind)
    return error_class(message)
