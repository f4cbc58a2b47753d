"""IMTalker's attention layers: implicit motion transfer (spec 2.5) and the frame decoder's blocks (spec 2.6).

Tokens are pixels in row-major order. Where the official code materialises a softmax map, the same
``softmax(q k^T / sqrt(d)) v`` is evaluated by ``F.scaled_dot_product_attention`` (fused, no ``N x N`` map in
memory), except at the one level whose map the argmax block copy reads (:class:`CoarseTransfer` with
``top1=True``), where it is computed in chunks of queries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

HEADS = 8
"""Attention heads of every attention layer of the renderer."""

MLP_RATIO = 2
"""Hidden width of the frame decoder's MLPs over their width."""

WINDOW = 8
"""Side of the Swin windows (64 tokens each)."""

SHIFT = WINDOW // 2
"""Cyclic shift of the second Swin block of a stage."""

MASK_VALUE = -100.0
"""Added to the scores between tokens of different regions of a shifted window (Swin's value, not ``-inf``)."""

QUERY_CHUNK = 64
"""Queries per chunk of the explicit softmax map: 8 heads x 64 x 4096 floats = 8 MiB, which stays in a CPU's
last-level cache between the passes over it (scores, maximum, exponential, sums, head mean, product with the values);
1024 queries (128 MiB) went to memory at every pass and took 1.6x the time on the 2-core development machine."""


