"""MotionTrack: validation, time slicing, concatenation, coefficients and the safetensors file format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from motionkit import MotionSpace, MotionTrack
from motionkit.errors import CheckpointError, NonFiniteError, OutputError, ShapeError
from motionkit.types import MOTION_TRACK_FORMAT


def _track(batch: int = 2, frames: int = 50, dim: int = 8, fps: float = 25.0, source: bool = True) -> MotionTrack:
    latents = torch.randn(batch, frames, dim)
    return MotionTrack(latents, fps=fps, source=torch.randn(batch, dim) if source else None)


def test_properties() -> None:
    track = _track(frames=50, fps=25.0)
    assert (track.batch, track.frames, track.dim, len(track)) == (2, 50, 8, 50)
    assert track.duration == 2.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"latents": torch.zeros(5, 8)}, ShapeError, "3 dimensions"),
        ({"latents": torch.zeros(1, 0, 8)}, ShapeError, "no frames"),
        ({"latents": torch.zeros(1, 3, 8, dtype=torch.int32)}, ShapeError, "dtype int32"),
        ({"latents": torch.full((1, 3, 8), float("nan"))}, NonFiniteError, "NaN"),
        ({"latents": torch.zeros(1, 3, 8), "fps": 0}, ShapeError, "fps must be a positive number"),
        ({"latents": torch.zeros(1, 3, 8), "fps": float("inf")}, ShapeError, "fps must be a positive number"),
        ({"latents": torch.zeros(1, 3, 8), "fps": True}, ShapeError, "fps must be a positive number"),
        ({"latents": torch.zeros(1, 3, 8), "fps": "25"}, ShapeError, "fps must be a positive number"),
        ({"latents": torch.zeros(1, 3, 8), "source": torch.zeros(1, 7)}, ShapeError, "last dimension 8"),
        ({"latents": torch.zeros(2, 3, 8), "source": torch.zeros(1, 8)}, ShapeError, "source has batch 1"),
        ({"latents": torch.zeros(1, 3, 8), "source": torch.zeros(1, 8, dtype=torch.float64)}, ShapeError, "source.to"),
    ],
)
def test_invalid_tracks_raise(kwargs: dict, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        MotionTrack(**kwargs)


def test_equality_is_identity_not_tensor_comparison() -> None:
    track = _track()
    assert track == track
    assert track != MotionTrack(track.latents, fps=track.fps, source=track.source)
    assert len({track, track}) == 1


def test_slice_and_seconds() -> None:
    track = _track(frames=50, fps=25.0)
    part = track.slice(10, 20)
    assert part.frames == 10
    assert torch.equal(part.latents, track.latents[:, 10:20])
    assert part.source is track.source
    assert part.fps == 25.0
    assert torch.equal(track.slice(-5).latents, track.latents[:, 45:])
    # frame k lies at k / fps: [0.4 s, 1.0 s) holds frames 10 .. 24
    assert torch.equal(track.seconds(0.4, 1.0).latents, track.latents[:, 10:25])
    assert torch.equal(track.seconds(0.41, 1.01).latents, track.latents[:, 11:26])
    assert track.seconds(1.0).frames == 25
    assert MotionTrack(torch.zeros(1, 30, 2), fps=30.0).seconds(0.1, 0.2).frames == 3  # 0.1 * 30 is not exact
    with pytest.raises(ShapeError, match="is empty"):
        track.slice(60)
    with pytest.raises(ShapeError, match="is empty"):
        track.seconds(5.0)
    with pytest.raises(ShapeError, match="start >= 0"):
        track.seconds(-1.0)
    with pytest.raises(ShapeError, match="stop > start"):
        track.seconds(1.0, 0.5)


def test_concat() -> None:
    first, second = _track(frames=10), _track(frames=5)
    joined = MotionTrack.concat([first, second])
    assert joined.frames == 15
    assert torch.equal(joined.latents, torch.cat([first.latents, second.latents], dim=1))
    assert joined.source is first.source
    assert torch.equal(MotionTrack.concat([second]).latents, second.latents)
    with pytest.raises(ShapeError, match="at least one track"):
        MotionTrack.concat([])


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (lambda: _track(fps=30.0), "fps 30.0, track 0 has 25.0; resample"),
        (lambda: _track(batch=3), r"\(batch, dim\) = \(3, 8\)"),
        (lambda: _track(dim=4), r"\(batch, dim\) = \(2, 4\)"),
        (lambda: _track().to(dtype=torch.float64), "float64"),
        (lambda: torch.zeros(2, 5, 8), "item 1 is a Tensor"),
    ],
)
def test_concat_errors(other, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        MotionTrack.concat([_track(), other()])


def test_coefficients_and_to() -> None:
    track = _track(dim=16)
    space = MotionSpace.random(dim=16, rank=4)
    torch.testing.assert_close(track.coefficients(space), space.project(track.latents))
    as64 = track.to(dtype=torch.float64)
    assert as64.latents.dtype == torch.float64
    assert as64.source.dtype == torch.float64
    assert track.with_latents(torch.zeros(2, 3, 16)).source is track.source


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("with_source", [True, False])
def test_save_load_round_trip(tmp_path: Path, dtype: torch.dtype, with_source: bool) -> None:
    track = _track(fps=29.97, source=with_source).to(dtype=dtype)
    path = track.save(tmp_path / "track.safetensors")
    loaded = MotionTrack.load(path)
    assert loaded.fps == 29.97
    assert loaded.latents.dtype == dtype
    assert torch.equal(loaded.latents, track.latents)
    if with_source:
        assert torch.equal(loaded.source, track.source)  # type: ignore[arg-type]
    else:
        assert loaded.source is None
    assert [p.name for p in tmp_path.iterdir()] == ["track.safetensors"]


def test_save_of_a_non_contiguous_slice(tmp_path: Path) -> None:
    track = _track(frames=20).slice(3, 9)
    assert torch.equal(MotionTrack.load(track.save(tmp_path / "part.safetensors")).latents, track.latents)


def _metadata(**overrides: str) -> dict[str, str]:
    metadata = {
        "format": MOTION_TRACK_FORMAT,
        "format_version": "1",
        "fps": "25.0",
        "dims": json.dumps({"batch": 1, "frames": 4, "dim": 3}),
    }
    metadata.update(overrides)
    return {k: v for k, v in metadata.items() if v != "<drop>"}


@pytest.mark.parametrize(
    ("metadata", "tensors", "message"),
    [
        ({}, {"latents": torch.zeros(1, 4, 3)}, "not a motionkit motion track"),
        (_metadata(format="other"), {"latents": torch.zeros(1, 4, 3)}, "not a motionkit motion track"),
        (_metadata(), {"weights": torch.zeros(1, 4, 3)}, "not a motionkit motion track"),
        (_metadata(format_version="9"), {"latents": torch.zeros(1, 4, 3)}, "version 9.*Upgrade motionkit"),
        (_metadata(fps="fast"), {"latents": torch.zeros(1, 4, 3)}, "damaged motion-track metadata"),
        (_metadata(fps="<drop>"), {"latents": torch.zeros(1, 4, 3)}, "damaged motion-track metadata"),
        (_metadata(dims="{"), {"latents": torch.zeros(1, 4, 3)}, "damaged motion-track metadata"),
        (_metadata(), {"latents": torch.zeros(1, 5, 3)}, r"shape \(1, 5, 3\) but the metadata says"),
        (_metadata(fps="-1"), {"latents": torch.zeros(1, 4, 3)}, "invalid motion track: MotionTrack.fps"),
        (_metadata(), {"latents": torch.full((1, 4, 3), float("nan"))}, "invalid motion track.*NaN"),
        (_metadata(), {"latents": torch.zeros(1, 4, 3), "source": torch.zeros(2, 3)}, "invalid motion track.*batch 2"),
    ],
)
def test_load_rejects_wrong_files(tmp_path: Path, metadata: dict, tensors: dict, message: str) -> None:
    path = tmp_path / "track.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(CheckpointError, match=message):
        MotionTrack.load(path)


def test_load_rejects_corrupt_and_missing_files(tmp_path: Path) -> None:
    good = _track().save(tmp_path / "good.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="damaged or not a safetensors file"):
        MotionTrack.load(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="damaged or not a safetensors file"):
        MotionTrack.load(garbage)
    with pytest.raises(CheckpointError, match="is missing"):
        MotionTrack.load(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="is missing"):
        MotionTrack.load(tmp_path)


def test_failed_save_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        _track().save(tmp_path / "missing" / "track.safetensors")
    target = tmp_path / "track.safetensors"
    target.write_bytes(b"previous")
    _track().save(target)  # overwrite replaces the file atomically
    assert MotionTrack.load(target).frames == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["track.safetensors"]
