"""Whether Triton is installed. Nothing here imports Triton, so the PyTorch references run without it."""

from __future__ import annotations

import importlib.util

TRITON_INSTALLED = importlib.util.find_spec("triton") is not None
"""True when the ``triton`` package can be imported."""