def split_heads(tokens: torch.Tensor) -> torch.Tensor:
    """``(B, N, C)`` -> ``(B, HEADS, N, C / HEADS)``: channels ordered head-major (``C = h * d + j``)."""
    batch, count, channels = tokens.shape
    return tokens.view(batch, count, HEADS, channels // HEADS).transpose(1, 2)


def merge_heads(heads: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`split_heads`: ``(B, HEADS, N, d)`` -> ``(B, N, HEADS * d)``."""
    batch, _, count, _ = heads.shape
    return heads.transpose(1, 2).reshape(batch, count, -1)


def to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H * W, C)`` (a view for channels-last memory)."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1])


def from_tokens(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(B, H * W, C)`` -> ``(B, C, H, W)`` in channels-last memory (a view of contiguous tokens)."""
    return tokens.view(tokens.shape[0], height, width, -1).permute(0, 3, 1, 2)


class AttentionProjections(nn.Module):
    """``q_proj``, ``k_proj``, ``v_proj`` and the output ``proj`` (Linear ``C -> C`` with bias each)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.q_proj = nn.Linear(channels, channels)
        self.k_proj = nn.Linear(channels, channels)
        self.v_proj = nn.Linear(channels, channels)
        self.proj = nn.Linear(channels, channels)


class CoarseTransfer(nn.Module):
    """IMT at a coarse level (``imt.i.block_efc``): multi-head cross-attention whose queries are the driving motion
    map, keys the source motion map and values the source identity feature; no residual, no normalisation.

    ``out = proj(softmax(q k^T / sqrt(d)) v)`` per head, ``q = q_proj(m_c)``, ``k = k_proj(m_r)``, ``v = v_proj(f_r)``.
    The source side ``(k, v)`` does not depend on the frame: :meth:`source` computes it once per portrait.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block_efc = AttentionProjections(channels)

    def source(self, motion_map: torch.Tensor, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(k, v)`` ``(B, HEADS, H*W, d)`` of the source motion map ``m_r`` and identity feature ``f_r``."""
        attn = self.block_efc
        return split_heads(attn.k_proj(to_tokens(motion_map))), split_heads(attn.v_proj(to_tokens(feature)))

    def forward(
        self, motion_map: torch.Tensor, source: tuple[torch.Tensor, torch.Tensor], top1: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The aligned feature ``(N, C, H, W)`` for the driving motion maps ``motion_map`` ``(N, C, H, W)``.

        With ``top1`` also the ``(N, H*W)`` key index of the largest head-averaged attention weight of each query
        (what :class:`GuidedResampler` copies by), from the same softmax map as the output.
        """
        batch, _, height, width = motion_map.shape
        keys, values = (t.expand(batch, -1, -1, -1) for t in source)
        queries = split_heads(self.block_efc.q_proj(to_tokens(motion_map)))
        if top1:
            out, index = _attention_with_top1(queries, keys, values)
        else:
            out, index = F.scaled_dot_product_attention(queries, keys, values), None
        aligned = self.block_efc.proj(merge_heads(out))
        return from_tokens(aligned, height, width), index


def _attention_with_top1(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d)) v`` and ``argmax_k mean_heads softmax(...)`` (first index on ties), by chunks.

    With ``e = exp(s - max_k s)`` and ``Z = sum_k e`` per head and query: the output is ``(e v) / Z`` and the head
    mean ``sum_h e_h / (HEADS Z_h)``, so the map is normalised once, inside the mean, instead of element by element.
    Every chunk's values depend on its own queries only: the chunk size changes the speed, not the result.
    """
    scaled = queries * queries.shape[-1] ** -0.5
    keys_t = keys.transpose(-2, -1)
    outs, indices = [], []
    for start in range(0, queries.shape[2], QUERY_CHUNK):
        scores = torch.matmul(scaled[:, :, start : start + QUERY_CHUNK], keys_t)
        weights = scores.sub_(scores.amax(dim=-1, keepdim=True)).exp_()
        inverse = weights.sum(dim=-1, keepdim=True).reciprocal_()  # (N, HEADS, chunk, 1)
        indices.append(_head_mean(weights, inverse[..., 0] / HEADS).argmax(dim=-1))
        outs.append(torch.matmul(weights, values).mul_(inverse))
    return torch.cat(outs, dim=2), torch.cat(indices, dim=1)


def _head_mean(weights: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """``sum_h weights[n, h, q, k] * factors[n, h, q]`` ``(N, Q, K)``: one ``(1, H) x (H, K)`` product per query.

    ``einsum("nhqk,nhq->nqk")`` computes the same products, but copies the weights query by query into that layout;
    here they are permuted in one copy (same values, a quarter less time).
    """
    batch, heads, count, keys = weights.shape
    rows = factors.permute(0, 2, 1).reshape(batch * count, 1, heads)
    return torch.bmm(rows, weights.permute(0, 2, 1, 3).reshape(batch * count, heads, keys)).view(batch, count, keys)


class GuidedResampler(nn.Module):
    """IMT at a fine level (no parameters): a hard block copy guided by the coarse level's top-1 keys.

    For the ``G x G`` guide grid (64 x 64) and ``ratio = size / G``, every pixel of query cell ``q`` receives the mean
    of the ``ratio x ratio`` block of the source feature at key cell ``k*(q)``: ``out = up_ratio(gather(pool_ratio(
    f_r), k*))``, with ``pool`` the block mean and ``up`` nearest repetition. The pooled source is per portrait
    (:meth:`source`).
    """

    def __init__(self, ratio: int) -> None:
        super().__init__()
        self.ratio = ratio

    def source(self, feature: torch.Tensor) -> torch.Tensor:
        """``(B, G*G, C)``: the block means of the source feature ``(B, C, G*ratio, G*ratio)``, as tokens."""
        return to_tokens(F.avg_pool2d(feature, self.ratio))

    def forward(self, index: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """``index`` ``(N, G*G)`` key cells, ``pooled`` ``(1 or N, G*G, C)`` -> ``(N, C, G*ratio, G*ratio)``
        (channels-last memory)."""
        batch, cells = index.shape
        grid = round(cells**0.5)
        pooled = pooled.expand(batch, -1, -1)
        picked = torch.gather(pooled, 1, index[:, :, None].expand(-1, -1, pooled.shape[2]))
        pixels = picked.view(batch, grid, grid, -1).repeat_interleave(self.ratio, 1).repeat_interleave(self.ratio, 2)
        return pixels.permute(0, 3, 1, 2)


def _mlp(channels: int, dropout_slot: bool) -> nn.Sequential:
    """Linear ``C -> 2C``, exact GELU, [an inactive dropout: the index the checkpoint skips], Linear ``2C -> C``."""
    hidden = MLP_RATIO * channels
    layers: list[nn.Module] = [nn.Linear(channels, hidden), nn.GELU()]
    if dropout_slot:
        layers.append(nn.Identity())
    layers.append(nn.Linear(hidden, channels))
    return nn.Sequential(*layers)


class GlobalBlock(nn.Module):
    """The frame decoder's ``UnifiedTransformerBlock`` (16-64 px): full self-attention with learned positions.

    ``q = LN_q(x + p_q)``, ``k = LN_kv(x + p_k)``, ``v = LN_kv(x)``; ``y = x + proj(attn(q, k, v))``;
    ``y = y + MLP(LN_ffn(y))`` (LayerNorm eps 1e-5, exact GELU).
    """

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.q_pos_embedding = nn.Parameter(torch.randn(1, size * size, channels))
        self.k_pos_embedding = nn.Parameter(torch.randn(1, size * size, channels))
        self.norm_q = nn.LayerNorm(channels)
        self.norm_kv = nn.LayerNorm(channels)
        self.attn = AttentionProjections(channels)
        self.norm_ffn = nn.LayerNorm(channels)
        self.mlp = _mlp(channels, dropout_slot=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, height, width = x.shape
        tokens = to_tokens(x)
        attn = self.attn
        q = attn.q_proj(self.norm_q(tokens + self.q_pos_embedding.to(tokens.dtype)))
        k = attn.k_proj(self.norm_kv(tokens + self.k_pos_embedding.to(tokens.dtype)))
        v = attn.v_proj(self.norm_kv(tokens))
        out = F.scaled_dot_product_attention(split_heads(q), split_heads(k), split_heads(v))
        tokens = tokens + attn.proj(merge_heads(out))
        tokens = tokens + self.mlp(self.norm_ffn(tokens))
        return from_tokens(tokens, height, width)


def relative_position_index(window: int) -> torch.Tensor:
    """``(w*w, w*w)`` index into the ``(2w-1)^2`` bias table of the offset between two tokens of a window (Swin)."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return relative[..., 0] * (2 * window - 1) + relative[..., 1]


def shifted_window_mask(size: int, window: int, shift: int) -> torch.Tensor:
    """``(windows, w*w, w*w)``: 0 between tokens of the same region of the rolled image, :data:`MASK_VALUE` else."""
    regions = torch.zeros(size, size)
    bounds = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for label, (rows, cols) in enumerate((r, c) for r in bounds for c in bounds):
        regions[rows, cols] = label
    cells = partition_windows(regions[None, :, :, None], window)[..., 0]  # (windows, w*w)
    differs = cells[:, None, :] != cells[:, :, None]
    return torch.zeros(differs.shape).masked_fill_(differs, MASK_VALUE)


def partition_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * windows, w*w, C)``, windows in row-major order."""
    batch, height, width, channels = x.shape
    x = x.view(batch, height // window, window, width // window, window, channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, channels)


def merge_windows(windows: torch.Tensor, batch: int, height: int, width: int, window: int) -> torch.Tensor:
    """Inverse of :func:`partition_windows`: ``(B * windows, w*w, C)`` -> ``(B, H, W, C)``."""
    x = windows.view(batch, height // window, width // window, window, window, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(batch, height, width, -1)


class WindowAttention(nn.Module):
    """Swin window attention with separate ``q``, ``k``, ``v`` inputs and a learned relative-position bias."""

    relative_position_index: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * WINDOW - 1) ** 2, HEADS))
        self.register_buffer("relative_position_index", relative_position_index(WINDOW), persistent=False)
        self._bias_cache: tuple[tuple[object, ...], torch.Tensor] | None = None
        self.q = nn.Linear(channels, channels)
        self.k = nn.Linear(channels, channels)
        self.v = nn.Linear(channels, channels)
        self.proj = nn.Linear(channels, channels)

    def bias(self) -> torch.Tensor:
        """``(HEADS, w*w, w*w)`` relative-position bias."""
        count = WINDOW * WINDOW
        table = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        return table.view(count, count, HEADS).permute(2, 0, 1)

    def scores_bias(self, mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
        """``(1 or windows, HEADS, w*w, w*w)``: the relative-position bias plus the shifted windows' region ``mask``.

        Without autograd it is cached until the table changes (at 256 px the sum is 1024 x 8 x 64 x 64 values, which
        would otherwise be rebuilt at every frame).
        """
        table = self.relative_position_bias_table
        grad = torch.is_grad_enabled() and table.requires_grad
        key = (table._version, table.data_ptr(), table.device, dtype, None if mask is None else mask.data_ptr())
        if not grad and self._bias_cache is not None and self._bias_cache[0] == key:
            return self._bias_cache[1]
        bias = self.bias().to(dtype)[None]
        if mask is not None:
            bias = bias + mask.to(dtype)[:, None]
        # contiguous: the fused CPU attention copies a bias of any other layout at every call (134 MB at 256 px)
        bias = bias.contiguous()
        if not grad:
            self._bias_cache = (key, bias.detach())
        return bias


class SwinBlock(nn.Module):
    """The frame decoder's ``UnifiedSwinBlock`` (128, 256 px): window attention, optionally cyclically shifted.

    ``y = x + W-MSA(LN_q x, LN_kv x, LN_kv x)`` (rolled by ``-shift`` before and ``+shift`` after, with the region
    mask of :func:`shifted_window_mask`); ``y = y + MLP(LN_ffn y)``.
    """

    attn_mask: torch.Tensor | None

    def __init__(self, channels: int, size: int, shift: int) -> None:
        super().__init__()
        self.shift = shift
        self.norm_q = nn.LayerNorm(channels)
        self.norm_kv = nn.LayerNorm(channels)
        self.attn = WindowAttention(channels)
        self.norm_ffn = nn.LayerNorm(channels)
        self.mlp = _mlp(channels, dropout_slot=False)
        mask = shifted_window_mask(size, WINDOW, shift) if shift else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        pixels = x.permute(0, 2, 3, 1)  # (B, H, W, C), a view of channels-last memory
        attn = self.attn
        context = self.norm_kv(pixels)
        q, k, v = attn.q(self.norm_q(pixels)), attn.k(context), attn.v(context)
        if self.shift:
            q, k, v = (torch.roll(t, (-self.shift, -self.shift), dims=(1, 2)) for t in (q, k, v))
        q, k, v = (split_heads(partition_windows(t, WINDOW)) for t in (q, k, v))  # (B * windows, HEADS, w*w, d)
        bias = attn.scores_bias(self.attn_mask, q.dtype)
        # One frame at a time: the fused CPU kernel takes the (windows, HEADS, w*w, w*w) bias as it is, where a batch
        # would need it copied per frame (or a 5-d layout that falls back to an explicit softmax map).
        windows = q.shape[0] // batch
        frames = [slice(i * windows, (i + 1) * windows) for i in range(batch)]
        outs = [F.scaled_dot_product_attention(q[f], k[f], v[f], attn_mask=bias) for f in frames]
        out = outs[0] if batch == 1 else torch.cat(outs)
        out = attn.proj(merge_heads(out))
        out = merge_windows(out, batch, height, width, WINDOW)
        if self.shift:
            out = torch.roll(out, (self.shift, self.shift), dims=(1, 2))
        pixels = pixels + out
        pixels = pixels + self.mlp(self.norm_ffn(pixels))
        return pixels.permute(0, 3, 1, 2)


class Stage(nn.Module):
    """``transformer_blocks.i``: the attention blocks after one decoder level (key ``blocks.j``)."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x
