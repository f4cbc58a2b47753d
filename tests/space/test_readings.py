"""Axis readings that edits of other axes leave alone, fitted readers, and edits checked against calibrated ranges."""

from __future__ import annotations

import math

import pytest
import torch

from motionkit import EditProgram, MotionTrack
from motionkit.errors import EditError
from motionkit.space import Axis, MotionSpace
from motionkit.space.axes import EDIT_RANGE_MULTIPLE
from motionkit.space.edits import Keyframes, Offset, Oscillate, Set
from motionkit.space.plot import _label
from motionkit.space.readings import MIN_READING_R2, fit_readers, reading_directions, reading_quality

RANK = 6
INDEPENDENCE_BOUND = 1e-9
"""float64 readings of unit-scale axes: an edit of another axis moves a reading by rounding only."""


def skewed_axes() -> list[Axis]:
    """Three calibrated axes whose directions overlap (cosines 0.5-0.7), like fitted ones."""
    vectors = {"yaw": [1.0, 0.6, 0.0, 0.2, 0.0, 0.0], "pitch": [0.5, 1.0, 0.3, 0.0, 0.0, 0.0]}
    vectors["blink"] = [0.7, 0.0, 1.0, 0.0, 0.1, 0.0]
    scales = {"yaw": 0.04, "pitch": 0.08, "blink": 0.17}
    return [
        Axis.from_vector(name, torch.tensor(v), unit="deg", scale=scales[name], offset=1.0)
        for name, v in vectors.items()
    ]


def space_with(axes: list[Axis]) -> MotionSpace:
    return MotionSpace.random(dim=16, rank=RANK, seed=3, dtype=torch.float64).with_axes(axes)


def test_an_edit_moves_its_own_reading_only() -> None:
    space = space_with(skewed_axes())
    coefficients = torch.randn(2, 30, RANK, dtype=torch.float64)
    for moved in ("yaw", "pitch", "blink"):
        axis = space.axis(moved)
        after = space.readings(coefficients + 15.0 * axis.scale * axis.vector())
        before = space.readings(coefficients)
        for name in space.axes:
            expected = 15.0 if name == moved else 0.0
            assert float((after[name] - before[name] - expected).abs().max()) < INDEPENDENCE_BOUND, (moved, name)
    single = space.axis("blink").read(coefficients + 15.0 * space.axis("yaw").scale * space.axis("yaw").vector())
    assert float((single - space.axis("blink").read(coefficients)).abs().max()) > 1.0  # what the plot used to show


def test_edits_and_readings_agree() -> None:
    """A Set of one axis reaches its value in the reading, and leaves the other readings where they were."""
    space = space_with(skewed_axes())
    track = MotionTrack(space.compose(torch.randn(1, 25, RANK, dtype=torch.float64)).float())
    edited = EditProgram(edits=[Set(axis="pitch", value=4.0)]).apply(track, space)
    before = space.readings(space.project(track.latents.double()))
    after = space.readings(space.project(edited.latents.double()))
    torch.testing.assert_close(after["pitch"], torch.full_like(after["pitch"], 4.0), atol=1e-4, rtol=0)
    for name in ("yaw", "blink"):
        torch.testing.assert_close(after[name], before[name], atol=1e-4, rtol=0)  # float32 latents


def test_nearly_dependent_axes_are_read_along_their_own_direction() -> None:
    u = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    axes = [Axis.from_vector("a", u), Axis.from_vector("b", u + 1e-3 * torch.tensor([0.0, 1, 0, 0, 0, 0]))]
    torch.testing.assert_close(reading_directions(axes), torch.stack([a.vector() for a in axes]))


def measured_world(samples: int = 400) -> tuple[list[Axis], torch.Tensor, dict[str, torch.Tensor]]:
    """Coefficients and measurements where each quantity also shows in a direction no axis spans."""
    generator = torch.Generator().manual_seed(5)
    axes = skewed_axes()
    truth = {axis.name: torch.randn(samples, generator=generator, dtype=torch.float64) for axis in axes}
    coefficients = sum(truth[a.name][:, None] * a.scale * a.vector() for a in axes)
    assert isinstance(coefficients, torch.Tensor)
    coefficients = coefficients + 0.02 * torch.randn(samples, RANK, generator=generator, dtype=torch.float64)
    coefficients[:, 5] += 0.05 * truth["blink"]  # only the fitted reader can use this
    return axes, coefficients, {name: 10.0 * values + 3.0 for name, values in truth.items()}


