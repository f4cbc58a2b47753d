"""Axis calibration: least-squares fits of measured quantities (pose angles, mouth opening) on coefficients.

For coefficients ``C`` (N, M) and one measurement ``y`` (N,), ordinary least squares with an intercept::

    y ~= C a + b                  a = argmin |C_c a - y_c|^2   (C_c, y_c centred over the N samples)
                                  b = mean(y) - mean(C) . a

gives the calibrated axis ``u = a / |a|``, ``scale = 1 / |a|``, ``offset = b``, whose reading
``(u . c) / scale + offset = a . c + b`` is the fitted prediction. The report gives
``R^2 = 1 - SS_res / SS_tot`` and the RMS residual in the measurement's unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import torch

from motionkit.errors import EditError
from motionkit.space.axes import Axis

if TYPE_CHECKING:
    from motionkit.space.space import MotionSpace

RANK_TOLERANCE = 1e-9
"""Relative singular value of the centred coefficients below which a direction counts as unexplored."""

CONSTANT_TOLERANCE = 1e-12
"""Relative spread below which a measurement counts as constant (nothing to regress)."""


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
    coefficients: torch.Tensor, measurements: Mapping[str, torch.Tensor], units: Mapping[str, str]
) -> tuple[list[Axis], dict[str, AxisFit]]:
    """Fit one axis per measurement.

    Args:
        coefficients: ``(N, M)`` float64 coefficients of the samples.
        measurements: name -> ``(N,)`` float64 measured values (finite).
        units: name -> unit of that measurement.

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
    axes: list[Axis] = []
    report: dict[str, AxisFit] = {}
    for name, values in measurements.items():
        mean = float(values.mean())
        deviation = values - mean
        total = float(deviation.square().sum())
        if math.sqrt(total / samples) <= CONSTANT_TOLERANCE * max(1.0, abs(mean)):
            raise EditError(f"measurement {name!r} is constant ({mean:.6g}); an axis needs values that vary.")
        slope = right_t.T @ ((left.T @ deviation) / singular)
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
