"""Named axes: calibrated unit directions in coefficient space, and their JSON file beside a checkpoint.

An :class:`Axis` is a unit vector ``u`` (M,) in coefficient space with a name, a unit, a ``scale`` and an
``offset``. For coefficients ``c`` (..., M)::

    reading(c)        = (u . c) / scale + offset         value in axis units (e.g. degrees of yaw)
    c + delta*scale*u                                    moves the reading by ``delta`` units

An axis fitted on measurements also records the range of the measured values (``calibrated_range``) and how much
of their variance its reading explains (``r2``). Edits are checked against the range: a change larger than
:data:`EDIT_RANGE_MULTIPLE` times the range's width, or an absolute value farther than its width outside the range,
is refused (far beyond what the renderer was calibrated on, it draws noise or black frames).

Every space has the basis axes ``d0 .. d{M-1}`` (``u = e_i``, unit ``"coef"``, scale 1, offset 0): the raw
coefficients, usable on any checkpoint, calibrated or not. Calibrated axes (``yaw``, ``mouth``, ...) come from
:meth:`MotionSpace.fit_axes` or are built by hand.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final, Literal

import torch
from pydantic import Field, field_validator, model_validator

from motionkit.errors import CheckpointError, EditError
from motionkit.space._model import SpaceModel

AXIS_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]*$"
"""Axis names start with a letter and contain letters, digits, ``_``, ``.`` and ``-``."""

BASIS_UNIT = "coef"
UNIT_NORM_TOLERANCE = 1e-5
"""How far ``|u|`` may be from 1 (directions computed in float32 and stored as JSON decimals)."""

ALL_AXES: Final = "all"
"""Edits that act on a subspace accept this instead of a list of names: the whole coefficient space."""

AXES_FILE_FORMAT: Final = "motionkit.axes"
AXES_FILE_VERSION = 2
"""2 adds each axis' ``calibrated_range``, ``reader`` and ``r2`` (optional; version 1 files read as axes without
them)."""

EDIT_RANGE_MULTIPLE = 3.0
"""How far edits may go, in widths ``w = high - low`` of an axis' calibrated range: a change (offset, amplitude,
relative keyframe) of at most ``3 w``, an absolute value within ``[low - w, high + w]`` (a span of ``3 w``). Three
widths leave room for exaggerated motion while refusing values the calibration says nothing about."""

_BASIS_NAME = re.compile(r"d(0|[1-9][0-9]*)")


def basis_index(name: str) -> int | None:
    """``i`` for a basis-axis name ``"d<i>"``, else ``None``."""
    match = _BASIS_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


class Axis(SpaceModel):
    """A named, calibrated unit direction in coefficient space (see the module docstring for the model).

    Attributes:
        name: how edits refer to the axis (``"yaw"``, ``"mouth"``, ``"d3"``).
        direction: unit vector ``u`` (M,) in coefficient space.
        unit: the unit of readings (``"deg"``, ``"ratio"``, ``"coef"``); informative only.
        scale: coefficient length of one unit (> 0): moving one unit adds ``scale * u`` to the coefficients.
        offset: reading at zero coefficients (absolute edits such as ``Set`` need it).
        calibrated_range: ``(low, high)`` of the measured values the axis was fitted on (axis units); ``None`` for
            axes made by hand and basis axes (their edits are not range-checked).
        reader: direction ``w`` (M,) whose projection reads the axis, ``(w . c) / scale + offset``, fitted so that
            edits of the space's other axes do not move the reading (:mod:`motionkit.space.readings`); ``None``:
            read along the dual basis of the space's axes.
        r2: share of the calibration measurements' variance that the space's reading of the axis explains
            (:meth:`MotionSpace.readings`); ``None`` when not measured. Plots show the axes whose reading explains
            at least :data:`motionkit.space.readings.MIN_READING_R2`.
    """

    name: str = Field(pattern=AXIS_NAME_PATTERN)
    direction: tuple[float, ...] = Field(min_length=1)
    unit: str = BASIS_UNIT
    scale: float = Field(default=1.0, gt=0.0)
    offset: float = 0.0
    calibrated_range: tuple[float, float] | None = None
    reader: tuple[float, ...] | None = None
    r2: float | None = Field(default=None, le=1.0)

    @model_validator(mode="after")
    def _reader_matches(self) -> Axis:
        if self.reader is not None and len(self.reader) != len(self.direction):
            raise ValueError(f"reader has {len(self.reader)} components but direction has {len(self.direction)}")
        return self

    @field_validator("calibrated_range")
    @classmethod
    def _increasing_range(cls, span: tuple[float, float] | None) -> tuple[float, float] | None:
        if span is not None and not span[0] < span[1]:
            raise ValueError(f"calibrated_range must be (low, high) with low < high, got {span}")
        return span

    @field_validator("name")
    @classmethod
    def _name_not_all(cls, name: str) -> str:
        if name == ALL_AXES:
            raise ValueError(f"{ALL_AXES!r} is reserved (it means every direction of the coefficient space)")
        return name

    @field_validator("direction")
    @classmethod
    def _unit_norm(cls, direction: tuple[float, ...]) -> tuple[float, ...]:
        norm = math.sqrt(math.fsum(x * x for x in direction))
        if abs(norm - 1.0) > UNIT_NORM_TOLERANCE:
            raise ValueError(f"direction must have unit length, got |u| = {norm:.6g}; divide it by its norm")
        return direction

    @classmethod
    def basis(
        cls,
        index: int,
        rank: int,
        *,
        name: str | None = None,
        unit: str = BASIS_UNIT,
        scale: float = 1.0,
        offset: float = 0.0,
    ) -> Axis:
        """The axis along basis direction ``index`` of a rank-``rank`` space (named ``d<index>`` by default)."""
        if not 0 <= index < rank:
            raise EditError(f"basis direction {index} does not exist in a space of rank {rank} (0 .. {rank - 1}).")
        direction = tuple(1.0 if i == index else 0.0 for i in range(rank))
        return cls(name=name or f"d{index}", direction=direction, unit=unit, scale=scale, offset=offset)

    @classmethod
    def from_vector(
        cls, name: str, vector: torch.Tensor, *, unit: str = BASIS_UNIT, scale: float = 1.0, offset: float = 0.0
    ) -> Axis:
        """An axis along ``vector`` (M,), normalised to unit length (scale and offset as given)."""
        values = vector.detach().to("cpu", torch.float64).flatten()
        norm = float(values.norm())
        if not math.isfinite(norm) or norm == 0.0:
            raise EditError(f"axis {name!r}: the direction vector must be finite and non-zero, got |v| = {norm}.")
        return cls(name=name, direction=tuple((values / norm).tolist()), unit=unit, scale=scale, offset=offset)

    @property
    def rank(self) -> int:
        """Dimension M of the coefficient space the axis lives in."""
        return len(self.direction)

    @property
    def is_basis(self) -> bool:
        """True for the canonical basis axis ``d<i>`` (``u = e_i``, scale 1, offset 0, unit "coef")."""
        index = basis_index(self.name)
        return index is not None and index < self.rank and self == Axis.basis(index, self.rank)

    def vector(self, like: torch.Tensor | None = None) -> torch.Tensor:
        """``u`` as a tensor (M,), on ``like``'s device and dtype (float64 on CPU without ``like``)."""
        u = torch.tensor(self.direction, dtype=torch.float64)
        return u if like is None else u.to(device=like.device, dtype=like.dtype)

    def read(self, coefficients: torch.Tensor) -> torch.Tensor:
        """Readings in axis units ``(u . c) / scale + offset``: ``(..., M) -> (...)``."""
        return (coefficients @ self.vector(coefficients)) / self.scale + self.offset

    def check_change(self, value: float, what: str) -> None:
        """Refuse a change of ``value`` units (an offset, an amplitude) beyond :data:`EDIT_RANGE_MULTIPLE` widths
        of the calibrated range (no check without one).

        Raises:
            EditError: naming the axis, the value and the range.
        """
        if self.calibrated_range is None:
            return
        low, high = self.calibrated_range
        limit = EDIT_RANGE_MULTIPLE * (high - low)
        if not abs(value) <= limit:
            raise EditError(
                f"{what} {value:g} {self.unit} on axis {self.name!r} is more than {EDIT_RANGE_MULTIPLE:g} times the "
                f"width of its calibrated range {low:g} .. {high:g} {self.unit}; use a change within "
                f"+-{limit:.4g} {self.unit}."
            )

    def check_reading(self, value: float, what: str) -> None:
        """Refuse an absolute reading ``value`` farther than one range width outside the calibrated range (a span
        of :data:`EDIT_RANGE_MULTIPLE` widths; no check without a range).

        Raises:
            EditError: naming the axis, the value and the range.
        """
        if self.calibrated_range is None:
            return
        low, high = self.calibrated_range
        width = (EDIT_RANGE_MULTIPLE - 1.0) / 2.0 * (high - low)
        if not low - width <= value <= high + width:
            raise EditError(
                f"{what} {value:g} {self.unit} on axis {self.name!r} is far outside its calibrated range {low:g} .. "
                f"{high:g} {self.unit}; use a value within {low - width:.4g} .. {high + width:.4g} {self.unit}."
            )

    def coefficients_for(self, value: float) -> float:
        """The projection ``u . c`` at which the reading equals ``value``: ``(value - offset) * scale``."""
        return (value - self.offset) * self.scale


