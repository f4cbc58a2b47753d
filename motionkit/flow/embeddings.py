"""Embeddings of the flow transformer: the sinusoid position table, flow time, and per-frame tokens."""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import torch
from torch import nn

from motionkit.flow.linear import Linear

MAX_PERIOD = 10000.0
"""Longest period of both sinusoid embeddings (position table and flow time), as in FLOAT and DiT."""

TIME_EMBED_INIT_STD = 0.02
"""Standard deviation of the time-MLP weights when a model is initialised from scratch (DiT's choice)."""


def sinusoid_position_table(length: int, dim: int) -> torch.Tensor:
    """FLOAT's fixed positional table, interleaved sin/cos, shape ``(1, length, dim)`` float32.

    ``PE[p, j] = sin(p / 10000^(2*floor(j/2)/dim))`` for even ``j`` and ``cos(...)`` for odd ``j``, evaluated in
    float64 and rounded once to float32 (the official constructor uses float32 arithmetic, which differs by at
    most ~2e-6; a loaded checkpoint's stored table is used as is, so this only matters for new models).
    """
    p = np.arange(length, dtype=np.float64)[:, None]
    j = np.arange(dim)
    angle = p / np.power(MAX_PERIOD, 2 * (j // 2) / dim)
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return torch.from_numpy(table.astype(np.float32)).unsqueeze(0)


def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoid features of the flow time, ``[cos(t f), sin(t f)]`` (cos half first), shape ``(N, dim)``.

    ``f_i = exp(-ln(10000) i / (dim/2))`` for ``i = 0 .. dim/2 - 1``; ``t`` (shape ``(N,)``) is used unscaled, so
    ``t`` in ``[0, 1]`` spans a small part of each period (exactly FLOAT's/DiT's ``timestep_embedding``).
    """
    half = dim // 2
    freqs = torch.exp(-math.log(MAX_PERIOD) * torch.arange(0, half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedder(nn.Module):
    """Flow time ``t`` -> ``(N, hidden)``: sinusoid features -> Linear -> SiLU -> Linear (keys ``mlp.0``, ``mlp.2``)."""

    def __init__(self, hidden_dim: int, frequency_dim: int) -> None:
        super().__init__()
        self.frequency_dim = frequency_dim
        self.mlp = nn.Sequential(Linear(frequency_dim, hidden_dim), nn.SiLU(), Linear(hidden_dim, hidden_dim))

    @property
    def linears(self) -> tuple[nn.Linear, nn.Linear]:
        """The two linear layers (FLOAT keys ``mlp.0``, ``mlp.2``)."""
        return cast(nn.Linear, self.mlp[0]), cast(nn.Linear, self.mlp[2])

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """``t``: ``(N,)`` flow times; returns ``(N, hidden_dim)``."""
        features = timestep_features(t, self.frequency_dim).to(self.linears[0].weight.dtype)
        out: torch.Tensor = self.mlp(features)
        return out

    def reset_parameters(self) -> None:
        for layer in self.linears:
            nn.init.normal_(layer.weight, std=TIME_EMBED_INIT_STD)
            nn.init.zeros_(layer.bias)


class FrameEmbedder(nn.Module):
    """Motion latents ``(B, N, D)`` -> tokens ``(B, N, hidden)`` by one linear map (key ``proj``; no norm)."""

    def __init__(self, motion_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.proj = Linear(motion_dim, hidden_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.proj(x)
        return out
