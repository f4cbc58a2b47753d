"""motionkit's Triton kernels with PyTorch references: banded temporal attention and frame-wise AdaLN.

The public functions dispatch on ``backend``: ``"auto"`` uses Triton for CUDA tensors when Triton is
installed and the PyTorch reference otherwise; ``"triton"`` and ``"torch"`` force one.
"""

from motionkit_kernels.dispatch import (
    TRITON_AVAILABLE,
    TRITON_INTERPRETED,
    adaln_modulate,
    banded_attention,
    gated_residual,
    gated_residual_adaln,
)

__all__ = [
    "TRITON_AVAILABLE",
    "TRITON_INTERPRETED",
    "adaln_modulate",
    "banded_attention",
    "gated_residual",
    "gated_residual_adaln",
]
