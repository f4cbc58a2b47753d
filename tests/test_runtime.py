"""motionkit.runtime: thread counts under load, the OpenMP wait policy set before torch loads, and the float32
fallback for a low precision the CPU would only emulate."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit import runtime
from motionkit.errors import ConfigError

ENVIRONMENT = {**os.environ, "PYTHONWARNINGS": "ignore"}


def _python(code: str, **env: str) -> str:
    variables = {k: v for k, v in ENVIRONMENT.items() if k not in env and k not in runtime.WAIT_POLICY_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", code], env={**variables, **env}, capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.strip()


@given(cores=st.integers(1, 256), load=st.floats(0.0, 1000.0), extra=st.floats(0.0, 100.0))
def test_default_threads_stay_in_range_and_fall_with_load(cores: int, load: float, extra: float) -> None:
    threads = runtime.default_threads(cores, load)
    assert 1 <= threads <= cores
    assert runtime.default_threads(cores, load + extra) <= threads


def test_default_threads_leave_the_busy_cores() -> None:
    assert runtime.default_threads(2, 0.1) == 2
    assert runtime.default_threads(2, 6.0) == 1
    assert runtime.default_threads(16, 5.2) == 11


@pytest.fixture
def restore_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("restore_threads")
def test_configure_threads_sets_torch_and_refuses_nonsense() -> None:
    assert runtime.configure_threads(1) == 1
    assert torch.get_num_threads() == 1
    assert 1 <= runtime.configure_threads() <= runtime.available_cores()
    with pytest.raises(ConfigError, match="positive integer"):
        runtime.configure_threads(0)


def test_wait_policy_is_set_before_torch_loads_and_user_values_win() -> None:
    code = "import os, motionkit; print(os.environ['OMP_WAIT_POLICY'], os.environ['KMP_BLOCKTIME'])"
    assert _python(code) == "PASSIVE 0"
    assert _python(code, OMP_WAIT_POLICY="ACTIVE", KMP_BLOCKTIME="200") == "ACTIVE 200"
    late = "import torch, os; from motionkit import runtime; print(os.environ.get('OMP_WAIT_POLICY'))"
    assert _python(late) == "None"  # torch came first: too late, and nothing is pretended


def test_avx2_dispatch_has_no_native_bfloat16() -> None:
    """The emulation recipe of docs/testing.md caps both ATen and oneDNN at AVX2: bfloat16 is then emulated."""
    code = "import torch; from motionkit import runtime; print(runtime.cpu_runs_natively(torch.bfloat16))"
    assert _python(code, ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2") == "False"


@pytest.fixture
def x86_with_bf16(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An x86 CPU with avx512_bf16 and kernels at the AVX-512 level, whatever this machine is."""
    monkeypatch.setattr(runtime.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    for name in runtime.ONEDNN_ISA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_native_bfloat16_needs_the_instructions_and_their_use(x86_with_bf16: pytest.MonkeyPatch) -> None:
    assert runtime.cpu_runs_natively(torch.float32)
    assert runtime.cpu_runs_natively(torch.bfloat16)
    x86_with_bf16.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert runtime.cpu_runs_natively(torch.bfloat16)
    x86_with_bf16.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")  # AVX-512 without its bf16 instructions
    assert not runtime.cpu_runs_natively(torch.bfloat16)
    x86_with_bf16.setenv("ONEDNN_MAX_CPU_ISA", "ALL")
    x86_with_bf16.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert not runtime.cpu_runs_natively(torch.bfloat16)
    x86_with_bf16.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    x86_with_bf16.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert not runtime.cpu_runs_natively(torch.bfloat16)
    x86_with_bf16.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert runtime.cpu_runs_natively(torch.bfloat16)
    assert not runtime.cpu_runs_natively(torch.int8)


def test_emulated_precision_falls_back_to_float32_with_the_reason(x86_with_bf16: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    assert runtime.effective_dtype(torch.bfloat16, cpu) == torch.bfloat16
    x86_with_bf16.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    with pytest.warns(runtime.EmulatedPrecisionWarning, match=r"AVX2 level.*avx512_bf16 or AMX.*float32"):
        assert runtime.effective_dtype(torch.bfloat16, cpu) == torch.float32
    assert runtime.effective_dtype(torch.float32, cpu) == torch.float32
    assert runtime.effective_dtype(torch.bfloat16, torch.device("cuda")) == torch.bfloat16  # GPUs are not judged here