def basis_axes(rank: int) -> dict[str, Axis]:
    """The default axes ``d0 .. d{rank-1}`` (one per basis direction)."""
    return {f"d{i}": Axis.basis(i, rank) for i in range(rank)}


def validate_axes(axes: Iterable[Axis], rank: int) -> dict[str, Axis]:
    """Check a set of named axes against a rank-``rank`` space; return them by name (in the given order)."""
    result: dict[str, Axis] = {}
    for axis in axes:
        if not isinstance(axis, Axis):
            raise EditError(f"expected Axis values, got {type(axis).__name__}; build them with Axis(...).")
        if axis.rank != rank:
            raise EditError(f"axis {axis.name!r} has {axis.rank} components but the space has rank {rank}.")
        if axis.name in result:
            raise EditError(f"axis {axis.name!r} is given twice; axis names must be unique.")
        index = basis_index(axis.name)
        if index is not None and not axis.is_basis:
            raise EditError(
                f"axis name {axis.name!r} is reserved for basis direction {index}; choose another name "
                f"(e.g. Axis.basis({index}, {rank}, name='my_axis'))."
            )
        result[axis.name] = axis
    return result


class AxesFile(SpaceModel):
    """On-disk JSON layout of a space's named axes (``space.save_axes(path)``)."""

    format: Literal["motionkit.axes"] = AXES_FILE_FORMAT
    format_version: int = AXES_FILE_VERSION
    dim: int = Field(gt=0)
    rank: int = Field(gt=0)
    axes: tuple[Axis, ...]


