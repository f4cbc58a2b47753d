"""The shipped demo model's axes: readings an edit of another axis leaves alone, plotted axes whose calibration
supports them, readings of the demo's motion within what was calibrated, and edits beyond it refused."""

from __future__ import annotations

import pytest
import torch

from motionkit.assets import demo_model_path, demo_portrait_path, demo_speech_path
from motionkit.cli.commands.demo import TURN_ANGLE, demo_program
from motionkit.errors import EditError
from motionkit.pipeline import Pipeline
from motionkit.space import EditProgram
from motionkit.space.axes import EDIT_RANGE_MULTIPLE
from motionkit.space.edits import Offset
from motionkit.space.readings import MIN_READING_R2

OTHER_AXIS_BOUND = 1e-6
"""Change of another axis' reading under a 15-degree turn: the stored readers meet their conditions to JSON's 17
digits, so only rounding is left (the single-direction reading moved blink by 2.5)."""


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.from_pretrained(demo_model_path(), device="cpu")


def test_a_turn_moves_the_yaw_reading_only(pipeline: Pipeline) -> None:
    space = pipeline.motion_space
    coefficients = torch.randn(64, space.rank, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    yaw = space.axis("yaw")
    before = space.readings(coefficients)
    after = space.readings(coefficients + TURN_ANGLE * yaw.scale * yaw.vector())
    torch.testing.assert_close(after["yaw"] - before["yaw"], torch.full_like(before["yaw"], TURN_ANGLE))
    for name in set(space.axes) - {"yaw"}:
        assert float((after[name] - before[name]).abs().max()) < OTHER_AXIS_BOUND, name


def test_the_demo_plot_shows_supported_axes_within_their_calibrated_range(pipeline: Pipeline) -> None:
    space = pipeline.motion_space
    shown = space.plotted_axes()
    assert {"yaw", "pitch"} <= set(shown)  # the edited axes
    for name, axis in space.axes.items():
        assert axis.r2 is not None
        assert axis.calibrated_range is not None
        assert (name in shown) == (axis.r2 >= MIN_READING_R2), name
    video = pipeline.generate(demo_portrait_path(), demo_speech_path(), "neutral", seed=0, crop=False)
    edited = pipeline.apply_edits(video.track, demo_program(video.duration))
    for track in (video.track, edited):
        readings = space.readings(space.project(track.latents[0].double()))
        for name in shown:
            low, high = space.axis(name).calibrated_range or (0.0, 0.0)
            margin = (EDIT_RANGE_MULTIPLE - 1.0) / 2.0 * (high - low)
            assert low - margin <= float(readings[name].min()), name
            assert float(readings[name].max()) <= high + margin, name


def test_a_turn_far_beyond_the_calibration_is_refused(pipeline: Pipeline) -> None:
    video = pipeline.generate(demo_portrait_path(), demo_speech_path(), "neutral", seed=0, crop=False)
    low, high = pipeline.motion_space.axis("yaw").calibrated_range or (0.0, 0.0)
    with pytest.raises(EditError, match=rf"offset 1e\+30 deg on axis 'yaw' .* range {low:g} \.\. {high:g} deg"):
        pipeline.apply_edits(video.track, EditProgram(edits=[Offset(axis="yaw", value=1e30)]))
