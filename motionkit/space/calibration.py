"""Axis calibration: least-squares fits of measured quantities (pose angles, mouth opening) on coefficients.

For coefficients ``C`` (N, M) and one measurement ``y`` (N,) (``C_c``, ``y_c`` centred over the N samples), two
fits are offered:

``"regression"`` (the default) — ordinary least squares of the measurement on the coefficients::

    y ~= C a + b                  a = argmin |C_c a - y_c|^2,   b = mean(y) - mean(C) . a

gives ``u = a / |a|``, ``scale = 1 / |a|``, ``offset = b``, whose reading ``(u . c) / scale + offset = a . c + b``
is the best linear prediction of ``y``. It is the right axis for *reading* a quantity, but when the coefficients
are noisy readings of it, least squares leans on whatever low-variance combination of coefficients correlates
with the noise, so its direction is a poor direction to *move* along.

``"inverse"`` — least squares of the coefficients on the measurement (inverse regression)::

    c ~= g y + h                  g = C_c^T y_c / |y_c|^2

gives ``u = g / |g|``, ``scale = |g|`` (coefficient length of one unit), ``offset = mean(y) - (u . mean(C)) /
scale``: the direction in which the coefficients move on average when the quantity changes by one unit, which is
what an edit of that quantity should follow. Its reading ``(u . c) / scale + offset`` is unbiased but not the best
predictor.

Both are consistent: moving the coefficients by ``x * scale * u`` changes the axis reading by exactly ``x``. The
report gives the reading's ``R^2 = 1 - SS_res / SS_tot`` and RMS residual in the measurement's unit.
:meth:`MotionSpace.fit_axes` then records on each axis the range of its measured values
(``Axis.calibrated_range``, which edits are checked against) and the ``R^2`` of the space's reading of it
(:func:`motionkit.space.readings.reading_quality`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

import torch

from motionkit.errors import EditError
from motionkit.space.axes import Axis

if TYPE_CHECKING:
    from motionkit.space.space import MotionSpace

RANK_TOLERANCE = 1e-9
"""Relative singular value of the centred coefficients below which a direction counts as unexplored."""

CONSTANT_TOLERANCE = 1e-12
"""Relative spread below which a measurement counts as constant (nothing to regress)."""

FitMethod = Literal["regression", "inverse"]
"""How an axis is fitted (see the module docstring)."""


@dataclass(frozen=True)
class AxisFit:
    """Quality of one fitted axis: coefficient of determination and RMS residual (in ``unit``)."""

    name: str
    unit: str
    r2: float
    rmse: float
    samples: int

    def __str__(self) -> str:
        return f"{self.name}: R^2 = {self.r2:.4f}, RMSE = {self.rmse:.4g} {self.unit} ({self.samples} samples)"


class AxisCalibration(NamedTuple):
    """What :meth:`MotionSpace.fit_axes` returns: ``space, report = space.fit_axes(...)``."""

    space: MotionSpace
    report: dict[str, AxisFit]


def fit_axes(
    coefficients: torch.Tensor,
    measurements: Mapping[str, torch.Tensor],
    units: Mapping[str, str],
    method: FitMethod = "regression",
) -> tuple[list[Axis], dict[str, AxisFit]]:
    """Fit one axis per measurement.

    Args:
        coefficients: ``(N, M)`` float64 coefficients of the samples.
        measurements: name -> ``(N,)`` float64 measured values (finite).
        units: name -> unit of that measurement.
        method: ``"regression"`` or ``"inverse"`` (see the module docstring).

    Raises:
        EditError: too few samples (need ``N >= M + 2``), coefficients that do not vary along every basis
            direction, a constant measurement, or a measurement with no linear relation to the coefficients.
    """
    samples, rank = coefficients.shape
    if samples < rank + 2:
        raise EditError(
            f"fit_axes needs at least M + 2 = {rank + 2} samples to fit {rank} slopes and an intercept, got {samples}; "
            "measure more frames."
        )
    centred = coefficients - coefficients.mean(dim=0)
    left, singular, right_t = torch.linalg.svd(centred, full_matrices=False)
    explored = int((singular > RANK_TOLERANCE * singular[0]).sum()) if float(singular[0]) > 0 else 0
    if explored < rank:
        raise EditError(
            f"the samples' coefficients vary along only {explored} of the {rank} basis directions, so the axes are "
            "not determined; use frames with more varied motion (pose, expression, mouth)."
        )
    if method not in ("regression", "inverse"):
        raise EditError(f"unknown fit method {method!r}; use 'regression' or 'inverse'.")
    axes: list[Axis] = []
    report: dict[str, AxisFit] = {}
    for name, values in measurements.items():
        mean = float(values.mean())
        deviation = values - mean
        total = float(deviation.square().sum())
        if math.sqrt(total / samples) <= CONSTANT_TOLERANCE * max(1.0, abs(mean)):
            raise EditError(f"measurement {name!r} is constant ({mean:.6g}); an axis needs values that vary.")
        if method == "regression":
            slope = right_t.T @ ((left.T @ deviation) / singular)
        else:  # the reading of the inverse fit: (g . c) / |g|^2, a slope of g / |g|^2
            movement = centred.T @ deviation / total
            slope = movement / movement.square().sum()
        length = float(slope.norm())
        if not math.isfinite(length) or length == 0.0:
            raise EditError(f"measurement {name!r} has no linear relation to the coefficients; cannot fit an axis.")
        intercept = mean - float(coefficients.mean(dim=0) @ slope)
        residual = deviation - centred @ slope
        unexplained = float(residual.square().sum())
        unit = units[name]
        axes.append(Axis.from_vector(name, slope, unit=unit, scale=1.0 / length, offset=intercept))
        report[name] = AxisFit(
            name=name, unit=unit, r2=1.0 - unexplained / total, rmse=math.sqrt(unexplained / samples), samples=samples
        )
    return axes, report
