"""The orthonormal motion basis: ``V = Q`` of the reduced QR decomposition of a raw ``(D, M)`` weight.

FLOAT (after LIA) stores an unconstrained weight ``W`` and re-orthonormalises it at every use::

    Q, R = torch.linalg.qr(W + 1e-8)        # reduced, LAPACK Householder (geqrf + orgqr)

so ``V^T V = I_M`` holds by construction. The column signs follow LAPACK's convention; any other QR routine may
flip columns and change every decoded frame, so this is the only place motionkit computes the basis.
"""

from __future__ import annotations

import torch

from motionkit.errors import ShapeError
from motionkit.validation import check_tensor

QR_EPSILON = 1e-8
"""FLOAT adds this constant to the raw weight before the QR (kept for bit-parity with the official model)."""


def orthonormal_basis(weight: torch.Tensor) -> torch.Tensor:
    """Return the ``(D, M)`` orthonormal basis ``Q`` of ``qr(weight + 1e-8)`` (reduced), in ``weight``'s dtype.

    bfloat16/float16 weights are decomposed in float32 (LAPACK has no half-precision QR) and cast back.
    """
    check_tensor("weight", weight, ndim=2, hint="Expected the raw basis weight of shape (D, M).")
    dim, rank = weight.shape
    if rank > dim:
        raise ShapeError(f"a motion basis needs M <= D, got weight of shape {(dim, rank)} (M = {rank} > D = {dim}).")
    if rank == 0:
        raise ShapeError("a motion basis needs at least one direction (M >= 1).")
    work = weight if weight.dtype in (torch.float32, torch.float64) else weight.float()
    q, _ = torch.linalg.qr(work + QR_EPSILON)
    return q.to(weight.dtype)
