"""How motionkit uses the machine it runs on: CPU thread pools and whether a low precision runs natively.

Two problems this module answers, both measured on a shared 2-core x86 CPU (``benchmarks/contention.py``):

* **Thread pools under contention.** PyTorch's CPU kernels run on an OpenMP pool with one thread per core. By
  default an OpenMP thread that finishes its share *spins* waiting for the next parallel region; when other
  processes are busy those spinning threads take their cores, the region's slowest thread is descheduled, and a
  job that takes seconds alone takes minutes. ``OMP_WAIT_POLICY=PASSIVE`` makes idle threads sleep instead; it is
  read once, when the OpenMP runtime loads with torch, so ``motionkit/__init__.py`` calls
  :func:`set_passive_wait_policy` before anything imports torch (a value the user set wins). The intra-op thread
  count :func:`default_threads` picks leaves the cores other processes keep busy.
* **Emulated low precision.** ``bfloat16`` on an x86 CPU without ``avx512_bf16`` or AMX (every AVX2-only CPU and
  AVX-512 CPUs before Cooper Lake / Zen 4) is emulated by converting to float32 around every kernel, which makes it
  slower than float32 (4.4x for the demo model's ``generate`` under AVX2 emulation, docs/pipeline.md).
  :func:`cpu_runs_natively` tells, and :func:`effective_dtype` falls back to float32 with an
  :class:`EmulatedPrecisionWarning` rather than run slowly.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

WAIT_POLICY_VARIABLES: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
"""Environment read when the OpenMP runtime loads: idle threads sleep at once (GNU OpenMP reads the first, Intel
OpenMP both). Set only where the user has not set them, and only before torch is imported."""

X86_MACHINES = frozenset({"x86_64", "amd64", "i386", "i686"})

NATIVE_ONEDNN_ISA_MARKERS: dict[str, tuple[str, ...]] = {
    "bfloat16": ("BF16", "AMX", "FP16", "AVX10"),
    "float16": ("AMX_FP16", "FP16", "AVX10"),
}
"""Substrings of an ``ONEDNN_MAX_CPU_ISA`` value (oneDNN's ISA names) whose level still includes the native
instructions of each precision (``AVX512_CORE_BF16`` and above for bfloat16, ``AVX512_CORE_FP16`` and above for
float16); ``ALL`` or no cap allows everything the CPU has."""

ONEDNN_ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
"""The variables that cap oneDNN's instruction set (the second is its older name)."""


class EmulatedPrecisionWarning(UserWarning):
    """A low precision was requested on a CPU that would only emulate it; motionkit computes in float32 instead."""


def set_passive_wait_policy() -> bool:
    """Make OpenMP threads sleep while idle instead of spinning (see the module docstring).

    Returns whether the policy can still take effect: ``False`` when torch was imported before this call (the
    OpenMP runtime has read its environment already). Values the user set are kept.
    """
    if "torch" in sys.modules:
        return False
    for name, value in WAIT_POLICY_VARIABLES.items():
        os.environ.setdefault(name, value)
    return True


def available_cores() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's or ``taskset``'s), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def busy_cores() -> float:
    """Cores other processes keep busy: the one-minute load average (runnable threads), 0 where unknown."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def default_threads(cores: int | None = None, load: float | None = None) -> int:
    """Intra-op threads for a CPU run: the available cores minus those other processes keep busy, at least 1.

    ``threads = clamp(round(cores - load), 1, cores)`` with ``cores`` from :func:`available_cores` and ``load``
    from :func:`busy_cores` (the load average counts every runnable thread, so a machine whose cores are all taken
    gets one thread: one thread never waits for a descheduled sibling, which is what makes a parallel region slow
    under contention).
    """
    cores = available_cores() if cores is None else cores
    load = busy_cores() if load is None else load
    return max(1, min(cores, round(cores - load)))


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count: ``threads``, or :func:`default_threads` when ``None``. Returns it."""
    import torch

    count = default_threads() if threads is None else threads
    if not isinstance(count, int) or count < 1:
        from motionkit.errors import ConfigError

        raise ConfigError(f"threads must be a positive integer, got {threads!r}.")
    torch.set_num_threads(count)
    return count


def _onednn_isa_cap() -> str | None:
    for name in ONEDNN_ISA_VARIABLES:
        value = os.environ.get(name, "").strip().upper()
        if value and value != "ALL":
            return value
    return None


def cpu_runs_natively(dtype: torch.dtype) -> bool:
    """Whether this CPU computes ``dtype`` with native instructions in PyTorch's CPU kernels as configured.

    float32 always does. On x86, bfloat16 needs ``avx512_bf16`` or AMX, float16 AMX-FP16 (or AVX512-FP16, which
    oneDNN reports), *and* the kernels must be allowed to use them: ATen's dispatch at the AVX-512 level (not
    capped with ``ATEN_CPU_CAPABILITY=avx2``) and oneDNN's ISA not capped below them (``ONEDNN_MAX_CPU_ISA``).
    Elsewhere (ARM) oneDNN's own check is used.
    """
    import torch

    if dtype == torch.float32:
        return True
    name = {torch.bfloat16: "bfloat16", torch.float16: "float16"}.get(dtype)
    if name is None:
        return False
    if platform.machine().lower() not in X86_MACHINES:
        check = (
            torch.ops.mkldnn._is_mkldnn_bf16_supported
            if name == "bfloat16"
            else torch.ops.mkldnn._is_mkldnn_fp16_supported
        )
        return bool(check())
    if name == "bfloat16":
        hardware = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    else:
        hardware = torch.cpu._is_amx_fp16_supported() or torch.ops.mkldnn._is_mkldnn_fp16_supported()
    if not hardware or torch.backends.cpu.get_cpu_capability() != "AVX512":
        return False
    cap = _onednn_isa_cap()
    return cap is None or any(marker in cap for marker in NATIVE_ONEDNN_ISA_MARKERS[name])


def effective_dtype(dtype: torch.dtype, device: torch.device) -> torch.dtype:
    """The compute dtype to use for ``dtype`` on ``device``: ``dtype`` itself, except a low precision that this CPU
    would only emulate, which becomes float32 with an :class:`EmulatedPrecisionWarning` (emulated bfloat16 made a
    ``generate`` 2-4x slower than float32 on AVX2; the warning shows once per process under Python's default
    warning filter)."""
    import torch

    if device.type != "cpu" or cpu_runs_natively(dtype):
        return dtype
    capability = torch.backends.cpu.get_cpu_capability()
    warnings.warn(
        f"{dtype} was requested on a CPU that has no native {str(dtype).removeprefix('torch.')} instructions "
        f"(kernels at the {capability} level; native bfloat16 needs avx512_bf16 or AMX): it would be emulated and "
        f"run slower than float32, so motionkit computes in float32. Use dtype float32 (--dtype float32) to silence "
        f"this, or run low precision on a GPU or a CPU that has those instructions.",
        EmulatedPrecisionWarning,
        stacklevel=3,
    )
    return torch.float32
