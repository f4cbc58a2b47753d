"""``nn.Linear`` with a CPU inference fast path: oneDNN's matrix product on a weight packed once.

The flow transformer is GEMM-bound (its linears are ~98 % of a CPU forward). ``F.linear`` re-reads the plain
row-major weight on every call; oneDNN can instead multiply by a copy of the weight reordered once into its
blocked layout (``torch.ops.mkldnn._reorder_linear_weight``). Same math in float32, only the summation order
differs. Measured on the shared 2-core x86_64 CPU (1 thread, torch 2.13.0), for FLOAT's shapes (M = 180 rows =
3 guidance branches x 60 frames, K / N = 1024 ... 6144): 236-251 GFLOP/s packed against 95-108 GFLOP/s with
``F.linear``, max-abs difference ~2e-6 on outputs of order 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATION = "none"


def packed_path_available() -> bool:
    """Whether this torch build has oneDNN (mkldnn) with the packed linear operators."""
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")


_AVAILABLE = packed_path_available()


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters and ``state_dict``) whose CPU float32 inference uses a packed weight.

    The packed path is taken when no autograd graph is recorded, the input and weight are CPU float32 tensors, no
    autocast is active, torch is not compiling and oneDNN is available; otherwise it is ``F.linear``. The packed
    copy is rebuilt whenever the weight changes (its storage or its version counter: optimiser steps,
    ``load_state_dict``, ``.to``), so training and inference can alternate freely.

    Attributes:
        packed_enabled: set ``False`` to always use ``F.linear`` (e.g. to compare the two).
    """

    packed_enabled: bool = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self._packed: torch.Tensor | None = None
        self._packed_key: tuple[int, int] | None = None

    def _use_packed(self, x: torch.Tensor) -> bool:
        return (
            _AVAILABLE
            and self.packed_enabled
            and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and self.weight.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
            and not torch.compiler.is_compiling()
        )

    def _packed_weight(self, rows: int) -> torch.Tensor:
        key = (self.weight.data_ptr(), self.weight._version)
        if self._packed is None or self._packed_key != key:
            self._packed = torch.ops.mkldnn._reorder_linear_weight(self.weight.detach(), rows)
            self._packed_key = key
        return self._packed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._use_packed(x):
            rows = x.numel() // max(x.shape[-1], 1)
            bias = None if self.bias is None else self.bias.detach()
            return torch.ops.mkldnn._linear_pointwise(
                x.contiguous(), self._packed_weight(rows), bias, _ACTIVATION, [], ""
            )
        return F.linear(x, self.weight, self.bias)
