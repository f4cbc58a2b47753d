"""Ahead-of-time compilation for sm_80 and sm_90 of every kernel configuration the launchers dispatch: it must
compile, spill no registers, fit shared memory and the register file. Also checks that the enumerated
configurations are exactly what the launchers launch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from kernel_checks import needs_triton
from motionkit_kernels import aot

pytestmark = needs_triton

# FLOAT's attention (bf16 and float32, Dh = 128, narrow band) and the heaviest AdaLN rows of each dtype.
REPRESENTATIVE = [
    "attention_fwd[bf16,Dh=128,narrow]",
    "attention_bwd_delta[bf16,Dh=128]",
    "attention_bwd_dq[bf16,Dh=128,narrow]",
    "attention_bwd_dkdv[bf16,Dh=128,narrow]",
    "attention_bwd_dkdv[bf16,Dh=128,wide]",
    "attention_fwd[fp32,Dh=128,narrow]",
    "attention_bwd_dkdv[fp32,Dh=128,wide]",
    "adaln_fwd[bf16,fused,BLOCK_C=4096]",
    "adaln_bwd[bf16,fused,broadcast,BLOCK_C=4096]",
    "adaln_bwd[fp32,fused,broadcast,BLOCK_C=4096]",
    "adaln_bwd[fp32,fused,per-frame,BLOCK_C=1024]",
    "adaln_bwd[fp64,fused,broadcast,BLOCK_C=2048]",
    "adaln_bwd[fp16,norm,broadcast,BLOCK_C=16]",
]


def _assert_all_compile(results: list[aot.CompileResult], expected: int) -> None:
    assert len(results) == expected
    failures = [f"{r.name} sm_{r.arch}: {r.error or '; '.join(r.problems)}" for r in results if not r.ok]
    assert not failures, "\n".join(failures)
    for r in results:
        assert 0 < r.registers <= 255
        assert r.local_bytes == 0
        assert r.stack_bytes == 0
        assert r.shared_bytes <= aot.SHARED_MEMORY_LIMIT[r.arch]


def test_representative_configurations_compile_without_spills() -> None:
    results = aot.compile_in_subprocess(REPRESENTATIVE, jobs=2)
    _assert_all_compile(results, expected=len(REPRESENTATIVE) * len(aot.ARCHITECTURES))


@pytest.mark.slow
def test_every_dispatched_configuration_compiles_without_spills() -> None:
    configs = aot.dispatched_configurations()
    results = aot.compile_in_subprocess(jobs=2)
    _assert_all_compile(results, expected=len(configs) * len(aot.ARCHITECTURES))


def test_representative_names_exist() -> None:
    names = {c.name for c in aot.dispatched_configurations()}
    assert set(REPRESENTATIVE) <= names


class _Recorder:
    """Stands in for a ``@triton.jit`` kernel: records each launch's dtype, constants and options, runs nothing."""

    def __init__(self, name: str, launches: set[tuple[Any, ...]]) -> None:
        self.name, self.launches = name, launches

    def __getitem__(self, grid: tuple[int, ...]) -> Any:
        def launch(*args: Any, **kwargs: Any) -> None:
            dtype = next(a.dtype for a in args if isinstance(a, torch.Tensor))
            options = (kwargs.pop("num_warps"), kwargs.pop("num_stages"))
            kwargs.pop("DOT_UPCAST", None)  # only ever True under the interpreter; the GPU path compiles it False
            self.launches.add(_key(self.name, dtype, kwargs, options))

        return launch


def _key(name: str, dtype: object, constexprs: dict[str, Any], options: tuple[int, int]) -> tuple[Any, ...]:
    return (name, str(dtype), tuple(sorted((k, str(v)) for k, v in constexprs.items())), options)


def _aot_keys() -> set[tuple[Any, ...]]:
    dtypes = {f"*{name}": dtype for dtype, name in aot.TORCH_TO_TRITON_DTYPE.items()}
    keys = set()
    for c in aot.dispatched_configurations():
        first_pointer = next(t for t in c.signature.values() if t.startswith("*"))
        constexprs = {k: v for k, v in c.constexprs.items() if k != "DOT_UPCAST"}
        keys.add(_key(c.kernel_name, dtypes[first_pointer], constexprs, (c.num_warps, c.num_stages)))
    return keys


def _sweep_attention(ops: Any) -> Iterator[None]:
    for dtype in ops.DTYPES:
        for head_dim in ops.HEAD_DIMS:
            for window in (0, 2, ops.WIDE_WINDOW, ops.WIDE_WINDOW + 1, 500):
                q = torch.zeros(1, 1, 40, head_dim, dtype=dtype)  # T > every window below but the last
                out, lse = ops.attention_forward(q, q, q, window, 0.1)
                ops.attention_backward(out, q, q, q, out, lse, window, 0.1)
                yield


def _sweep_adaln(ops: Any) -> Iterator[None]:
    for dtype in ops.DTYPES:
        for channels in (1, 15, 16, 17, 100, 1024, 1025, 2048, ops.max_channels(dtype)):
            x = torch.zeros(2, 3, channels, dtype=dtype)
            for frames in (3, 1):
                m = torch.zeros(2, frames, channels, dtype=dtype)
                for gate, shift in ((m, None), (None, m), (m, m)):
                    branch, scale = (None if gate is None else x), shift
                    _, _, mean, rstd = ops.modulate_forward(x, gate, branch, shift, scale, 1e-6)
                    u = None if shift is None else x
                    ops.modulate_backward(None if gate is None else x, u, u, gate, branch, scale, mean, rstd, dtype)
                    yield


def test_every_launch_is_an_enumerated_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from motionkit_kernels.ops import adaln, banded_attention

    launches: set[tuple[Any, ...]] = set()
    for module in (adaln, banded_attention):
        for name in dir(module):
            if name.startswith("_") and name.endswith("_kernel"):
                monkeypatch.setattr(module, name, _Recorder(name, launches))
    for _ in (*_sweep_attention(banded_attention), *_sweep_adaln(adaln)):
        pass
    tiles = {dict(key[2]).get("BLOCK_N") for key in launches if key[0] == "_attention_fwd_kernel"}
    assert len(tiles) >= 2, "the sweep must reach both the narrow and the wide window tiles"
    missing = launches - _aot_keys()
    assert not missing, f"launched configurations the AOT check does not compile: {sorted(missing)[:5]}"
