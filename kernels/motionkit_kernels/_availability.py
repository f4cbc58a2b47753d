"""Whether the Triton kernels can run here. Nothing here imports Triton, so the PyTorch references run without it."""

from __future__ import annotations

import importlib.util
import os

import torch

TRITON_INSTALLED = importlib.util.find_spec("triton") is not None
"""True when the ``triton`` package can be imported."""

_FALSE_VALUES = ("", "0", "false", "off", "no")


def interpreter_requested() -> bool:
    """Whether ``TRITON_INTERPRET`` asks for Triton's CPU interpreter (Triton reads it when kernels are decorated)."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() not in _FALSE_VALUES


def kernels_unusable_reason() -> str:
    """Why the Triton kernels cannot run in this process ("" if they can): Triton must be installed, and PyTorch
    built with CUDA (the kernels target NVIDIA GPUs) unless the interpreter is requested."""
    if not TRITON_INSTALLED:
        return "the triton package is not installed (pip install 'motionkit[triton]', Linux)"
    if torch.version.cuda is None and not interpreter_requested():
        return (
            "this PyTorch build has no CUDA support (to run the kernels in Triton's CPU interpreter for testing, "
            "set TRITON_INTERPRET=1 before importing motionkit_kernels)"
        )
    return ""
