"""CUDA-graph replay of the vector-field model: one captured forward per input signature.

At FLOAT's size a window's transformer forward is ~150 small kernel launches on 3 x 60 rows, so on a GPU the
host (Python, dispatch, launch latency) rather than the device bounds its speed. A CUDA graph records the launches
of one forward once and replays them with a single call::

    first call with a signature:  warm up on a side stream, then capture   model(static inputs) -> static output
    every call:                   copy the inputs into the static buffers, replay, return a copy of the output

The signature is everything that changes the recorded kernels: the inputs' shapes, dtypes and device, and the
autocast state. Graphs reference the parameters' memory, so the cache is keyed by their addresses too: moving or
replacing the weights recaptures (in-place updates such as ``load_state_dict`` are seen by the replay, as the
addresses stay). The output is copied because solvers keep earlier velocities while they evaluate the next one.

Capture runs with autocast's weight-cast cache off: cached casts would be freed when the caller's autocast
context exits while the graph still reads them; without the cache the casts are recorded into the graph.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from motionkit.errors import ConfigError
from motionkit.flow.guidance import VectorField
from motionkit.flow.inputs import VectorFieldInputs

WARMUP_CALLS = 3
"""Eager calls on a side stream before capture, as PyTorch's CUDA-graph guide asks (lazy initialisation, cuBLAS
workspaces and Triton compilation must not happen during capture)."""

INPUT_NAMES = ("x", "t", *VectorFieldInputs.names())
"""Tensor arguments of a :class:`~motionkit.flow.guidance.VectorField` call, in order: state, time, conditions."""


@dataclass
class _Captured:
    graph: torch.cuda.CUDAGraph
    inputs: tuple[torch.Tensor, ...]
    output: torch.Tensor


class CUDAGraphCache:
    """Captured graphs of one model, keyed by input signature; all share one CUDA memory pool.

    Attributes:
        captures: number of graphs captured so far (a replayed signature does not add one).
    """

    def __init__(self) -> None:
        self._graphs: dict[Hashable, _Captured] = {}
        self._weights: tuple[int, ...] = ()
        self._pool: Any = None  # torch's opaque pool handle
        self.captures = 0

    def __len__(self) -> int:
        return len(self._graphs)

    # Graphs reference this process's device memory and the original model's parameters: a copied or unpickled
    # model (an EMA copy, torch.save of the module) starts with an empty cache and captures its own.
    def __deepcopy__(self, memo: dict[int, Any]) -> CUDAGraphCache:
        return CUDAGraphCache()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def clear(self) -> None:
        """Drop every graph (their memory returns to PyTorch's caching allocator)."""
        self._graphs.clear()
        self._pool = None

    def field(self, model: nn.Module) -> GraphedVectorField:
        """A :class:`GraphedVectorField` of ``model`` using this cache (cleared first if the weights moved)."""
        weights = tuple(p.data_ptr() for p in model.parameters())
        if weights != self._weights:
            self.clear()
            self._weights = weights
        return GraphedVectorField(model, self)

    def replay(self, model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """``model``'s output for ``inputs`` (``INPUT_NAMES`` order) from the graph of their signature, captured on
        first use; a copy, so later replays do not overwrite it."""
        key = _signature(inputs)
        captured = self._graphs.get(key)
        if captured is None:
            captured = self._capture(model, inputs)
            self._graphs[key] = captured
        for static, value in zip(captured.inputs, inputs):
            static.copy_(value)
        captured.graph.replay()
        return captured.output.clone()

    def _capture(self, model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> _Captured:
        device = inputs[0].device
        static = tuple(value.clone() for value in inputs)
        autocast_on = torch.is_autocast_enabled("cuda")
        autocast = torch.autocast(
            "cuda", dtype=torch.get_autocast_dtype("cuda"), enabled=autocast_on, cache_enabled=False
        )
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side), autocast:
            for _ in range(WARMUP_CALLS):
                _call(model, static)
        torch.cuda.current_stream(device).wait_stream(side)
        if self._pool is None:
            self._pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self._pool), autocast:
            output = _call(model, static)
        self.captures += 1
        return _Captured(graph, static, output)


class GraphedVectorField:
    """A :class:`~motionkit.flow.guidance.VectorField` that replays CUDA graphs of ``model``'s forward.

    Same call signature and results as ``model`` (the same kernels run on the same values); inputs must be CUDA
    tensors. ``t`` is made a ``(B,)`` float32 tensor first, so that flow time is an input of the graph rather than
    a constant recorded into it.
    """

    def __init__(self, model: nn.Module, cache: CUDAGraphCache) -> None:
        self.model = model
        self.cache = cache

    def __call__(self, x: torch.Tensor, t: torch.Tensor | float, inputs: VectorFieldInputs) -> torch.Tensor:
        if x.device.type != "cuda":
            raise ConfigError(f"CUDA graphs need CUDA tensors, got x on {x.device}; turn them off for this device.")
        t_vec = torch.as_tensor(t, dtype=torch.float32, device=x.device).reshape(-1).expand(x.shape[0])
        return self.cache.replay(self.model, (x, t_vec, *inputs.tensors()))


def _call(model: VectorField, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    x, t, *conditions = inputs
    return model(x, t, VectorFieldInputs.from_tensors(conditions))


def _signature(inputs: tuple[torch.Tensor, ...]) -> Hashable:
    autocast = (torch.is_autocast_enabled("cuda"), torch.get_autocast_dtype("cuda"))
    return autocast, tuple((tuple(v.shape), v.dtype, v.device) for v in inputs)
