"""Ahead-of-time compilation of every kernel configuration the launchers dispatch, for real GPUs, without a GPU.

``triton.compile`` lowers a kernel to PTX and, with the ``ptxas`` shipped inside the Triton wheel, to a cubin
for any target architecture; the wheel's ``cuobjdump`` then reports registers, stack, local (spill) and shared
memory. This catches what Triton's CPU interpreter never checks: shapes the GPU compiler rejects, register
spills, shared memory beyond the device limit, and register files too small to launch a program at all.

The configurations are those the launchers can produce (:func:`dispatched_configurations`): every input dtype,
head dimension and window class of the attention kernels, and every dtype, flag combination and row-tile width
(``C`` up to ``max_channels(dtype)``) of the AdaLN kernels, with the specialisation Triton's JIT picks for contiguous
tensors (16-byte aligned pointers, strides divisible by 16).

Run ``TRITON_INTERPRET=0 python -m motionkit_kernels.aot`` for a report (``--help`` for options). The kernels must
be JIT-decorated, not interpreted, and Triton decides that when they are imported; a process that already imported
them under the interpreter (such as the test suite) uses :func:`compile_in_subprocess`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

ARCHITECTURES = (80, 90)
"""Compute capabilities checked: Ampere (A100) and Hopper (H100)."""

SHARED_MEMORY_LIMIT = {80: 163 * 1024, 90: 227 * 1024}
"""Largest dynamic shared memory per block (bytes) of each architecture's top part (A100, H100)."""

REGISTERS_PER_SM = 65536
"""32-bit registers per SM on sm_80 and sm_90: ``registers * 32 * num_warps`` must fit for a block to launch."""

WARP_SIZE = 32

TORCH_TO_TRITON_DTYPE = {
    torch.float16: "fp16",
    torch.bfloat16: "bf16",
    torch.float32: "fp32",
    torch.float64: "fp64",
}
"""Triton's name of each element type, as written in kernel signatures."""


@dataclass(frozen=True)
class KernelConfig:
    """One compiled variant: a kernel, its argument types and compile-time constants, and its launch options."""

    name: str
    kernel_name: str
    module: str
    signature: dict[str, str]
    constexprs: dict[str, Any]
    aligned: tuple[str, ...]
    num_warps: int
    num_stages: int


@dataclass
class CompileResult:
    """Resources of one configuration compiled for one architecture (``error`` set if compilation failed)."""

    name: str
    arch: int
    num_warps: int
    registers: int = -1
    local_bytes: int = -1
    stack_bytes: int = -1
    shared_bytes: int = -1
    seconds: float = 0.0
    error: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error and not self.problems


def _pointer(dtype_name: str) -> str:
    return f"*{dtype_name}"


