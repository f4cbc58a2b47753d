"""Named axes: the Axis model, the axes of a space, and the axes JSON file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from motionkit.errors import CheckpointError, EditError, OutputError
from motionkit.space import Axis, MotionSpace


def _space() -> MotionSpace:
    return MotionSpace.random(dim=32, rank=6, seed=1, dtype=torch.float64)


def _pose_axes(rank: int = 6) -> list[Axis]:
    return [
        Axis.basis(0, rank, name="yaw", unit="deg", scale=0.02),
        Axis.basis(1, rank, name="pitch", unit="deg", scale=0.03, offset=-2.0),
        Axis.from_vector("mouth", torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0]), unit="ratio", scale=0.5),
    ]


def test_axis_reading_and_displacement_are_inverse() -> None:
    axis = Axis.from_vector("yaw", torch.tensor([3.0, 4.0]), unit="deg", scale=0.1, offset=5.0)
    assert axis.direction == pytest.approx((0.6, 0.8))
    coefficients = torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    # reading = (u . c) / scale + offset
    torch.testing.assert_close(
        axis.read(coefficients), torch.tensor([(0.6 + 1.6) / 0.1 + 5.0, 5.0], dtype=torch.float64)
    )
    # moving by delta units adds delta * scale * u, which raises the reading by delta
    moved = coefficients + 7.0 * axis.scale * axis.vector()
    torch.testing.assert_close(axis.read(moved) - axis.read(coefficients), torch.full((2,), 7.0, dtype=torch.float64))
    assert axis.read(coefficients.new_zeros(2) + axis.coefficients_for(12.0) * axis.vector()) == pytest.approx(12.0)


def test_default_axes_are_basis_directions() -> None:
    space = _space()
    assert list(space.axes) == [f"d{i}" for i in range(6)]
    assert not space.is_calibrated
    d3 = space.axes["d3"]
    assert d3.direction == (0.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    assert (d3.unit, d3.scale, d3.offset) == ("coef", 1.0, 0.0)
    coefficients = torch.randn(4, 6, dtype=torch.float64)
    torch.testing.assert_close(d3.read(coefficients), coefficients[:, 3])


def test_with_axes_is_immutable_and_keeps_basis_axes_addressable() -> None:
    space = _space()
    named = space.with_axes(_pose_axes())
    assert list(named.axes) == ["yaw", "pitch", "mouth"]
    assert named.is_calibrated
    assert named.basis is space.basis
    assert next(iter(space.axes)) == "d0"  # the original is unchanged
    assert named.axis("d5") == Axis.basis(5, 6)
    assert named.axis("pitch").offset == -2.0
    assert list(named.with_axes([]).axes) == list(space.axes)
    assert list(named.with_axes({a.name: a for a in _pose_axes()[:1]}).axes) == ["yaw"]
    with pytest.raises(TypeError):
        named.axes["roll"] = named.axes["yaw"]  # type: ignore[index]


def test_unknown_axis_lists_known_axes_and_how_to_add_one() -> None:
    space = _space().with_axes(_pose_axes())
    with pytest.raises(
        EditError, match=r"unknown axis 'roll'.*'yaw', 'pitch', 'mouth'.*'d0' .. 'd5'.*with_axes.*fit_axes"
    ):
        space.axis("roll")
    with pytest.raises(EditError, match="unknown axis 'd6'"):
        space.axis("d6")


def test_invalid_axes_raise() -> None:
    with pytest.raises(EditError, match="unit length"):
        Axis(name="yaw", direction=(1.0, 1.0))
    with pytest.raises(EditError, match=r"scale: Input should be greater than 0"):
        Axis(name="yaw", direction=(1.0,), scale=0.0)
    with pytest.raises(EditError, match="name: String should match pattern"):
        Axis(name="head yaw", direction=(1.0,))
    with pytest.raises(EditError, match="reserved"):
        Axis(name="all", direction=(1.0,))
    with pytest.raises(EditError, match="finite"):
        Axis(name="yaw", direction=(float("nan"),))
    with pytest.raises(EditError, match="non-zero"):
        Axis.from_vector("yaw", torch.zeros(3))
    with pytest.raises(EditError, match="does not exist in a space of rank 6"):
        Axis.basis(6, 6)
    space = _space()
    with pytest.raises(EditError, match="has 2 components but the space has rank 6"):
        space.with_axes([Axis(name="yaw", direction=(1.0, 0.0))])
    with pytest.raises(EditError, match="given twice"):
        space.with_axes([_pose_axes()[0], _pose_axes()[0]])
    with pytest.raises(EditError, match="reserved for basis direction 2"):
        space.with_axes([Axis.basis(1, 6, name="d2")])
    with pytest.raises(EditError, match="expected Axis values"):
        space.with_axes(["yaw"])  # type: ignore[list-item]


def test_axes_file_round_trip(tmp_path: Path) -> None:
    space = _space().with_axes(_pose_axes())
    path = space.save_axes(tmp_path / "axes.json")
    content = json.loads(path.read_text())
    assert (content["format"], content["format_version"], content["dim"], content["rank"]) == (
        "motionkit.axes",
        2,
        32,
        6,
    )
    restored = _space().load_axes(path)
    assert dict(restored.axes) == dict(space.axes)
    assert [p.name for p in tmp_path.iterdir()] == ["axes.json"]  # no temporary file left
    ranged = space.with_axes(
        [a.model_copy(update={"calibrated_range": (-20.0, 20.0), "r2": 0.9}) for a in _pose_axes()]
    )
    assert dict(_space().load_axes(ranged.save_axes(tmp_path / "ranged.json")).axes) == dict(ranged.axes)


def test_version_1_files_read_as_axes_without_range(tmp_path: Path) -> None:
    content = json.loads(_space().with_axes(_pose_axes()).save_axes(tmp_path / "axes.json").read_text())
    old = {**content, "format_version": 1}
    restored = _space().load_axes(_write(tmp_path / "v1.json", old))
    assert all(axis.calibrated_range is None and axis.r2 is None for axis in restored.axes.values())


def test_default_axes_file_round_trip(tmp_path: Path) -> None:
    space = _space()
    restored = space.load_axes(space.save_axes(tmp_path / "axes.json"))
    assert dict(restored.axes) == dict(space.axes)


def _write(path: Path, content: object) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_axes_file_errors(tmp_path: Path) -> None:
    space = _space()
    good = json.loads(space.with_axes(_pose_axes()).save_axes(tmp_path / "good.json").read_text())
    with pytest.raises(CheckpointError, match="does not exist"):
        space.load_axes(tmp_path / "missing.json")
    with pytest.raises(CheckpointError, match="not a readable JSON"):
        space.load_axes(_write(tmp_path / "broken.json", '{"format": '))
    with pytest.raises(CheckpointError, match="not a motionkit axes file"):
        space.load_axes(_write(tmp_path / "other.json", {"hello": 1}))
    with pytest.raises(CheckpointError, match="version 7"):
        space.load_axes(_write(tmp_path / "future.json", {**good, "format_version": 7}))
    with pytest.raises(CheckpointError, match=r"\(dim, rank\) = \(32, 8\)"):
        space.load_axes(_write(tmp_path / "rank.json", {**good, "rank": 8}))
    wrong_length = {**good, "axes": [{**good["axes"][0], "direction": [1.0, 0.0]}]}
    with pytest.raises(CheckpointError, match="has 2 components but the space has rank 6"):
        space.load_axes(_write(tmp_path / "length.json", wrong_length))
    not_unit = {**good, "axes": [{**good["axes"][0], "direction": [0.5] * 6}]}
    with pytest.raises(CheckpointError, match="unit length"):
        space.load_axes(_write(tmp_path / "norm.json", not_unit))
    with pytest.raises(OutputError, match="does not exist"):
        space.save_axes(tmp_path / "no" / "such" / "folder.json")


def test_unit_norm_tolerance_accepts_float32_directions() -> None:
    vector = torch.nn.functional.normalize(torch.randn(20), dim=0)  # float32: |u| = 1 up to ~1e-7
    axis = Axis(name="yaw", direction=tuple(vector.tolist()))
    assert math.isclose(sum(x * x for x in axis.direction), 1.0, abs_tol=1e-5)
