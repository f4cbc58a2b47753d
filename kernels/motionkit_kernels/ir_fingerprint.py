"""Fingerprints of what a kernel computes, to check that a refactor of its source changed nothing.

A configuration (:class:`motionkit_kernels.aot.KernelConfig`) is lowered to Triton's GPU IR (TTGIR: after inlining,
canonicalisation and layout assignment, before LLVM) for a target architecture. Its text still depends on the source's
spelling: locations, value names (taken from Python variables), the numbering of layout aliases and the order of
independent ops. :func:`dataflow_fingerprint` removes all four: each op is hashed from its text with every operand
replaced by the hash of the op or block argument defining it (value numbering), an op with regions also hashes the
ops of its regions, and the fingerprint is the hash of the sorted op hashes. Two kernels have the same fingerprint when
they compute the same dataflow graph, whatever order their independent ops come in.

``python -m motionkit_kernels.aot --fingerprint > before.json`` before a refactor and again after it; equal files mean
the refactor changed no computation (the LLVM and ptxas stages after TTGIR are deterministic functions of it, up to
the order of independent instructions).
"""

from __future__ import annotations

import collections
import hashlib
import importlib
import re
from typing import Any

_VALUE = re.compile(r"%[\w$.-]+(?:#\d+)?")
"""A use of an SSA value: ``%name``, or ``%name#i`` for result ``i`` of a multi-result op."""
_RESULT = re.compile(r"^(%[\w$.-]+)(?::\d+)? = ")
"""The result(s) an op line defines: ``%name = ...`` or ``%name:count = ...``."""


def gpu_ir(config: Any, arch: int) -> str:
    """The TTGIR text of ``config`` (an ``aot.KernelConfig``) for ``sm_<arch>``. The kernels must be JIT-decorated
    (``TRITON_INTERPRET`` unset when they were imported), as for the AOT compile."""
    from triton._C.libtriton import ir
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from triton.compiler.compiler import make_backend

    kernel = getattr(importlib.import_module(config.module), config.kernel_name)
    names = kernel.arg_names
    signature = {name: config.signature.get(name, "constexpr") for name in names}
    attrs = {(names.index(name),): [["tt.divisibility", 16]] for name in config.aligned}
    target = GPUTarget("cuda", arch, 32)
    backend = make_backend(target)
    source = ASTSource(fn=kernel, signature=signature, constexprs=config.constexprs, attrs=attrs)
    options = backend.parse_options({"num_warps": config.num_warps, "num_stages": config.num_stages})
    context = ir.context()
    ir.load_dialects(context)
    backend.load_dialects(context)
    codegen = backend.get_codegen_implementation(options)
    module = source.make_ir(target, options, codegen, backend.get_module_map(), context)
    stages: dict[str, Any] = {}
    backend.add_stages(stages, options, source.language)
    metadata = {"target": target, **options.__dict__}
    for stage in ("ttir", "ttgir"):
        module = stages[stage](module, metadata)
    return str(module)


def _strip_locations(text: str) -> str:
    """The IR without ``loc(...)`` annotations (parentheses balanced, strings skipped) and ``#loc`` definitions."""
    out, i = [], 0
    while (start := text.find(" loc(", i)) >= 0:
        out.append(text[i:start])
        depth, k = 0, start + 4
        while True:
            if text[k] == '"':
                k = text.index('"', k + 1)
            elif text[k] == "(":
                depth += 1
            elif text[k] == ")":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        i = k + 1
    out.append(text[i:])
    return "\n".join(line for line in "".join(out).splitlines() if not line.startswith("#loc"))


def _inline_aliases(text: str) -> str:
    """Layout aliases (``#blocked1 = ...``), numbered by first use, replaced by what they stand for."""
    aliases = dict(re.findall(r"^(#\w+) = (.*)$", text, re.M))
    if not aliases:
        return text
    # One pass over every alias at once (longest first in the alternation, so #blocked1 is not read as #blocked).
    pattern = re.compile("|".join(re.escape(name) for name in sorted(aliases, key=len, reverse=True)) + r"(?!\w)")
    return pattern.sub(lambda match: aliases[match.group(0)], text)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def op_hashes(ir_text: str) -> collections.Counter[str]:
    """The multiset of value-numbered op hashes of the first function in ``ir_text`` (see the module docstring)."""
    text = _inline_aliases(_strip_locations(ir_text))
    body = text[text.index("tt.func") :]
    header, _, rest = body.partition("\n")
    values = {name: _hash(f"argument {i}") for i, name in enumerate(re.findall(r"(%[\w$.-]+):", header))}

    def operand(match: re.Match[str]) -> str:
        name, _, part = match.group(0).partition("#")
        return "<" + values.get(name, "?" + name) + ("#" + part if part else "") + ">"

    # One frame per open region: [the owning op's canonical header, its result names, the region's op hashes,
    # how many block arguments the region declared so far].
    frames: list[list[Any]] = [["", [], [], 0]]
    for raw in rest.splitlines():
        line = raw.strip()
        if not line or (line == "}" and len(frames) == 1):
            continue
        if line.startswith("^bb"):  # a block's arguments: numbered by position in their region
            for name in re.findall(r"(%[\w$.-]+):", line):
                values[name] = _hash(f"block argument {len(frames)}:{frames[-1][3]}")
                frames[-1][3] += 1
            continue
        result = _RESULT.match(line)
        results = [result.group(1)] if result else []
        rhs = line[result.end() :] if result else line
        if line.startswith("}"):
            header_text, owner_results, region, _ = frames.pop()
            summary = header_text + "|" + ",".join(sorted(region)) + "|" + _VALUE.sub(operand, line)
            if line.endswith("{"):  # "} else {": the same op's next region
                frames.append([summary, owner_results, [], 0])
                continue
            op_hash = _hash(summary)
            for name in owner_results:
                values[name] = op_hash
            frames[-1][2].append(op_hash)
            continue
        if line.endswith("{"):  # an op with a region; "%i = ..." in its header declares block arguments
            declared = [m.group(1) for m in re.finditer(r"(%[\w$.-]+) = ", rhs)]
            for position, name in enumerate(declared):
                values[name] = _hash(f"block argument {len(frames) + 1}:{position}")
            canonical = _VALUE.sub(operand, re.sub(r"%[\w$.-]+ = ", "ARG = ", rhs))
            frames.append([canonical, results, [], len(declared)])
            continue
        op_hash = _hash(_VALUE.sub(operand, rhs))
        for name in results:
            values[name] = op_hash
        frames[-1][2].append(op_hash)
    return collections.Counter(frames[0][2])


def dataflow_fingerprint(ir_text: str) -> str:
    """A hash of the dataflow graph of the IR's function, independent of names, locations and independent op order,
    and of the module's attributes (target, warps, threads per warp)."""
    module = re.search(r"^module attributes .*$", _strip_locations(ir_text), re.M)
    ops = ",".join(sorted(op_hashes(ir_text).elements()))
    return hashlib.sha256(((module.group(0) if module else "") + "|" + ops).encode()).hexdigest()
