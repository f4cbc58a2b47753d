"""MotionSpace: projection onto and composition from an orthonormal motion basis, with named axes.

For a basis ``V`` (D x M) with ``V^T V = I``::

    project(x)  = V^T x            coefficients (..., M)
    compose(c)  = V c              latents      (..., D)
    residual(x) = x - V V^T x      the part of x outside span(V)

``compose(project(x)) + residual(x) == x``, and edits change coefficients only, leaving the residual untouched.
A space is immutable: methods that change its axes return a new space sharing the same basis.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from motionkit.errors import EditError, Fix, ShapeError
from motionkit.space.axes import Axis, axes_from_file, axes_to_json, basis_axes, basis_index, validate_axes
from motionkit.space.basis import orthonormal_basis
from motionkit.space.calibration import AxisCalibration, FitMethod, fit_axes
from motionkit.validation import check_tensor

_LOW_PRECISION = (torch.float16, torch.bfloat16)

ORTHONORMALITY_TOLERANCE: dict[torch.dtype, float] = {
    torch.float64: 1e-4,  # a float32 basis stored as float64 is legitimate
    torch.float32: 1e-4,
    torch.float16: 2e-2,
    torch.bfloat16: 2e-2,
}
"""Largest ``|V^T V - I|`` accepted for a basis passed to ``MotionSpace(basis)``, per dtype."""

DEFAULT_MEASUREMENT_UNIT = "value"


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Half-precision inputs are projected in float32 and cast back; float32/float64 stay as they are."""
    return torch.float32 if dtype in _LOW_PRECISION else dtype


