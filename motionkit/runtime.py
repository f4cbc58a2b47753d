"""How motionkit uses the machine it runs on: CPU thread pools and whether a low precision runs natively.

Three problems this module answers, measured on a shared 2-core x86 CPU (``benchmarks/contention.py``,
``benchmarks/pipeline.py``):

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
* **Work that splits poorly across threads.** Decoding one frame at batch 1 runs many small convolutions and warps
  that ATen's intra-op threads barely share (``grid_sample`` splits over the batch only): two threads decoded a
  512 px frame in 443 ms against 633 ms of CPU for one. :class:`OneThreadWorkers` runs independent items (whole
  frames) side by side instead, each worker's kernels on one intra-op thread; :func:`decode_workers` is the policy
  for how many.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, ParamSpec, TypeVar

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


WORKER_INIT_ELEMENTS = 1 << 16
"""Size of the tensor a new worker fills once while torch's thread count is 1: large enough for ATen to enter its
parallel loop, which is where a thread takes its OpenMP team size, once for its lifetime."""

_THREAD_COUNT_LOCK = threading.Lock()
"""Held while :class:`OneThreadWorkers` lowers torch's thread count to start its workers: two pools started at once
(e.g. two renders of a server) would otherwise read each other's 1 as the count to restore."""

Params = ParamSpec("Params")
Result = TypeVar("Result")


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


def decode_workers(device: torch.device, threads: int | None = None) -> int:
    """How many frames a renderer decodes side by side on ``device``: one per intra-op thread on a CPU, else 1.

    ``threads`` defaults to torch's intra-op thread count (``torch.get_num_threads()``, which
    :func:`configure_threads` and the CLI's ``--threads`` set), so the decoders use the cores the process was
    given, each frame on one thread (:class:`OneThreadWorkers`): on the 2-core CPU of docs/benchmarks.md two workers
    spent the CPU time of one thread on 75 frames at 512 px (47.7 against 49.1 s, decoding and writing), where two
    intra-op threads on each frame spent 52-55 s for 1.4x one thread's speed. A GPU decodes a whole chunk in one
    batch instead (1).
    """
    import torch

    if device.type != "cpu":
        return 1
    count = torch.get_num_threads() if threads is None else threads
    if not isinstance(count, int) or count < 1:
        from motionkit.errors import ConfigError

        raise ConfigError(f"threads must be a positive integer, got {threads!r}.")
    return count


class OneThreadWorkers:
    """``count`` worker threads whose torch kernels each run on one intra-op thread, for independent items.

    Torch's intra-op thread count is one number for the process, but each thread takes its OpenMP team size (and
    MKL's thread count) once, at its first parallel loop, from that number. The constructor therefore sets it to 1,
    lets every worker start and run one parallel loop (:data:`WORKER_INIT_ELEMENTS`), then puts the caller's count
    back: the workers keep one thread each for their lifetime, the rest of the process keeps its count. Kernels
    give up the GIL, so ``count`` workers use ``count`` cores. A worker's result is what the same call gives on the
    calling thread with one intra-op thread; ATen's and oneDNN's float32 CPU kernels give the same bits at any
    thread count for the decoder's operations (tests/renderer/test_parallel_decode.py checks it).

    Grad mode is per thread: a worker starts with autograd on, so callers wrap their work in ``torch.no_grad()``
    where they need it. Use as a context manager; leaving it cancels what has not started and waits for the rest.
    """

    def __init__(self, count: int, name: str = "motionkit-worker") -> None:
        import torch

        if not isinstance(count, int) or count < 1:
            from motionkit.errors import ConfigError

            raise ConfigError(f"the number of workers must be a positive integer, got {count!r}.")
        self.count = count
        self._executor = ThreadPoolExecutor(count, thread_name_prefix=name)
        started = threading.Barrier(count + 1)
        with _THREAD_COUNT_LOCK:
            previous = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                # the executor starts a new thread for each task while fewer than `count` exist and none is idle;
                # each task holds its thread at the barrier, so `count` tasks start `count` threads
                for _ in range(count):
                    self._executor.submit(_take_one_thread, started)
                started.wait()
            except BaseException:
                started.abort()
                self._executor.shutdown(wait=True, cancel_futures=True)
                raise
            finally:
                torch.set_num_threads(previous)

    def submit(self, fn: Callable[Params, Result], *args: Params.args, **kwargs: Params.kwargs) -> Future[Result]:
        """Run ``fn(*args, **kwargs)`` on a worker; the future holds its result or exception."""
        return self._executor.submit(fn, *args, **kwargs)

    def close(self) -> None:
        """Cancel the items not started and wait for the running ones (no worker outlives this call)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OneThreadWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _take_one_thread(started: threading.Barrier) -> None:
    """A worker's first task: one intra-op thread for this thread's lifetime (see :class:`OneThreadWorkers`)."""
    import torch

    try:
        torch.set_num_threads(1)
        torch.ones(WORKER_INIT_ELEMENTS).add_(1)
    except BaseException:
        started.abort()
        raise
    started.wait()
