"""Plots: the drawn lines are the axis readings, files are written atomically, bad input is rejected."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from space_strategies import FPS, FRAMES, calibrated_space, make_track, reading

from motionkit import EditProgram
from motionkit.errors import OutputError, ShapeError
from motionkit.space.edits import Oscillate
from motionkit.space.plot import plot_axes, plot_coefficients, plot_edit, save_figure

SPACE = calibrated_space()
TRACK = make_track()
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_plot_axes_draws_each_reading_against_time() -> None:
    figure = plot_axes(TRACK, SPACE, ["yaw", "mouth"], batch=1, title="track")
    panels = figure.axes
    assert len(panels) == 2
    for panel, name in zip(panels, ["yaw", "mouth"]):
        (line,) = panel.get_lines()
        np.testing.assert_allclose(line.get_xdata(), np.arange(FRAMES) / FPS)
        np.testing.assert_allclose(line.get_ydata(), reading(TRACK, SPACE, name)[1].numpy())
        assert SPACE.axis(name).unit in panel.get_ylabel()
    assert len(plot_axes(TRACK, SPACE).axes) == len(SPACE.axes)


def test_plot_coefficients_draws_every_direction() -> None:
    (panel,) = plot_coefficients(TRACK, SPACE).axes
    lines = panel.get_lines()
    assert len(lines) == SPACE.rank
    np.testing.assert_allclose(lines[3].get_ydata(), SPACE.project(TRACK.latents)[0, :, 3].numpy())


def test_plot_edit_draws_before_and_after() -> None:
    edited = EditProgram(edits=[Oscillate.nod(5.0)]).apply(TRACK, SPACE)
    figure = plot_edit(TRACK, edited, SPACE, ["pitch"])
    before, after = figure.axes[0].get_lines()
    np.testing.assert_allclose(before.get_ydata(), reading(TRACK, SPACE, "pitch")[0].numpy())
    np.testing.assert_allclose(after.get_ydata(), reading(edited, SPACE, "pitch")[0].numpy())
    assert (before.get_label(), after.get_label()) == ("before", "after")


def test_plot_errors() -> None:
    with pytest.raises(ShapeError, match="batch index 2 is out of range"):
        plot_axes(TRACK, SPACE, batch=2)
    with pytest.raises(ShapeError, match="same timing"):
        plot_edit(TRACK, TRACK.slice(0, 10), SPACE)


def test_save_figure_writes_a_png_atomically(tmp_path: Path) -> None:
    path = save_figure(plot_axes(TRACK, SPACE, ["yaw"]), tmp_path / "yaw.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["yaw.png"]
    with pytest.raises(OutputError, match="does not exist"):
        save_figure(plot_axes(TRACK, SPACE, ["yaw"]), tmp_path / "missing" / "yaw.png")


def test_nod_and_turn_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("nod_and_turn", PROJECT_ROOT / "examples" / "nod_and_turn.py")
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    torch.manual_seed(123)  # the example must not depend on the global generator
    path = example.main(["--out", str(tmp_path / "plots" / "nod.png")])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    output = capsys.readouterr().out
    assert "yaw: R^2 = 0.99" in output
    assert "mouth: R^2 = 0.99" in output
    assert f"plot written to {path}" in output
    turn = re.search(r"yaw at the last frame: ([-+\d.]+) deg before, ([-+\d.]+) deg after the turn", output)
    assert turn is not None
    assert float(turn[2]) - float(turn[1]) == pytest.approx(20.0, abs=0.15)