def test_fitted_readers_stay_independent_and_read_better() -> None:
    axes, coefficients, measured = measured_world()
    plain = {a.name: a for a in reading_quality(axes, coefficients, measured)}
    fitted = fit_readers(axes, coefficients, measured)
    space = space_with(fitted)
    for axis in fitted:
        assert axis.reader is not None
        assert axis.calibrated_range == (float(measured[axis.name].min()), float(measured[axis.name].max()))
        assert axis.r2 is not None
        assert plain[axis.name].r2 is not None
        assert axis.r2 >= plain[axis.name].r2  # least squares over readers that include the dual one
        assert axis.direction == next(a for a in axes if a.name == axis.name).direction  # edits move as before
    moved = coefficients + 15.0 * space.axis("yaw").scale * space.axis("yaw").vector()
    before, after = space.readings(coefficients), space.readings(moved)
    assert float((after["blink"] - before["blink"]).abs().max()) < 1e-6  # JSON-free float64: rounding only
    torch.testing.assert_close(after["yaw"] - before["yaw"], torch.full_like(before["yaw"], 15.0))
    turned = Axis.from_vector("pitch", torch.tensor([0.0, 0.2, 0.0, 1.0, 0.0, 0.0]), unit="deg", scale=0.08)
    changed = space_with([turned if a.name == "pitch" else a for a in fitted])  # the stored readers no longer fit
    reader = changed.reader("yaw")
    assert reader.tolist() != list(space.axis("yaw").reader or ())
    assert abs(float(reader @ turned.vector())) < INDEPENDENCE_BOUND  # read along the new dual basis instead


def test_plots_show_supported_axes_and_say_when_a_reading_is_weak() -> None:
    axes = [a.model_copy(update={"r2": r2}) for a, r2 in zip(skewed_axes(), (0.9, None, -3.0))]
    space = space_with(axes)
    assert space.plotted_axes() == ["yaw", "pitch"]  # blink's reading explains less than MIN_READING_R2
    assert _label(space, "yaw") == "yaw (deg)"
    assert _label(space, "blink") == "blink (deg; reading R$^2$ -3.00)"
    assert MIN_READING_R2 > 0


# ------------------------------------------------------------------------------------------- calibrated ranges


def ranged_space() -> MotionSpace:
    axes = [a.model_copy(update={"calibrated_range": (-20.0, 20.0)}) for a in skewed_axes()]
    return space_with(axes)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            Offset(axis="yaw", value=1e30),
            r"offset 1e\+30 deg on axis 'yaw' is more than 3 times the width of its "
            r"calibrated range -20 \.\. 20 deg; use a change within \+-120 deg",
        ),
        (Oscillate(axis="pitch", amplitude=-500.0, frequency=1.0), r"amplitude -500 deg on axis 'pitch'"),
        (
            Set(axis="yaw", value=61.0),
            r"value 61 deg on axis 'yaw' is far outside its calibrated range -20 \.\. 20 "
            r"deg; use a value within -60 \.\. 60 deg",
        ),
        (Keyframes(axis="yaw", keys=((0.0, 0.0), (0.5, 130.0)), mode="relative"), r"keyframe at 0\.5 s: 130 deg"),
        (Keyframes(axis="yaw", keys=((0.0, -70.0),)), r"keyframe at 0 s: -70 deg on axis 'yaw' is far outside"),
    ],
)
def test_edits_beyond_the_calibrated_range_are_refused(edit: object, message: str) -> None:
    space = ranged_space()
    track = MotionTrack(space.compose(torch.randn(1, 25, RANK, dtype=torch.float64)).float())
    with pytest.raises(EditError, match=r"edit 0 \(\w+\): " + message):
        EditProgram(edits=[edit]).apply(track, space)  # type: ignore[list-item]


def test_edits_within_the_range_and_axes_without_one_pass() -> None:
    track = MotionTrack(ranged_space().compose(torch.randn(1, 25, RANK, dtype=torch.float64)).float())
    width = 40.0
    inside = [
        Offset(axis="yaw", value=EDIT_RANGE_MULTIPLE * width),
        Set(axis="yaw", value=20.0 + width),
        Keyframes.turn(-EDIT_RANGE_MULTIPLE * width),
    ]
    assert EditProgram(edits=inside).apply(track, ranged_space()).frames == 25
    unranged = EditProgram(edits=[Offset(axis="yaw", value=1e6)]).apply(track, space_with(skewed_axes()))
    assert math.isfinite(float(unranged.latents.abs().max()))  # hand-made axes: no range, no check