class MotionSpace:
    """An orthonormal motion basis ``V`` of shape ``(D, M)`` and its named axes.

    Args:
        basis: ``(D, M)`` matrix with orthonormal columns (checked). Use :meth:`from_weight` to build one from a
            raw weight exactly as FLOAT does. The tensor is copied, so later changes to it do not leak in.
        axes: named, calibrated axes (see :class:`~motionkit.space.axes.Axis`). Without any, :attr:`axes` holds
            the basis axes ``d0 .. d{M-1}``; the basis axes can be addressed by name in every space.

    Example::

        space = MotionSpace.random(dim=512, rank=20, seed=0)
        coefficients = space.project(latents)          # (B, T, 512) -> (B, T, 20)
        latents = space.compose(coefficients) + space.residual(latents)
    """

    def __init__(self, basis: torch.Tensor, axes: Iterable[Axis] = ()) -> None:
        check_tensor("basis", basis, ndim=2, hint="Expected (D, M) with orthonormal columns.")
        dim, rank = basis.shape
        if rank > dim or rank == 0:
            raise ShapeError(f"basis must have 1 <= M <= D columns, got shape {tuple(basis.shape)}.")
        gram = basis.detach().to(torch.float64)
        error = float((gram.T @ gram - torch.eye(rank, dtype=torch.float64, device=gram.device)).abs().max())
        tolerance = ORTHONORMALITY_TOLERANCE[basis.dtype]
        if error > tolerance:
            raise ShapeError(
                f"basis columns are not orthonormal (max |V^T V - I| = {error:.3g} > {tolerance:g}); build the "
                "space from the raw weight with MotionSpace.from_weight(weight)."
            )
        self._basis = basis.detach().clone()
        self._axes = validate_axes(axes, rank)

    @classmethod
    def from_weight(cls, weight: torch.Tensor, axes: Iterable[Axis] = ()) -> MotionSpace:
        """The space of FLOAT's ``Direction`` layer: ``V = Q`` of ``torch.linalg.qr(weight + 1e-8)``."""
        return cls(orthonormal_basis(weight), axes)

    @classmethod
    def random(cls, dim: int, rank: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> MotionSpace:
        """A random space: QR of a standard-normal ``(dim, rank)`` weight drawn from ``seed`` (in float64, then
        cast to ``dtype``, so every dtype gets the same directions)."""
        if not (isinstance(dim, int) and isinstance(rank, int) and 1 <= rank <= dim):
            raise ShapeError(f"MotionSpace.random needs integers 1 <= rank <= dim, got dim={dim!r}, rank={rank!r}.")
        generator = torch.Generator().manual_seed(seed)
        weight = torch.randn(dim, rank, generator=generator, dtype=torch.float64)
        return cls(orthonormal_basis(weight).to(dtype))

    @property
    def basis(self) -> torch.Tensor:
        """``(D, M)`` orthonormal columns (treat as read-only)."""
        return self._basis

    @property
    def dim(self) -> int:
        """Latent dimension D."""
        return int(self._basis.shape[0])

    @property
    def rank(self) -> int:
        """Number of directions M."""
        return int(self._basis.shape[1])

    @property
    def dtype(self) -> torch.dtype:
        return self._basis.dtype

    @property
    def device(self) -> torch.device:
        return self._basis.device

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> MotionSpace:
        """The same space (axes included) with the basis on ``device`` / in ``dtype``."""
        return self._with(self._basis.to(device=device, dtype=dtype), self._axes)

    # -- projection -------------------------------------------------------------------------------------------

    def _basis_for(self, x: torch.Tensor) -> torch.Tensor:
        return self._basis.to(device=x.device, dtype=compute_dtype(x.dtype))

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

    # -- axes -------------------------------------------------------------------------------------------------

    @property
    def axes(self) -> Mapping[str, Axis]:
        """Named axes by name (read-only): the calibrated ones, or ``d0 .. d{M-1}`` when none are named."""
        return types.MappingProxyType(self._axes or basis_axes(self.rank))

    @property
    def is_calibrated(self) -> bool:
        """Whether the space has named axes beyond the basis directions."""
        return any(not axis.is_basis for axis in self._axes.values())

    def axis(self, name: str) -> Axis:
        """The axis called ``name``: a named axis, or the basis axis ``d<i>`` (always available)."""
        if name in self._axes:
            return self._axes[name]
        index = basis_index(name)
        if index is not None and index < self.rank:
            return Axis.basis(index, self.rank)
        named = ", ".join(repr(n) for n in self._axes) if self._axes else "none"
        raise EditError(
            f"unknown axis {name!r}. Named axes of this space: {named}; basis axes: 'd0' .. 'd{self.rank - 1}'.",
            fix=Fix(
                python="Add axes with space.with_axes([Axis(...)]) or calibrate them with "
                f"space.fit_axes(latents, {{{name!r}: measured_values}}).",
                cli="Name one of these axes in the edit program (`motionkit info MODEL` lists a model's axes).",
            ),
        )

    def with_axes(self, axes: Iterable[Axis] | Mapping[str, Axis]) -> MotionSpace:
        """A new space with the same basis and exactly these named axes (an empty list restores the defaults)."""
        values = axes.values() if isinstance(axes, Mapping) else axes
        return self._with(self._basis, validate_axes(values, self.rank))

    def _with(self, basis: torch.Tensor, axes: dict[str, Axis]) -> MotionSpace:
        """A space from parts that are already checked (no copy, no re-validation)."""
        space = type(self).__new__(type(self))
        space._basis = basis
        space._axes = axes
        return space

    def fit_axes(
        self,
        latents: torch.Tensor,
        measurements: Mapping[str, torch.Tensor],
        units: Mapping[str, str] | None = None,
        method: FitMethod = "regression",
    ) -> AxisCalibration:
        """Calibrate one axis per measured quantity by least squares (see :mod:`motionkit.space.calibration`).

        Args:
            latents: ``(N, D)`` or ``(B, T, D)`` (any leading shape) motion latents of the measured frames.
            measurements: axis name -> measured values with the latents' leading shape (``(N,)`` or ``(B, T)``),
                e.g. ``{"yaw": degrees, "mouth": opening_ratio}``.
            units: axis name -> unit of its measurement (default ``"value"``).
            method: ``"regression"`` (the best reading of each quantity) or ``"inverse"`` (the direction the
                coefficients move along when the quantity changes: better for edits when the latents are noisy
                readings of it).

        Returns:
            ``(space, report)``: a new space whose axes are this space's named axes plus the fitted ones (a fitted
            axis replaces a named axis of the same name), and ``{name: AxisFit}`` with R^2 and RMSE per axis.
        """
        check_tensor("latents", latents, last_dim=self.dim, hint=f"Expected (N, {self.dim}) or (B, T, {self.dim}).")
        if latents.ndim < 2:
            raise ShapeError(
                f"latents must have shape (N, {self.dim}) or (B, T, {self.dim}), got {tuple(latents.shape)}."
            )
        if not isinstance(measurements, Mapping) or not measurements:
            raise EditError("fit_axes needs at least one measurement, e.g. {'yaw': yaw_degrees}.")
        units = dict(units or {})
        unknown_units = sorted(set(units) - set(measurements))
        if unknown_units:
            raise EditError(f"units given for {unknown_units} but there are no measurements with those names.")
        leading = tuple(latents.shape[:-1])
        coefficients = self.project(latents.detach().to(torch.float64)).reshape(-1, self.rank).cpu()
        values: dict[str, torch.Tensor] = {}
        for name, measured in measurements.items():
            if basis_index(name) is not None:
                raise EditError(f"axis name {name!r} is reserved for a basis direction; choose another name.")
            check_tensor(f"measurements[{name!r}]", measured, hint=f"Expected shape {leading}.")
            if tuple(measured.shape) != leading:
                raise ShapeError(
                    f"measurements[{name!r}] has shape {tuple(measured.shape)} but the latents have leading shape "
                    f"{leading}; give one value per latent frame."
                )
            values[name] = measured.detach().to("cpu", torch.float64).reshape(-1)
        fitted, report = fit_axes(
            coefficients, values, {name: units.get(name, DEFAULT_MEASUREMENT_UNIT) for name in values}, method
        )
        kept = [axis for name, axis in self._axes.items() if name not in values]
        return AxisCalibration(self.with_axes([*kept, *fitted]), report)

    def save_axes(self, path: str | Path) -> Path:
        """Write the named axes as JSON (atomically) beside a checkpoint; returns the path."""
        from motionkit.io.files import atomic_path

        path = Path(path)
        text = axes_to_json(self.axes, dim=self.dim, rank=self.rank)
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path

    def load_axes(self, path: str | Path) -> MotionSpace:
        """A new space with the axes of a file written by :meth:`save_axes` (rank, dim and unit norms checked)."""
        return self.with_axes(axes_from_file(path, dim=self.dim, rank=self.rank))

    def __repr__(self) -> str:
        names = ", ".join(self._axes) if self._axes else f"d0..d{self.rank - 1}"
        return f"MotionSpace(dim={self.dim}, rank={self.rank}, dtype={self._basis.dtype}, axes=[{names}])"
