"""FLOAT's flow-matching transformer (FMT): the vector field ``v(x_t, t | conditions)`` over one window.

Per window the network sees ``N = L' + L`` frames (FLOAT: 10 context + 50 current = 60)::

    tokens = Linear_x([prev_x, x_t]) + PE                                       (B, N, h)
    c      = Linear_c([wr, [prev_wa, wa], we]) + MLP_t([cos(t f), sin(t f)])     (B, N, h)  one vector per frame
    for each of the ``depth`` blocks (DiT with per-frame adaLN-Zero):
        (shift1, scale1, gate1, shift2, scale2, gate2) = Linear(SiLU(c))
        tokens = tokens + gate1 * Attn_band(LN(tokens) (1 + scale1) + shift1)     (|i - j| <= attention_window)
        tokens = tokens + gate2 * MLP(LN(tokens) (1 + scale2) + shift2)
    (shift, scale) = Linear(SiLU(c));  out = Linear_out(LN(tokens) (1 + scale) + shift)   (B, N, D)

The sampler keeps ``out[:, L':]``, the velocity of the ``L`` current frames. Sub-module names are FLOAT's
(``x_embedder.proj``, ``t_embedder.mlp.0/2``, ``c_embedder``, ``blocks.i.attn.qkv/proj``, ``blocks.i.mlp.fc1/fc2``,
``blocks.i.adaLN_modulation.1``, ``decoder.adaLN_modulation.1``, ``decoder.linear``, ``pos_embed``), so an official
checkpoint's ``fmt.*`` entries load without renaming. Attention and the AdaLN seams run through
:mod:`motionkit_kernels` (Triton on CUDA, the PyTorch reference elsewhere).
"""

from __future__ import annotations

from typing import cast

import torch
from motionkit_kernels import adaln_modulate, banded_attention, gated_residual, gated_residual_adaln
from motionkit_kernels.dispatch import Backend
from torch import nn

from motionkit.config.flow import FlowConfig
from motionkit.errors import ShapeError
from motionkit.flow.embeddings import FrameEmbedder, TimestepEmbedder, sinusoid_position_table
from motionkit.flow.inputs import VectorFieldInputs
from motionkit.flow.linear import Linear
from motionkit.validation import check_tensor


