"""Rotary position embedding (RoPE) of IMTalker's flow transformer, "rotate-half" convention.

For head dimension ``d`` (IMTalker: 64) and base ``b`` (10000), position ``p`` and ``i = 0 .. d/2 - 1``::

    f_i          = b^(-2i / d)                                  (the ``inv_freq`` buffer of the official module)
    angle[p]     = [p f_0 .. p f_{d/2-1} | p f_0 .. p f_{d/2-1}]                       (d,)
    rotate(q)[p] = q[p] cos(angle[p]) + [-q_{d/2..d-1} | q_{0..d/2-1}][p] sin(angle[p])

i.e. dimensions ``i`` and ``i + d/2`` form one rotated pair. The table is computed in float32 as the official code
caches it (positions times frequencies in float32, then cos/sin), so it matches bit for bit.
"""

from __future__ import annotations

import torch
from torch import nn

ROPE_BASE = 10000.0
"""Base of the rotary frequencies (IMTalker's)."""


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1 | x2] -> [-x2 | x1]`` on the last dimension."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


class RotaryEmbedding(nn.Module):
    """RoPE for ``head_dim`` features over ``length`` positions (``0 .. length - 1``).

    The ``(length, head_dim)`` cos/sin tables are non-persistent buffers: they follow ``.to(device)`` and are not
    part of the ``state_dict`` (a checkpoint's ``rotary_emb.inv_freq`` is the constructor's value).
    """

    cos: torch.Tensor
    sin: torch.Tensor

    def __init__(self, head_dim: int, length: int, base: float = ROPE_BASE) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embedding needs an even head dimension, got {head_dim}")
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
        table = torch.cat([angles, angles], dim=-1)
        self.register_buffer("cos", table.cos(), persistent=False)
        self.register_buffer("sin", table.sin(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, H, N, head_dim)`` with ``N <= length`` -> the same shape, rotated by position."""
        n = x.shape[-2]
        cos, sin = self.cos[:n].to(x.dtype), self.sin[:n].to(x.dtype)
        return x * cos + rotate_half(x) * sin