def _attention_configurations() -> Iterator[KernelConfig]:
    from motionkit_kernels.ops import banded_attention as ops
    from motionkit_kernels.ops._interpreter import dot_precision

    module = ops.__name__
    windows = {"narrow": ops.WIDE_WINDOW, "wide": ops.WIDE_WINDOW + 1}
    for dtype in ops.DTYPES:
        ty = TORCH_TO_TRITON_DTYPE[dtype]
        for head_dim in ops.HEAD_DIMS:
            common = {"HEAD_DIM": head_dim, "DOT_UPCAST": False, "PRECISION": dot_precision(dtype)}
            delta_sig = {"OUT": _pointer(ty), "DO": _pointer(ty), "DELTA": "*fp32"}
            delta_sig |= {s: "i32" for s in _strides("o", "do")} | {"H": "i32", "T": "i32"}
            yield KernelConfig(
                name=f"attention_bwd_delta[{ty},Dh={head_dim}]",
                kernel_name="_attention_bwd_delta_kernel",
                module=module,
                signature=delta_sig,
                constexprs={"HEAD_DIM": head_dim, "BLOCK": ops.DELTA_TILES.outer},
                aligned=("OUT", "DO", "DELTA", *_strides("o", "do")),
                num_warps=ops.DELTA_TILES.num_warps,
                num_stages=ops.DELTA_TILES.num_stages,
            )
            for label, window in windows.items():
                tiles = ops.attention_tiles(window, head_dim, dtype)
                scalars = {"H": "i32", "T": "i32", "window": "i32", "qk_scale_log2": "fp32"}
                fwd_sig = {n: _pointer(ty) for n in ("Q", "K", "V", "OUT")} | {"LSE": "*fp32"}
                fwd_sig |= {s: "i32" for s in _strides("q", "k", "v", "o")} | scalars
                yield KernelConfig(
                    name=f"attention_fwd[{ty},Dh={head_dim},{label}]",
                    kernel_name="_attention_fwd_kernel",
                    module=module,
                    signature=fwd_sig,
                    constexprs=common | {"BLOCK_M": tiles.forward.outer, "BLOCK_N": tiles.forward.inner},
                    aligned=("Q", "K", "V", "OUT", "LSE", *_strides("q", "k", "v", "o")),
                    num_warps=tiles.forward.num_warps,
                    num_stages=tiles.forward.num_stages,
                )
                bwd_scalars = scalars | {"scale": "fp32"}
                dq_sig = {n: _pointer(ty) for n in ("Q", "K", "V", "DO")} | {"LSE": "*fp32", "DELTA": "*fp32"}
                dq_sig |= {"DQ": _pointer(ty)} | {s: "i32" for s in _strides("q", "k", "v", "do", "dq")}
                yield KernelConfig(
                    name=f"attention_bwd_dq[{ty},Dh={head_dim},{label}]",
                    kernel_name="_attention_bwd_dq_kernel",
                    module=module,
                    signature=dq_sig | bwd_scalars,
                    constexprs=common | {"BLOCK_M": tiles.backward_q.outer, "BLOCK_N": tiles.backward_q.inner},
                    aligned=("Q", "K", "V", "DO", "LSE", "DELTA", "DQ", *_strides("q", "k", "v", "do", "dq")),
                    num_warps=tiles.backward_q.num_warps,
                    num_stages=tiles.backward_q.num_stages,
                )
                kv_sig = {n: _pointer(ty) for n in ("Q", "K", "V", "DO")} | {"LSE": "*fp32", "DELTA": "*fp32"}
                kv_sig |= {"DK": _pointer(ty), "DV": _pointer(ty)}
                kv_sig |= {s: "i32" for s in _strides("q", "k", "v", "do", "dk", "dv")}
                yield KernelConfig(
                    name=f"attention_bwd_dkdv[{ty},Dh={head_dim},{label}]",
                    kernel_name="_attention_bwd_dkdv_kernel",
                    module=module,
                    signature=kv_sig | bwd_scalars,
                    constexprs=common | {"BLOCK_N": tiles.backward_kv.outer, "BLOCK_M": tiles.backward_kv.inner},
                    aligned=(
                        "Q",
                        "K",
                        "V",
                        "DO",
                        "LSE",
                        "DELTA",
                        "DK",
                        "DV",
                        *_strides("q", "k", "v", "do", "dk", "dv"),
                    ),
                    num_warps=tiles.backward_kv.num_warps,
                    num_stages=tiles.backward_kv.num_stages,
                )


def _strides(*tensors: str, dims: str = "bht") -> tuple[str, ...]:
    return tuple(f"stride_{t}{d}" for t in tensors for d in dims)


ADALN_VARIANTS = {"residual": (True, False), "norm": (False, True), "fused": (True, True)}
"""Flag combinations (``RESIDUAL``, ``NORM``) of the AdaLN kernels: gated_residual, adaln_modulate, fused op."""


def adaln_block_widths(dtype: Any) -> tuple[int, ...]:
    """Every ``BLOCK_C`` the AdaLN launchers can pick for ``1 <= C <= max_channels(dtype)``."""
    from motionkit_kernels.ops import adaln as ops

    widths = []
    width = ops.row_tiles(1, backward=False, dtype=dtype).block_cols
    while width <= ops.max_channels(dtype):
        widths.append(width)
        width *= 2
    return tuple(widths)


def _adaln_configurations() -> Iterator[KernelConfig]:
    import triton.language as tl

    from motionkit_kernels.ops import adaln as ops

    module = ops.__name__
    for dtype in ops.DTYPES:
        ty = TORCH_TO_TRITON_DTYPE[dtype]
        acc, stats = (tl.float64, "*fp64") if ty == "fp64" else (tl.float32, "*fp32")
        for width in adaln_block_widths(dtype):
            for variant, (residual, norm) in ADALN_VARIANTS.items():
                tiles = ops.row_tiles(width, backward=False, dtype=dtype)
                flags = {"RESIDUAL": residual, "NORM": norm, "BLOCK_C": tiles.block_cols, "ACC": acc}
                sig = {n: _pointer(ty) for n in ("X", "GATE", "BRANCH", "SHIFT", "SCALE", "H_OUT", "M_OUT")}
                sig |= {"MEAN": stats, "RSTD": stats}
                sig |= {s: "i32" for s in _strides("x", "g", "y", "sh", "sc", dims="bt")}
                sig |= {"T": "i32", "C": "i32", "eps": "fp32"}
                yield KernelConfig(
                    name=f"adaln_fwd[{ty},{variant},BLOCK_C={width}]",
                    kernel_name="_adaln_fwd_kernel",
                    module=module,
                    signature=sig,
                    constexprs=flags | {"BLOCK_R": tiles.block_rows},
                    aligned=(*(n for n in sig if n.isupper()), *_strides("x", "g", "y", "sh", "sc", dims="bt")),
                    num_warps=tiles.num_warps,
                    num_stages=ops.NUM_STAGES,
                )
                bwd_tiles = ops.row_tiles(width, backward=True, dtype=dtype)
                for broadcast in (False, True):
                    ptrs = ("DH", "DM", "U", "GATE", "BRANCH", "SCALE", "DX", "DBRANCH")
                    sig = {n: _pointer(ty) for n in ptrs} | {"MEAN": stats, "RSTD": stats}
                    reduced = stats if broadcast else _pointer(ty)
                    sig |= {"DGATE": reduced, "DSCALE": reduced, "DSHIFT": stats if broadcast else _pointer(ty)}
                    sig |= {s: "i32" for s in _strides("dh", "dm", "u", "g", "y", "sc", dims="bt")}
                    sig |= {"T": "i32", "C": "i32", "tiles_per_program": "i32"}
                    yield KernelConfig(
                        name=f"adaln_bwd[{ty},{variant},{'broadcast' if broadcast else 'per-frame'},BLOCK_C={width}]",
                        kernel_name="_adaln_bwd_kernel",
                        module=module,
                        signature=sig,
                        constexprs=flags
                        | {"BROADCAST": broadcast, "BLOCK_R": bwd_tiles.block_rows, "BLOCK_C": bwd_tiles.block_cols},
                        aligned=(
                            *(n for n in sig if n.isupper()),
                            *_strides("dh", "dm", "u", "g", "y", "sc", dims="bt"),
                        ),
                        num_warps=bwd_tiles.num_warps,
                        num_stages=ops.NUM_STAGES,
                    )


