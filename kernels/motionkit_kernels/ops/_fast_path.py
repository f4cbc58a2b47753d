"""When a call may bypass the ``torch.library`` custom ops and launch through a plain ``torch.autograd.Function``.

The custom ops exist for tracers: ``torch.compile`` and ``torch.export`` (Dynamo), ``make_fx`` and other
``TorchDispatchMode`` users, fake and other subclass tensors, functorch transforms. In plain eager mode their
dispatch (schema parsing, the autograd wrapper's redispatch, the backward op's own dispatch) is pure host
overhead around the same launchers, so eager calls use an ``autograd.Function`` that calls the launchers directly:
same kernels, same arguments, bitwise the same results, and about half the operator's host time per forward+backward
(``benchmarks/kernel_host.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import torch

Backward = TypeVar("Backward", bound=Callable[..., Any])


def plain_eager(*tensors: torch.Tensor | None) -> bool:
    """Whether the call runs in plain eager mode on plain tensors: not traced by Dynamo, no functorch transform, no
    ``TorchDispatchMode`` on the stack, and every tensor exactly ``torch.Tensor`` (no subclass, which only the custom
    ops' dispatch would honour). Costs well under a microsecond."""
    if (
        torch.compiler.is_compiling()
        or torch._C._len_torch_dispatch_stack()
        or torch._C._are_functorch_transforms_active()
    ):
        return False
    return all(t is None or type(t) is torch.Tensor for t in tensors)


def once_differentiable(backward: Backward) -> Backward:
    """``torch.autograd.function.once_differentiable`` paid only where it acts: a backward run with
    ``create_graph=True`` (grad mode on) gets its guard, whose gradients raise if differentiated again, as the custom
    ops' do; an ordinary backward (grad mode off, nothing recorded) calls ``backward`` directly, saving the guard's
    ~9 us of host time per call."""
    guarded = torch.autograd.function.once_differentiable(backward)

    @functools.wraps(backward)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        if torch.is_grad_enabled():
            return guarded(ctx, *grads)
        return backward(ctx, *grads)

    return wrapper  # type: ignore[return-value]