def axes_to_json(axes: Mapping[str, Axis], *, dim: int, rank: int) -> str:
    return AxesFile(dim=dim, rank=rank, axes=tuple(axes.values())).model_dump_json(indent=2) + "\n"


def axes_from_file(path: str | Path, *, dim: int, rank: int) -> dict[str, Axis]:
    """Read and check an axes file for a ``(dim, rank)`` space; every problem is a :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"axes file {path} does not exist; write one with space.save_axes(path).")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not a readable JSON axes file ({error}).") from None
    if not isinstance(raw, dict) or raw.get("format") != AXES_FILE_FORMAT:
        raise CheckpointError(f'{path} is not a motionkit axes file (missing \'"format": "{AXES_FILE_FORMAT}"\').')
    version = raw.get("format_version")
    if not isinstance(version, int) or version > AXES_FILE_VERSION:
        raise CheckpointError(
            f"{path} has axes format version {version!r}; this motionkit reads up to {AXES_FILE_VERSION}. "
            "Upgrade motionkit."
        )
    try:
        content = AxesFile.model_validate(raw)
    except EditError as error:
        raise CheckpointError(f"{path}: {error}") from None
    if (content.dim, content.rank) != (dim, rank):
        raise CheckpointError(
            f"{path} holds axes for a space of (dim, rank) = {(content.dim, content.rank)}, but this space has "
            f"{(dim, rank)}; load the axes that were fitted for this checkpoint."
        )
    try:
        return validate_axes(content.axes, rank)
    except EditError as error:
        raise CheckpointError(f"{path}: {error}") from None