def dispatched_configurations() -> list[KernelConfig]:
    """Every kernel configuration the launchers of ``motionkit_kernels.ops`` can launch."""
    return [*_attention_configurations(), *_adaln_configurations()]


_RESOURCE_LINE = re.compile(r"REG:(\d+)\s+STACK:(\d+)\s+SHARED:(\d+)\s+LOCAL:(\d+)")


def resource_usage(cubin: bytes) -> tuple[int, int, int]:
    """``(registers, stack bytes, local bytes)`` of the single function in ``cubin``, from the bundled cuobjdump."""
    from triton import knobs

    with tempfile.NamedTemporaryFile(suffix=".cubin") as handle:
        handle.write(cubin)
        handle.flush()
        report = subprocess.run(
            [knobs.nvidia.cuobjdump.path, "--dump-resource-usage", handle.name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    match = _RESOURCE_LINE.search(report)
    if match is None:
        raise RuntimeError(f"cuobjdump printed no resource line:\n{report}")
    registers, stack, _static_shared, local = (int(g) for g in match.groups())
    return registers, stack, local


def compile_configuration(config: KernelConfig, arch: int) -> CompileResult:
    """Compile ``config`` for ``sm_<arch>`` and check spills, shared memory and register-file fit."""
    import importlib

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    result = CompileResult(name=config.name, arch=arch, num_warps=config.num_warps)
    kernel = getattr(importlib.import_module(config.module), config.kernel_name)
    if not isinstance(kernel, triton.runtime.JITFunction):
        result.error = "kernels were decorated for the interpreter; unset TRITON_INTERPRET before importing them"
        return result
    names = kernel.arg_names
    signature = {name: config.signature.get(name, "constexpr") for name in names}
    missing = [name for name in names if name not in config.signature and name not in config.constexprs]
    unknown = [name for name in (*config.signature, *config.constexprs, *config.aligned) if name not in names]
    if missing or unknown:
        result.error = f"arguments without a type or value: {missing}; names the kernel does not have: {unknown}"
        return result
    attrs = {(names.index(name),): [["tt.divisibility", 16]] for name in config.aligned}
    start = time.perf_counter()
    try:
        target = GPUTarget("cuda", arch, WARP_SIZE)
        options = triton.compiler.make_backend(target).parse_options(
            {"num_warps": config.num_warps, "num_stages": config.num_stages}
        )
        source = ASTSource(fn=kernel, signature=signature, constexprs=config.constexprs, attrs=attrs)
        compiled = triton.compile(source, target=target, options=options.__dict__)
        result.registers, result.stack_bytes, result.local_bytes = resource_usage(compiled.asm["cubin"])
        result.shared_bytes = int(compiled.metadata.shared)
    except Exception as error:  # report every failing configuration instead of stopping at the first
        result.error = f"{type(error).__name__}: {error}".splitlines()[0]
    result.seconds = time.perf_counter() - start
    if not result.error:
        if result.local_bytes > 0 or result.stack_bytes > 0:
            result.problems.append(f"spills: LOCAL={result.local_bytes} STACK={result.stack_bytes}")
        if result.shared_bytes > SHARED_MEMORY_LIMIT[arch]:
            result.problems.append(f"shared memory {result.shared_bytes} > {SHARED_MEMORY_LIMIT[arch]}")
        if result.registers * WARP_SIZE * config.num_warps > REGISTERS_PER_SM:
            result.problems.append(f"{result.registers} registers x {config.num_warps} warps exceed the SM")
    return result


def _compile_pair(item: tuple[KernelConfig, int]) -> CompileResult:
    return compile_configuration(*item)


def compile_all(
    configs: Sequence[KernelConfig], arches: Sequence[int] = ARCHITECTURES, jobs: int = 1
) -> list[CompileResult]:
    """Compile every ``(config, arch)`` pair, in ``jobs`` worker processes when ``jobs > 1``."""
    pairs = [(config, arch) for config in configs for arch in arches]
    if jobs <= 1:
        return [_compile_pair(pair) for pair in pairs]
    # Spawned, not forked: on a CUDA machine the parent may have initialised the driver, which a fork cannot reuse.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_compile_pair, pairs, chunksize=4))


def _aot_in_subprocess(options: Sequence[str], names: Sequence[str] | None) -> str:
    """Standard output of ``python -m motionkit_kernels.aot OPTIONS [--only NAME ...]`` in a fresh interpreter with
    ``TRITON_INTERPRET`` cleared (the kernels must be JIT-decorated, which a process that imported them under the
    interpreter, such as the test suite, cannot undo)."""
    package_root = str(Path(__file__).resolve().parent.parent)  # importable even when not pip-installed
    python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "TRITON_INTERPRET": "0", "PYTHONPATH": python_path}
    command = [sys.executable, "-m", "motionkit_kernels.aot", *options]
    for name in names or ():
        command += ["--only", name]
    completed = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(
            f"the AOT compile check exited with {completed.returncode}: {' '.join(command)}\n{completed.stderr[-4000:]}"
        )
    return completed.stdout


def compile_in_subprocess(names: Sequence[str] | None = None, jobs: int = 1) -> list[CompileResult]:
    """Run the AOT check in a fresh interpreter with ``TRITON_INTERPRET`` cleared (for callers that already
    imported the kernels under the interpreter, such as the test suite). ``names``: subset of configuration names."""
    stdout = _aot_in_subprocess(["--json", "--jobs", str(jobs)], names)
    return [CompileResult(**row) for row in json.loads(stdout)]


def fingerprints_in_subprocess(names: Sequence[str] | None = None) -> dict[str, str]:
    """``{"<configuration>|sm_<arch>": dataflow fingerprint}`` (``motionkit_kernels.ir_fingerprint``), computed in a
    fresh interpreter like :func:`compile_in_subprocess`."""
    fingerprints: dict[str, str] = json.loads(_aot_in_subprocess(["--fingerprint"], names))
    return fingerprints


def format_table(results: Sequence[CompileResult]) -> str:
    """A Markdown table of the results, one row per configuration and architecture."""
    lines = [
        "| configuration | arch | warps | registers | stack (spill) B | local B | shared B | compile s | status |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        status = "ok" if r.ok else (r.error or "; ".join(r.problems))
        lines.append(
            f"| {r.name} | sm_{r.arch} | {r.num_warps} | {r.registers} | {r.stack_bytes} | {r.local_bytes} | "
            f"{r.shared_bytes} | "
            f"{r.seconds:.2f} | {status} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="compile only configurations with this name")
    parser.add_argument("--arch", type=int, action="append", choices=ARCHITECTURES, help="architecture(s)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    parser.add_argument("--list", action="store_true", help="list configuration names and exit")
    parser.add_argument(
        "--fingerprint",
        action="store_true",
        help="print each configuration's dataflow fingerprint (JSON) instead of compiling: compare before and after "
        "a refactor of the kernels' source (motionkit_kernels.ir_fingerprint)",
    )
    args = parser.parse_args(argv)
    configs = dispatched_configurations()
    if args.list:
        print("\n".join(c.name for c in configs))
        return 0
    if args.only:
        wanted = set(args.only)
        unknown = wanted - {c.name for c in configs}
        if unknown:
            parser.error(f"unknown configuration(s): {sorted(unknown)}")
        configs = [c for c in configs if c.name in wanted]
    if args.fingerprint:
        from motionkit_kernels.ir_fingerprint import dataflow_fingerprint, gpu_ir

        prints = {
            f"{c.name}|sm_{a}": dataflow_fingerprint(gpu_ir(c, a)) for c in configs for a in args.arch or ARCHITECTURES
        }
        print(json.dumps(prints, indent=0))
        return 0
    results = compile_all(configs, tuple(args.arch or ARCHITECTURES), jobs=args.jobs)
    if args.json:
        print(json.dumps([asdict(r) for r in results]))
    else:
        print(format_table(results))
        failed = sum(not r.ok for r in results)
        print(f"\n{len(results) - failed}/{len(results)} configurations compiled without problems")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
