"""Readings of named axes that do not leak into each other, and how well they measure what they name.

Calibrated directions ``u_1 .. u_K`` (rows of ``U``, (K, M)) are unit vectors but not orthogonal: reading axis ``j``
as ``(u_j . c) / s_j + o_j`` picks up ``(u_j . u_k) s_k / s_j`` per unit of an edit of axis ``k`` (on the demo
model a 15 degree turn moved the blink reading by 2.5). A *reader* ``w_j`` (M,) with::

    w_j . u_j = 1,   w_j . u_k = 0 (k != j)          reading_j(c) = (w_j . c) / s_j + o_j

moves by exactly ``x`` under an edit of ``x`` units of axis ``j`` (``c + x s_j u_j``) and by nothing under an edit
of any other calibrated axis. The readers are, per axis, the first of:

1. the axis' stored ``reader``, when it still meets these conditions for the space's axes (it was fitted with
   them: :func:`fit_readers`);
2. row ``j`` of the dual basis ``W = (U U^T)^{-1} U``, the reader within the span of ``U``;
3. ``u_j`` itself, when the directions are nearly dependent (the smallest eigenvalue of ``U U^T`` below
   :data:`DUAL_CONDITION_LIMIT`): the calibration does not separate the axes.

The dual basis ignores everything outside the span of ``U``; :func:`fit_readers` adds the component orthogonal to
``U`` that best predicts measured values (least squares ``w_j = W_j + N z``, ``N`` an orthonormal basis of the
complement): edits cannot move that component, so the conditions still hold, and the reading follows the
measurements as closely as independence allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from motionkit.space.axes import Axis

DUAL_CONDITION_LIMIT = 1e-3
"""Smallest eigenvalue of the Gram matrix ``U U^T`` (unit rows) for a dual basis: below it, some calibrated
direction lies within 0.03 rad (sqrt 1e-3) of the span of the others, and the dual reading would amplify the
coefficients' noise by more than 30x."""

READER_TOLERANCE = 1e-6
"""How far a stored reader's ``w . u_k`` may be from 1 (its axis) and 0 (the others); JSON keeps 17 digits."""

MIN_READING_R2 = 0.5
"""Least share of the calibration measurements' variance an axis reading must explain to be shown by default in
plots: below it, the reading is mostly something other than what the axis names."""


def _directions(axes: Sequence[Axis]) -> torch.Tensor:
    return torch.stack([axis.vector() for axis in axes])


def _dual(directions: torch.Tensor) -> torch.Tensor | None:
    gram = directions @ directions.T
    if float(torch.linalg.eigvalsh(gram).min()) < DUAL_CONDITION_LIMIT:
        return None
    return torch.linalg.solve(gram, directions)


def reading_directions(axes: Sequence[Axis]) -> torch.Tensor:
    """``(K, M)`` float64 readers of ``axes`` (the calibrated axes of one space; see the module docstring)."""
    directions = _directions(axes)
    dual = _dual(directions)
    target = torch.eye(len(axes), dtype=torch.float64)
    rows = []
    for j, axis in enumerate(axes):
        if axis.reader is not None:
            stored = torch.tensor(axis.reader, dtype=torch.float64)
            if float((directions @ stored - target[j]).abs().max()) <= READER_TOLERANCE:
                rows.append(stored)
                continue
        rows.append(directions[j] if dual is None else dual[j])
    return torch.stack(rows)


def reading_quality(
    axes: Sequence[Axis], coefficients: torch.Tensor, measurements: Mapping[str, torch.Tensor]
) -> list[Axis]:
    """``axes`` with each measured one recording its calibrated range (min and max of its measured values) and the
    ``R^2`` of its reading (readers of :func:`reading_directions`) on ``coefficients`` ``(N, M)`` against
    ``measurements`` (name -> ``(N,)``)."""
    readers = reading_directions(axes)
    updated = []
    for axis, reader in zip(axes, readers):
        measured = measurements.get(axis.name)
        if measured is not None:
            measured = measured.double().flatten()
            reading = coefficients.double() @ reader / axis.scale + axis.offset
            total = float((measured - measured.mean()).square().sum())
            r2 = 1.0 - float((measured - reading).square().sum()) / total
            span = (float(measured.min()), float(measured.max()))
            axis = axis.model_copy(update={"calibrated_range": span, "r2": r2})
        updated.append(axis)
    return updated


def fit_readers(
    axes: Sequence[Axis], coefficients: torch.Tensor, measurements: Mapping[str, torch.Tensor]
) -> list[Axis]:
    """``axes`` (the calibrated axes of one space) with a fitted ``reader`` and ``offset`` for each measured one,
    then :func:`reading_quality` (see the module docstring for the fit).

    The directions and scales stay (edits move exactly as before); the offset becomes the fit's intercept, so
    absolute edits (``Set``) reach the value that the reading then shows. Without a dual basis (nearly dependent
    directions) the axes are returned with their quality only.

    Args:
        coefficients: ``(N, M)`` coefficients of the measured frames.
        measurements: axis name -> ``(N,)`` measured values.
    """
    directions = _directions(axes)
    dual = _dual(directions)
    if dual is None:
        return reading_quality(axes, coefficients, measurements)
    complement = torch.linalg.qr(directions.T, mode="complete").Q[:, len(axes) :]
    features = coefficients.double()
    mean = features.mean(dim=0)
    centred = features - mean
    updated = []
    for j, axis in enumerate(axes):
        measured = measurements.get(axis.name)
        if measured is not None:
            measured = measured.double().flatten()
            target = measured - measured.mean() - centred @ dual[j] / axis.scale
            reader = dual[j]
            if complement.shape[1]:  # directions spanning the whole space leave the dual basis as the only reader
                free = centred @ complement / axis.scale
                # normal equations of a (M - K)-column least squares: LAPACK's pivoting lstsq is not bit-for-bit
                # reproducible across runs, and the same seed must give the same axes file
                extra = torch.linalg.solve(free.T @ free, free.T @ target)
                reader = reader + complement @ extra
            offset = float(measured.mean()) - float(mean @ reader) / axis.scale
            axis = axis.model_copy(update={"reader": tuple(reader.tolist()), "offset": offset})
        updated.append(axis)
    return reading_quality(updated, coefficients, measurements)
