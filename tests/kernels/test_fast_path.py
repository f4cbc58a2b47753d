"""The eager fast path: plain eager calls launch through an ``autograd.Function`` instead of the ``motionkit::``
custom ops, with bitwise the same outputs and gradients; tracers (dispatch modes, fake tensors) still get the ops."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from kernel_checks import grads, needs_triton, randn
from motionkit_kernels import adaln_modulate, banded_attention, gated_residual, gated_residual_adaln
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode

pytestmark = needs_triton

Call = Callable[[], torch.Tensor | tuple[torch.Tensor, ...]]


def _problems(frames: int) -> dict[str, tuple[Call, list[torch.Tensor]]]:
    """Each public op on small inputs (modulation per frame, or broadcast when ``frames`` is 1) and its leaves."""
    q, k, v = (randn(1, 2, 20, 32, requires_grad=True) for _ in range(3))
    x, y = randn(2, 9, 24, requires_grad=True), randn(2, 9, 24, requires_grad=True)
    gate, shift, scale = (randn(2, frames, 24, requires_grad=True) for _ in range(3))
    return {
        "banded_attention": (lambda: banded_attention(q, k, v, 2, backend="triton"), [q, k, v]),
        "adaln_modulate": (lambda: adaln_modulate(x, shift, scale, backend="triton"), [x, shift, scale]),
        "gated_residual": (lambda: gated_residual(x, gate, y, backend="triton"), [x, gate, y]),
        "gated_residual_adaln": (
            lambda: gated_residual_adaln(x, gate, y, shift, scale, backend="triton"),
            [x, gate, y, shift, scale],
        ),
        # Only the modulated output reaches the loss: h gets no gradient (None on the fast path, zeros filled in).
        "gated_residual_adaln[m only]": (
            lambda: gated_residual_adaln(x, gate, y, shift, scale, backend="triton")[1],
            [x, gate, y, shift, scale],
        ),
    }


def _custom_op_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from motionkit_kernels.ops import adaln, banded_attention

    for module in (adaln, banded_attention):
        monkeypatch.setattr(module, "plain_eager", lambda *tensors: False)


ADALN_CASES = ["adaln_modulate", "gated_residual", "gated_residual_adaln", "gated_residual_adaln[m only]"]
CASES = [("banded_attention", 9)] + [(name, frames) for name in ADALN_CASES for frames in (9, 1)]
"""(op, modulation frames): AdaLN ops per frame (9) and broadcast (1); attention has no modulation."""


@pytest.mark.parametrize(
    ("name", "frames"), CASES, ids=[f"{n}-{'broadcast' if f == 1 else 'per-frame'}" for n, f in CASES]
)
def test_fast_path_equals_the_custom_op_path_bitwise(name: str, frames: int, monkeypatch: pytest.MonkeyPatch) -> None:
    call, leaves = _problems(frames)[name]
    fast = call()
    fast_grads = grads(fast, leaves)
    with monkeypatch.context() as patch:
        _custom_op_path(patch)
        slow = call()
        slow_grads = grads(slow, leaves)
    for a, b in zip(fast if isinstance(fast, tuple) else (fast,), slow if isinstance(slow, tuple) else (slow,)):
        assert torch.equal(a, b)
    for a, b in zip(fast_grads, slow_grads):
        assert torch.equal(a, b)


class _OpRecorder(TorchDispatchMode):
    """Records the name of every operator dispatched while active."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


def test_eager_calls_skip_the_custom_ops_and_dispatch_modes_see_them() -> None:
    q = randn(1, 2, 20, 32, requires_grad=True)
    x = randn(2, 9, 24, requires_grad=True)
    out = banded_attention(q, q, q, 2, backend="triton")
    modulated = adaln_modulate(x, x, x, backend="triton")
    assert out.grad_fn is not None
    assert "_BandedAttention" in type(out.grad_fn).__name__
    assert modulated.grad_fn is not None
    assert "_Modulate" in type(modulated.grad_fn).__name__
    with _OpRecorder() as recorder:
        banded_attention(q, q, q, 2, backend="triton").sum().backward()
        adaln_modulate(x, x, x, backend="triton").sum().backward()
    names = set(recorder.names)
    assert {
        "motionkit.banded_attention_fwd.default",
        "motionkit.banded_attention_bwd.default",
        "motionkit.modulate_fwd.default",
        "motionkit.modulate_bwd.default",
    } <= names


def test_fake_tensors_take_the_custom_ops() -> None:
    with FakeTensorMode():
        q = torch.empty(1, 2, 20, 32, device=randn(1).device)
        x = torch.empty(2, 9, 24, device=q.device)
        out = banded_attention(q, q, q, 2, backend="triton")
        h, modulated = gated_residual_adaln(x, x, x, x[:, :1], x[:, :1], backend="triton")
    assert out.shape == q.shape
    assert h.shape == modulated.shape == x.shape


def test_differentiating_the_fast_path_twice_is_refused() -> None:
    q = randn(1, 2, 20, 32, requires_grad=True)
    x = randn(2, 9, 24, requires_grad=True)
    for output, leaf in (
        (banded_attention(q, q, q, 2, backend="triton"), q),
        (adaln_modulate(x, x, x, backend="triton"), x),
    ):
        # A loss whose gradient depends on the output, so that the incoming gradient requires grad itself.
        (gradient,) = torch.autograd.grad(output.square().sum(), leaf, create_graph=True)
        with pytest.raises(RuntimeError, match="differentiate twice"):
            gradient.sum().backward()
