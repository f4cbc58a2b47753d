"""Backend selection: the reference on CPU under "auto", clear errors when Triton cannot run, and a working
package without Triton installed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from kernel_checks import needs_triton
from motionkit_kernels import (
    adaln_modulate,
    banded_attention,
    dispatch,
    gated_residual,
    gated_residual_adaln,
    reference,
)

from motionkit.errors import ConfigError


def test_auto_on_cpu_is_the_reference_bit_for_bit() -> None:
    q, k, v = (torch.randn(1, 8, 60, 128) for _ in range(3))
    assert torch.equal(banded_attention(q, k, v, 2), reference.banded_attention_dense(q, k, v, 2))
    long_q = torch.randn(1, 1, dispatch.DENSE_ATTENTION_MAX_T + 5, 16)
    assert torch.equal(
        banded_attention(long_q, long_q, long_q, 2), reference.banded_attention_unfold(long_q, long_q, long_q, 2)
    )
    x, y = torch.randn(2, 60, 64), torch.randn(2, 60, 64)
    gate, shift, scale = (torch.randn(2, 60, 64) for _ in range(3))
    assert torch.equal(adaln_modulate(x, shift, scale), reference.adaln_modulate(x, shift, scale))
    assert torch.equal(gated_residual(x, gate, y), reference.gated_residual(x, gate, y))
    for got, want in zip(
        gated_residual_adaln(x, gate, y, shift, scale), reference.gated_residual_adaln(x, gate, y, shift, scale)
    ):
        assert torch.equal(got, want)


def test_reference_path_is_differentiable_on_cpu() -> None:
    q = torch.randn(1, 2, 30, 16, requires_grad=True)
    banded_attention(q, q, q, 2, backend="torch").sum().backward()
    assert q.grad is not None
    assert q.grad.abs().sum() > 0


@needs_triton
def test_triton_on_cpu_without_the_interpreter_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "TRITON_INTERPRETED", False)
    q = torch.randn(1, 1, 8, 32)
    with pytest.raises(ConfigError, match=r"needs CUDA tensors, got tensors on cpu.*TRITON_INTERPRET=1"):
        banded_attention(q, q, q, 2, backend="triton")
    x = torch.randn(1, 8, 32)
    with pytest.raises(ConfigError, match=r"needs CUDA tensors"):
        gated_residual(x, x, x, backend="triton")


def test_unknown_backend_is_a_clear_error() -> None:
    q = torch.randn(1, 1, 8, 32)
    with pytest.raises(ConfigError, match=r"backend must be 'auto', 'triton' or 'torch', got 'cuda'"):
        banded_attention(q, q, q, 2, backend="cuda")  # type: ignore[arg-type]


def _run_python(script: str, **env: str) -> str:
    """Run ``script`` in a fresh interpreter (the project may not be pip-installed) and return its output."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, env=environment
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(torch.version.cuda is not None, reason="checks a CPU-only PyTorch build")
def test_cpu_build_does_not_load_the_kernels_without_the_interpreter() -> None:
    script = textwrap.dedent(
        """
        import sys
        import torch
        import motionkit_kernels
        from motionkit.errors import ConfigError
        assert not motionkit_kernels.TRITON_AVAILABLE
        assert "triton" not in sys.modules, "importing motionkit_kernels must not import triton here"
        q = torch.randn(1, 1, 8, 32)
        try:
            motionkit_kernels.banded_attention(q, q, q, 2, backend="triton")
        except ConfigError as error:
            assert "no CUDA support" in str(error) and "TRITON_INTERPRET=1" in str(error), error
        else:
            raise AssertionError("backend='triton' must raise")
        print("ok")
        """
    )
    assert _run_python(script, TRITON_INTERPRET="0") == "ok"


def test_package_works_without_triton() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["triton"] = None  # makes `import triton` fail as if it were not installed
        import torch
        import motionkit_kernels
        from motionkit.errors import ConfigError
        assert not motionkit_kernels.TRITON_AVAILABLE
        q = torch.randn(1, 2, 20, 16, requires_grad=True)
        out = motionkit_kernels.banded_attention(q, q, q, 2)
        out.sum().backward()
        x = torch.randn(1, 5, 8)
        motionkit_kernels.gated_residual_adaln(x, x, x, x, x)
        try:
            motionkit_kernels.banded_attention(q, q, q, 2, backend="triton")
        except ConfigError as error:
            assert "triton package is not installed" in str(error), error
        else:
            raise AssertionError("backend='triton' without triton must raise")
        print("ok")
        """
    )
    assert _run_python(script) == "ok"
