"""Plots of motion in a MotionSpace (matplotlib, no display needed): axis readings, coefficients, edits.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state, works
headless); write it with :func:`save_figure`, which never leaves a partial file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from motionkit.errors import ShapeError
from motionkit.space.readings import MIN_READING_R2
from motionkit.space.space import MotionSpace
from motionkit.types import MotionTrack

PANEL_SIZE = (8.0, 1.6)
"""Width and height in inches of one axis panel."""

BEFORE_STYLE = {"color": "0.55", "linestyle": "--", "linewidth": 1.2, "label": "before"}
AFTER_STYLE = {"color": "C0", "linewidth": 1.6, "label": "after"}
RANGE_STYLE = {"color": "C2", "alpha": 0.12, "linewidth": 0, "label": "calibrated range"}


def _readings(track: MotionTrack, space: MotionSpace, names: Sequence[str], batch: int) -> dict[str, torch.Tensor]:
    if not 0 <= batch < track.batch:
        raise ShapeError(f"batch index {batch} is out of range for a track of batch {track.batch}.")
    coefficients = space.project(track.latents[batch].detach().to(torch.float64)).cpu()
    return space.readings(coefficients, names)


def _times(track: MotionTrack) -> torch.Tensor:
    return torch.arange(track.frames, dtype=torch.float64) / track.fps


def _panels(count: int, title: str | None) -> tuple[Figure, list]:
    figure = Figure(figsize=(PANEL_SIZE[0], PANEL_SIZE[1] * count + 0.6), layout="constrained")
    panels = list(figure.subplots(count, 1, sharex=True, squeeze=False)[:, 0])
    panels[-1].set_xlabel("time (s)")
    if title:
        figure.suptitle(title)
    return figure, panels


def _label(space: MotionSpace, name: str) -> str:
    """``"yaw (deg)"``; an axis whose reading explains little of its calibration says so: ``"blink (ratio;
    reading R^2 -29.92)"``."""
    axis = space.axis(name)
    if axis.r2 is not None and axis.r2 < MIN_READING_R2:
        return f"{name} ({axis.unit}; reading R$^2$ {axis.r2:.2f})"
    return f"{name} ({axis.unit})"


def _decorate(panel: Any, space: MotionSpace, name: str) -> None:
    """Axis label with the unit, grid, and the calibrated range as a band: readings outside it are extrapolated."""
    panel.set_ylabel(_label(space, name))
    panel.grid(alpha=0.3)
    span = space.axis(name).calibrated_range
    if span is not None:
        panel.axhspan(*span, **RANGE_STYLE)


def plot_axes(
    track: MotionTrack,
    space: MotionSpace,
    axes: Sequence[str] | None = None,
    *,
    batch: int = 0,
    title: str | None = None,
) -> Figure:
    """Readings (:meth:`MotionSpace.readings`) of ``axes`` over time, one panel per axis, in axis units, with the
    calibrated range shaded; default axes: :meth:`MotionSpace.plotted_axes` (those whose reading is supported by
    their calibration)."""
    names = space.plotted_axes() if axes is None else list(axes)
    readings = _readings(track, space, names, batch)
    figure, panels = _panels(len(names), title)
    times = _times(track)
    for panel, name in zip(panels, names):
        panel.plot(times, readings[name], color="C0", linewidth=1.4)
        _decorate(panel, space, name)
    return figure


def plot_coefficients(track: MotionTrack, space: MotionSpace, *, batch: int = 0, title: str | None = None) -> Figure:
    """All ``M`` coefficient trajectories ``V^T x(t)`` of one sequence in a single panel."""
    coefficients = _readings(track, space, [f"d{i}" for i in range(space.rank)], batch)
    figure, (panel,) = _panels(1, title)
    figure.set_size_inches(PANEL_SIZE[0], 3.5)
    times = _times(track)
    colours = [f"C{i % 10}" for i in range(space.rank)]
    for (name, values), colour in zip(coefficients.items(), colours):
        panel.plot(times, values, color=colour, linewidth=1.0, label=name)
    panel.set_ylabel("coefficient")
    panel.grid(alpha=0.3)
    panel.legend(ncol=min(space.rank, 10), fontsize="x-small", loc="upper right")
    return figure


def plot_edit(
    before: MotionTrack,
    after: MotionTrack,
    space: MotionSpace,
    axes: Sequence[str] | None = None,
    *,
    batch: int = 0,
    title: str | None = None,
) -> Figure:
    """Readings of ``axes`` before (dashed) and after (solid) an edit, one panel per axis (default axes and the
    shaded range as in :func:`plot_axes`)."""
    if (before.frames, before.fps) != (after.frames, after.fps):
        raise ShapeError(
            f"before has {before.frames} frames at {before.fps} fps but after has {after.frames} at {after.fps}; "
            "plot tracks of the same timing."
        )
    names = space.plotted_axes() if axes is None else list(axes)
    old, new = _readings(before, space, names, batch), _readings(after, space, names, batch)
    figure, panels = _panels(len(names), title)
    times = _times(before)
    for panel, name in zip(panels, names):
        panel.plot(times, old[name], **BEFORE_STYLE)
        panel.plot(times, new[name], **AFTER_STYLE)
        _decorate(panel, space, name)
    panels[0].legend(loc="upper right", fontsize="small")
    return figure


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Write ``figure`` to ``path`` (format from the suffix, e.g. ``.png``, ``.svg``), atomically."""
    from motionkit.io.files import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi)
    return path
