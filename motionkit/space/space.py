"""MotionSpace: projection onto and composition from an orthonormal motion basis.

For a basis ``V`` (D x M) with ``V^T V = I``::

    project(x)  = V^T x            coefficients (..., M)
    compose(c)  = V c              latents      (..., D)
    residual(x) = x - V V^T x      the part of x outside span(V)

``compose(project(x)) + residual(x) == x``, and edits change coefficients only, leaving the residual untouched.
"""

from __future__ import annotations

import torch

from motionkit.errors import ShapeError
from motionkit.space.basis import orthonormal_basis
from motionkit.validation import check_tensor

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Half-precision inputs are projected in float32 and cast back; float32/float64 stay as they are."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


class MotionSpace:
    """An orthonormal motion basis ``V`` of shape ``(D, M)``.

    Args:
        basis: ``(D, M)`` matrix with orthonormal columns. Use :meth:`from_weight` to build one from a raw weight
            exactly as FLOAT does.
    """

    def __init__(self, basis: torch.Tensor) -> None:
        check_tensor("basis", basis, ndim=2, hint="Expected (D, M) with orthonormal columns.")
        if basis.shape[1] > basis.shape[0]:
            raise ShapeError(f"basis must have M <= D columns, got shape {tuple(basis.shape)}.")
        self._basis = basis.detach()

    @classmethod
    def from_weight(cls, weight: torch.Tensor) -> MotionSpace:
        """The space of FLOAT's ``Direction`` layer: ``V = Q`` of ``torch.linalg.qr(weight + 1e-8)``."""
        return cls(orthonormal_basis(weight.detach()))

    @classmethod
    def random(cls, dim: int, rank: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> MotionSpace:
        """A random space: QR of a standard-normal ``(dim, rank)`` weight drawn from ``seed``."""
        generator = torch.Generator().manual_seed(seed)
        return cls.from_weight(torch.randn(dim, rank, generator=generator, dtype=dtype))

    @property
    def basis(self) -> torch.Tensor:
        """``(D, M)`` orthonormal columns."""
        return self._basis

    @property
    def dim(self) -> int:
        """Latent dimension D."""
        return int(self._basis.shape[0])

    @property
    def rank(self) -> int:
        """Number of directions M."""
        return int(self._basis.shape[1])

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> MotionSpace:
        return type(self)(self._basis.to(device=device, dtype=dtype))

    def _basis_for(self, x: torch.Tensor) -> torch.Tensor:
        return self._basis.to(device=x.device, dtype=_compute_dtype(x.dtype))

    def project(self, latents: torch.Tensor) -> torch.Tensor:
        """Coefficients ``V^T x``: ``(..., D) -> (..., M)``."""
        check_tensor("latents", latents, last_dim=self.dim, hint=f"Expected (..., {self.dim}).")
        basis = self._basis_for(latents)
        return (latents.to(basis.dtype) @ basis).to(latents.dtype)

    def compose(self, coefficients: torch.Tensor) -> torch.Tensor:
        """Latents ``V c``: ``(..., M) -> (..., D)``."""
        check_tensor("coefficients", coefficients, last_dim=self.rank, hint=f"Expected (..., {self.rank}).")
        basis = self._basis_for(coefficients)
        return (coefficients.to(basis.dtype) @ basis.T).to(coefficients.dtype)

    def residual(self, latents: torch.Tensor) -> torch.Tensor:
        """The component of ``latents`` outside the span: ``x - V V^T x``."""
        check_tensor("latents", latents, last_dim=self.dim, hint=f"Expected (..., {self.dim}).")
        basis = self._basis_for(latents)
        x = latents.to(basis.dtype)
        return (x - (x @ basis) @ basis.T).to(latents.dtype)

    def __repr__(self) -> str:
        return f"MotionSpace(dim={self.dim}, rank={self.rank}, dtype={self._basis.dtype})"
