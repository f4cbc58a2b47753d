"""IMTalker's flow-matching transformer (``fmt``): the vector field ``v(x_t, t | conditions)`` over one window.

Per window the network sees ``N = L' + L`` frames (IMTalker: 10 context + 50 current = 60)::

    tokens = Linear_x([wr | [prev_x, x_t]])                        (B, N, h)   wr repeated over the N frames
    c      = Linear_c([prev_wa, wa] + we) + MLP_t([cos(t f), sin(t f)])          (B, N, h)
    for each of the ``depth`` blocks (DiT with per-frame adaLN-Zero, as FLOAT's, but RoPE attention):
        (shift1, scale1, gate1, shift2, scale2, gate2) = Linear(SiLU(c))
        tokens = tokens + gate1 * Attn_rope(LN(tokens) (1 + scale1) + shift1)       (no mask: full attention)
        tokens = tokens + gate2 * MLP(LN(tokens) (1 + scale2) + shift2)
    (shift, scale) = Linear(SiLU(c));  out = Linear_out(LN(tokens) (1 + scale) + shift)   (B, N, D)

``we`` is the per-frame control condition ``(B, N, Dc)``: the sum of IMTalker's projected pose, camera and gaze
(context frames first; zeros where a control is missing), built by :class:`~motionkit.families.imtalker.generator.
IMTalkerMotion`. Unlike FLOAT there is no position table (RoPE on q and k instead), the source motion ``wr`` enters
with the tokens rather than with the condition, and the audio and the controls are summed before one ``Linear_c``.
Sub-module names are the official ``fmt.*`` ones below the prefix (``x_embedder.proj``, ``t_embedder.mlp.0/2``,
``c_embedder``, ``blocks.i.attn.qkv/proj``, ``blocks.i.mlp.fc1/fc2``, ``blocks.i.adaLN_modulation.1``,
``decoder.adaLN_modulation.1``, ``decoder.linear``); the blocks and the output head are FLOAT's classes.
"""

from __future__ import annotations

import torch
from motionkit_kernels import banded_attention
from motionkit_kernels.dispatch import Backend
from torch import nn

from motionkit.config.flow import FlowConfig
from motionkit.errors import ConfigError, ShapeError
from motionkit.families.imtalker.rotary import RotaryEmbedding
from motionkit.flow.embeddings import FrameEmbedder, TimestepEmbedder
from motionkit.flow.inputs import VectorFieldInputs
from motionkit.flow.linear import Linear
from motionkit.flow.transformer import BandedSelfAttention, FlowBlock, OutputHead, init_adaln_zero
from motionkit.validation import check_tensor


class RotarySelfAttention(BandedSelfAttention):
    """FLOAT's attention (keys ``qkv``, ``proj``) with RoPE applied to ``q`` and ``k`` of every head.

    With ``window >= N - 1`` (IMTalker's configuration) the band covers every frame: full attention, no mask.
    """

    def __init__(self, hidden_dim: int, num_heads: int, window: int, rotary: RotaryEmbedding) -> None:
        super().__init__(hidden_dim, num_heads, window)
        self.rotary = rotary  # one module shared by every block; its tables are not in the state_dict

    def forward(self, x: torch.Tensor, backend: Backend = "auto") -> torch.Tensor:
        """``x``: ``(B, N, C)`` -> ``(B, N, C)``."""
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        out = banded_attention(self.rotary(q), self.rotary(k), v, self.window, backend=backend)
        return self.proj(out.transpose(1, 2).reshape(B, N, C))


class RotaryFlowBlock(FlowBlock):
    """FLOAT's :class:`~motionkit.flow.transformer.FlowBlock` with :class:`RotarySelfAttention` (same keys)."""

    def __init__(self, config: FlowConfig, rotary: RotaryEmbedding) -> None:
        super().__init__(config)
        self.attn = RotarySelfAttention(config.hidden_dim, config.num_heads, config.attention_window, rotary)


