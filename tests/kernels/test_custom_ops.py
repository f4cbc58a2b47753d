"""The ``motionkit::`` custom ops: schema, fake tensors and autograd registration (``torch.library.opcheck``),
and ``torch.compile(fullgraph=True)`` over the public functions on both paths."""

from __future__ import annotations

import pytest
import torch
from kernel_checks import grads, needs_triton, randn
from motionkit_kernels import banded_attention, gated_residual, gated_residual_adaln

from motionkit.testing.tolerances import TRANSCENDENTAL_DEPTH, assert_rounding_close

OPCHECK_UTILS = ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")


@needs_triton
def test_banded_attention_ops_pass_opcheck() -> None:
    q, k, v = (randn(1, 2, 20, 32, requires_grad=True) for _ in range(3))
    torch.library.opcheck(torch.ops.motionkit.banded_attention_fwd.default, (q, k, v, 2, 0.2), test_utils=OPCHECK_UTILS)
    out, lse = torch.ops.motionkit.banded_attention_fwd(q.detach(), k.detach(), v.detach(), 2, 0.2)
    torch.library.opcheck(
        torch.ops.motionkit.banded_attention_bwd.default,
        (torch.randn_like(out), q.detach(), k.detach(), v.detach(), out, lse, 2, 0.2),
        test_utils=("test_schema", "test_faketensor"),
    )


@needs_triton
@pytest.mark.parametrize("frames", [9, 1], ids=["per-frame", "broadcast"])
@pytest.mark.parametrize("variant", ["residual", "norm", "fused"])
def test_modulate_ops_pass_opcheck(variant: str, frames: int) -> None:
    x, y = randn(2, 9, 24, requires_grad=True), randn(2, 9, 24, requires_grad=True)
    gate, shift, scale = (randn(2, frames, 24, requires_grad=True) for _ in range(3))
    residual, norm = variant in ("residual", "fused"), variant in ("norm", "fused")
    args = (
        x,
        gate if residual else None,
        y if residual else None,
        shift if norm else None,
        scale if norm else None,
        1e-6,
    )
    torch.library.opcheck(torch.ops.motionkit.modulate_fwd.default, args, test_utils=OPCHECK_UTILS)


CHANNELS, HEADS, WINDOW = 64, 2, 2
BLOCK_FORWARD_DEPTH = (
    2 * CHANNELS  # LayerNorm's mean and variance over the channels
    + CHANNELS // HEADS  # q . k over one head
    + 2 * (2 * WINDOW + 1)  # softmax's sum and the weighted sum of values over the band
    + 2 * TRANSCENDENTAL_DEPTH  # rsqrt, exp
    + 10  # elementwise: residual (2), normalize (2), modulate (2), score scale, softmax divide, residual (2)
)
"""Roundings on the longest path to one element of :func:`_block` (``motionkit.testing.tolerances``)."""
BLOCK_GRADIENT_DEPTH = 2 * BLOCK_FORWARD_DEPTH
"""The backward pass runs each reduction of the forward pass once more (transposed)."""


def _block(x: torch.Tensor, mods: torch.Tensor, y: torch.Tensor, backend: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A DiT-style seam: gated residual + modulated LayerNorm, then banded attention over 2 heads of 32."""
    gate, shift, scale = mods.chunk(3, dim=-1)
    h, modulated = gated_residual_adaln(x, gate, y, shift, scale, backend=backend)  # type: ignore[arg-type]
    B, T, C = modulated.shape
    heads = modulated.view(B, T, HEADS, C // HEADS).transpose(1, 2)
    attended = banded_attention(heads, heads, heads, WINDOW, backend=backend)  # type: ignore[arg-type]
    return h, gated_residual(h, gate, attended.transpose(1, 2).reshape(B, T, C), backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", [pytest.param("triton", marks=needs_triton), "torch"], ids=["triton", "reference"])
def test_torch_compile_fullgraph_matches_eager(backend: str) -> None:
    x, y = randn(2, 12, CHANNELS, requires_grad=True), randn(2, 12, CHANNELS, requires_grad=True)
    mods = (0.5 * randn(2, 12, 3 * CHANNELS)).requires_grad_(True)
    eager = _block(x, mods, y, backend)
    compiled = torch.compile(_block, fullgraph=True)
    # On-disk compile caches are keyed without the custom ops' schemas: a stale entry would call an old schema.
    with torch._inductor.config.patch(fx_graph_cache=False), torch._functorch.config.patch(enable_autograd_cache=False):
        got = compiled(x, mods, y, backend)
        got_grads = grads(got, [x, mods, y])  # the backward graph is compiled here
    # Inductor fuses and reorders the same float32 math: the two differ by rounding only.
    for a, b in zip(got, eager):
        assert_rounding_close(a, b, depth=BLOCK_FORWARD_DEPTH)
    for a, b in zip(got_grads, grads(eager, [x, mods, y])):
        assert_rounding_close(a, b, depth=BLOCK_GRADIENT_DEPTH)