class BandedSelfAttention(nn.Module):
    """Multi-head self-attention restricted to a temporal band (keys ``qkv``, ``proj``).

    ``qkv`` features are ordered ``[q | k | v]``, each split into ``num_heads`` contiguous heads; softmax scale
    ``1 / sqrt(head_dim)``; frame ``i`` attends to ``j`` iff ``|i - j| <= window``.
    """

    def __init__(self, hidden_dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window = window
        self.qkv = Linear(hidden_dim, 3 * hidden_dim)
        self.proj = Linear(hidden_dim, hidden_dim)

    def forward(self, x: torch.Tensor, backend: Backend = "auto") -> torch.Tensor:
        """``x``: ``(B, N, C)`` -> ``(B, N, C)``."""
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        out = banded_attention(q, k, v, self.window, backend=backend)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class FeedForward(nn.Module):
    """timm's ``Mlp``: ``fc2(GELU_tanh(fc1(x)))`` (keys ``fc1``, ``fc2``)."""

    def __init__(self, hidden_dim: int, inner_dim: int) -> None:
        super().__init__()
        self.fc1 = Linear(hidden_dim, inner_dim)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = Linear(inner_dim, hidden_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class FlowBlock(nn.Module):
    """One DiT block with per-frame adaLN-Zero (keys ``attn.*``, ``mlp.*``, ``adaLN_modulation.1``).

    ``(shift1, scale1, gate1, shift2, scale2, gate2) = chunk_6(Linear(SiLU(c)))``, each ``(B, N, h)``::

        x = x + gate1 * Attn(LN(x) (1 + scale1) + shift1)
        x = x + gate2 * MLP(LN(x) (1 + scale2) + shift2)

    The first residual and the second modulation are one fused seam (``gated_residual_adaln``).
    """

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        h = config.hidden_dim
        self.eps = config.norm_eps
        self.attn = BandedSelfAttention(h, config.num_heads, config.attention_window)
        self.mlp = FeedForward(h, int(h * config.mlp_ratio))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), Linear(h, 6 * h))

    @property
    def modulation(self) -> nn.Linear:
        """The adaLN output layer (FLOAT key ``adaLN_modulation.1``), zero-initialised."""
        return cast(nn.Linear, self.adaLN_modulation[1])

    def forward(self, x: torch.Tensor, c: torch.Tensor, backend: Backend = "auto") -> torch.Tensor:
        """``x``: tokens ``(B, N, h)``; ``c``: per-frame condition ``(B, N, h)``."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c).chunk(6, dim=-1)
        h = adaln_modulate(x, shift1, scale1, self.eps, backend=backend)
        x, h = gated_residual_adaln(x, gate1, self.attn(h, backend), shift2, scale2, self.eps, backend=backend)
        return gated_residual(x, gate2, self.mlp(h), backend=backend)


class OutputHead(nn.Module):
    """Modulated output layer (keys ``adaLN_modulation.1``, ``linear``): ``Linear(LN(x) (1 + scale) + shift)``."""

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.eps = config.norm_eps
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), Linear(config.hidden_dim, 2 * config.hidden_dim))
        self.linear = Linear(config.hidden_dim, config.motion_dim)

    @property
    def modulation(self) -> nn.Linear:
        """The adaLN output layer (FLOAT key ``adaLN_modulation.1``), zero-initialised."""
        return cast(nn.Linear, self.adaLN_modulation[1])

    def forward(self, x: torch.Tensor, c: torch.Tensor, backend: Backend = "auto") -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(adaln_modulate(x, shift, scale, self.eps, backend=backend))


class FlowTransformer(nn.Module):
    """The FMT vector field of FLOAT; sizes from :class:`~motionkit.config.FlowConfig` (default ``float-512``).

    A new model is initialised as FLOAT/DiT do (xavier-uniform linears, zero biases, N(0, 0.02) time MLP,
    zero adaLN output layers and output linear), so it outputs exactly zero until trained or loaded.

    Attributes:
        kernel_backend: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"torch"`` or ``"triton"``.
    """

    def __init__(self, config: FlowConfig = FlowConfig()) -> None:  # noqa: B008 (frozen, immutable default)
        super().__init__()
        self.config = config
        h = config.hidden_dim
        self.pos_embed = nn.Parameter(sinusoid_position_table(config.sequence_length, h), requires_grad=False)
        self.x_embedder = FrameEmbedder(config.motion_dim, h)
        self.t_embedder = TimestepEmbedder(h, config.time_embed_dim)
        self.c_embedder = Linear(config.motion_dim + config.audio_dim + config.emotion_dim, h)
        self.blocks = nn.ModuleList(FlowBlock(config) for _ in range(config.depth))
        self.decoder = OutputHead(config)
        self.kernel_backend: Backend = "auto"
        self.reset_parameters()

    def use_packed_linears(self, enabled: bool = True) -> FlowTransformer:
        """Turn the packed CPU inference path of every linear layer on or off (:class:`~motionkit.flow.linear.Linear`;
        on by default; off reproduces ``F.linear``'s summation order exactly); returns ``self``."""
        for module in self.modules():
            if isinstance(module, Linear):
                module.packed_enabled = enabled
        return self

    def reset_parameters(self) -> None:
        """FLOAT's initialisation for training from scratch (the position table is rebuilt too)."""
        init_adaln_zero(self, self.t_embedder, self.blocks, self.decoder)
        with torch.no_grad():
            self.pos_embed.copy_(sinusoid_position_table(self.config.sequence_length, self.config.hidden_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, inputs: VectorFieldInputs) -> torch.Tensor:
        """Vector field on all ``N = L' + n`` positions: a whole window (``n = L``) or a partial one (``n < L``,
        live sampling), which takes the first ``N`` positions of the position table.

        Args:
            x: ``(B, n, D)`` current state ``x_t`` of the ``n <= L`` current frames.
            t: flow time: a number, a 0-d or ``(1,)`` tensor (shared), or ``(B,)`` (one per sample).
            inputs: the conditions (audio ``wa``, source motion ``wr``, emotion ``we``, context ``prev_x`` and
                ``prev_wa``; shapes in :class:`~motionkit.flow.inputs.VectorFieldInputs`, with ``n`` for ``L``).
        Returns:
            ``(B, N, D)``; the velocity of the current frames is ``out[:, L':]``.
        """
        wa, wr, we, prev_x, prev_wa = inputs.wa, inputs.wr, inputs.we, inputs.prev_x, inputs.prev_wa
        cfg = self.config
        check_tensor("x", x, ndim=3, last_dim=cfg.motion_dim, finite=False, hint="Expected (B, L, motion_dim).")
        B, n = x.shape[0], x.shape[1]
        if not 1 <= n <= cfg.window:
            raise ShapeError(
                f"x must have shape ({B}, n, {cfg.motion_dim}) with 1 <= n <= {cfg.window} (a whole window of "
                f"{cfg.window} frames or a partial one), got {tuple(x.shape)}."
            )
        N = cfg.context + n
        expected = {
            "wa": (wa, (B, n, cfg.audio_dim)),
            "wr": (wr, (B, cfg.motion_dim)),
            "prev_x": (prev_x, (B, cfg.context, cfg.motion_dim)),
            "prev_wa": (prev_wa, (B, cfg.context, cfg.audio_dim)),
        }
        for name, (value, shape) in expected.items():
            check_tensor(name, value, finite=False)
            if tuple(value.shape) != shape:
                raise ShapeError(f"{name} must have shape {shape} for this model, got {tuple(value.shape)}.")
        check_tensor("we", we, ndim=3, last_dim=cfg.emotion_dim, dtypes=None, finite=False)
        if we.shape[0] != B or we.shape[1] not in (1, N):
            raise ShapeError(
                f"we must have shape ({B}, 1, {cfg.emotion_dim}) or ({B}, {N}, {cfg.emotion_dim}) "
                f"(one emotion for all frames, or one per frame including the {cfg.context} context frames), "
                f"got {tuple(we.shape)}."
            )
        t_vec = _time_vector(t, B, x.device)

        t_emb = self.t_embedder(t_vec)
        position = self.pos_embed if n == cfg.window else self.pos_embed[:, :N]
        tokens = self.x_embedder(torch.cat([prev_x, x], dim=1)) + position
        audio = torch.cat([prev_wa, wa], dim=1)
        frame_condition = torch.cat(
            [wr[:, None, :].expand(B, N, cfg.motion_dim), audio, we.to(x.dtype).expand(B, N, cfg.emotion_dim)],
            dim=-1,
        )
        c = self.c_embedder(frame_condition) + t_emb[:, None, :]
        for block in self.blocks:
            tokens = block(tokens, c, self.kernel_backend)
        out: torch.Tensor = self.decoder(tokens, c, self.kernel_backend)
        return out


def init_adaln_zero(model: nn.Module, t_embedder: TimestepEmbedder, blocks: nn.ModuleList, head: OutputHead) -> None:
    """The DiT-style initialisation both flow transformers train from: Xavier-uniform linear layers with zero
    biases, the time embedder's own, and every adaLN modulation and the output layer zero (so a fresh model is the
    identity residual and outputs zeros)."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    t_embedder.reset_parameters()
    zero_layers = [cast(FlowBlock, block).modulation for block in blocks]
    for layer in (*zero_layers, head.modulation, head.linear):
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)


def _time_vector(t: torch.Tensor | float, batch: int, device: torch.device) -> torch.Tensor:
    """Flow time as a ``(1,)`` (shared) or ``(B,)`` float32 tensor."""
    t_vec = torch.as_tensor(t, dtype=torch.float32, device=device).reshape(-1)
    if t_vec.numel() not in (1, batch):
        raise ShapeError(f"t must be a number, a (1,) tensor or one time per sample ({batch},), got {t_vec.shape}.")
    return t_vec