class IMTalkerTransformer(nn.Module):
    """IMTalker's FMT vector field; sizes from a :class:`~motionkit.config.FlowConfig` whose ``emotion_dim`` is the
    width of the control condition ``we`` and must equal ``audio_dim`` (the two are summed).

    A new model is initialised as the official one (xavier-uniform linears, zero biases, N(0, 0.02) time MLP, zero
    adaLN output layers and output linear), so it outputs exactly zero until trained or loaded.

    Attributes:
        kernel_backend: ``"auto"`` (Triton on CUDA, PyTorch elsewhere), ``"torch"`` or ``"triton"``.
    """

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        if config.emotion_dim != config.audio_dim:
            raise ConfigError(
                f"IMTalker sums the audio and the control conditions, so flow.emotion_dim ({config.emotion_dim}, the "
                f"controls' width) must equal flow.audio_dim ({config.audio_dim})."
            )
        self.config = config
        h = config.hidden_dim
        self.rotary_emb = RotaryEmbedding(config.head_dim, config.sequence_length)
        self.x_embedder = FrameEmbedder(2 * config.motion_dim, h)
        self.t_embedder = TimestepEmbedder(h, config.time_embed_dim)
        self.c_embedder = Linear(config.audio_dim, h)
        self.blocks = nn.ModuleList(RotaryFlowBlock(config, self.rotary_emb) for _ in range(config.depth))
        self.decoder = OutputHead(config)
        self.kernel_backend: Backend = "auto"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official initialisation for training from scratch (FLOAT's, :func:`init_adaln_zero`)."""
        init_adaln_zero(self, self.t_embedder, self.blocks, self.decoder)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, inputs: VectorFieldInputs) -> torch.Tensor:
        """Vector field on all ``N = L' + L`` positions.

        Args:
            x: ``(B, L, D)`` current state of the ``L`` current frames.
            t: flow time: a number, a 0-d or ``(1,)`` tensor (shared), or ``(B,)`` (one per sample).
            inputs: projected audio ``wa`` ``(B, L, Da)``, source motion ``wr`` ``(B, D)``, controls ``we``
                ``(B, N, Da)`` (context frames first), context ``prev_x`` ``(B, L', D)`` and ``prev_wa``
                ``(B, L', Da)``.
        Returns:
            ``(B, N, D)``; the velocity of the current frames is ``out[:, L':]``.
        """
        cfg = self.config
        N = cfg.sequence_length
        check_tensor("x", x, ndim=3, last_dim=cfg.motion_dim, finite=False, hint="Expected (B, L, motion_dim).")
        B = x.shape[0]
        expected = {
            "x": (x, (B, cfg.window, cfg.motion_dim)),
            "wa": (inputs.wa, (B, cfg.window, cfg.audio_dim)),
            "wr": (inputs.wr, (B, cfg.motion_dim)),
            "we": (inputs.we, (B, N, cfg.emotion_dim)),
            "prev_x": (inputs.prev_x, (B, cfg.context, cfg.motion_dim)),
            "prev_wa": (inputs.prev_wa, (B, cfg.context, cfg.audio_dim)),
        }
        for name, (value, shape) in expected.items():
            check_tensor(name, value, finite=False)
            if tuple(value.shape) != shape:
                raise ShapeError(f"{name} must have shape {shape} for this model, got {tuple(value.shape)}.")
        t_vec = torch.as_tensor(t, dtype=torch.float32, device=x.device).reshape(-1)
        if t_vec.numel() not in (1, B):
            raise ShapeError(f"t must be a number, a (1,) tensor or one time per sample ({B},), got {t_vec.shape}.")

        t_emb = self.t_embedder(t_vec)
        motion = torch.cat([inputs.prev_x, x], dim=1)
        reference = inputs.wr[:, None, :].expand(B, N, cfg.motion_dim)
        tokens = self.x_embedder(torch.cat([reference, motion], dim=-1))
        condition = torch.cat([inputs.prev_wa, inputs.wa], dim=1) + inputs.we.to(x.dtype)
        c = self.c_embedder(condition) + t_emb[:, None, :]
        for block in self.blocks:
            tokens = block(tokens, c, self.kernel_backend)
        out: torch.Tensor = self.decoder(tokens, c, self.kernel_backend)
        return out
