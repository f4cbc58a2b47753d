"""Checkpoint folders (atomic, pruned, pickle-free) and the metrics log/plot."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from motionkit.errors import CheckpointError, OutputError
from motionkit.train import checkpoint as ckpt
from motionkit.train.metrics import MetricsLog, plot_metrics
from motionkit.train.rng import capture_global, restore_global


def _state(step: int) -> ckpt.TrainingState:
    weight = torch.randn(3, 2)
    return ckpt.TrainingState(
        step=step,
        world_size=1,
        modules={"net": {"weight": weight, "tied": weight, "count": torch.tensor(3)}},
        ema={"net": {"weight": weight * 0.5, "tied": weight, "count": torch.tensor(3.0)}},
        ema_updates=step,
        optimizers={"main": {"state": {0: {"step": torch.tensor(2.0)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}},
        ranks=[{"rng": capture_global(), "data": {"batches": step}}],
        config={"steps": 10, "output_dir": "x"},
    )


def test_round_trip_is_exact_and_loads_without_pickle_code(tmp_path: Path) -> None:
    state = _state(7)
    folder = ckpt.save_checkpoint(tmp_path, state)
    assert folder.name == "step-00000007"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "net.ema.safetensors",
        "net.safetensors",
        "state.pt",
    ]
    torch.load(folder / "state.pt", weights_only=True)  # plain tensors and containers only
    loaded = ckpt.load_checkpoint(folder)
    assert torch.equal(loaded.modules["net"]["weight"], state.modules["net"]["weight"])
    assert torch.equal(loaded.modules["net"]["tied"], state.modules["net"]["weight"])
    assert torch.equal(loaded.ema["net"]["weight"], state.ema["net"]["weight"])
    assert loaded.optimizers == state.optimizers
    assert loaded.config == state.config
    assert loaded.ranks[0]["data"] == {"batches": 7}
    assert loaded.ema_updates == 7


def test_random_state_round_trip() -> None:
    snapshot = capture_global()
    expected = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.random()
    restore_global(snapshot)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == expected


def test_a_failed_write_leaves_no_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", broken)
    with pytest.raises(OutputError, match="No space left"):
        ckpt.save_checkpoint(tmp_path, _state(3))
    assert list(tmp_path.iterdir()) == []
    assert ckpt.latest_checkpoint(tmp_path) is None


def test_latest_prune_and_overwrite(tmp_path: Path) -> None:
    for step in (5, 10, 15, 20):
        ckpt.save_checkpoint(tmp_path, _state(step))
    (tmp_path / "step-00000099").mkdir()  # incomplete (no state.pt): ignored
    assert ckpt.latest_checkpoint(tmp_path).name == "step-00000020"  # type: ignore[union-attr]
    removed = ckpt.prune_checkpoints(tmp_path, keep=2)
    assert [p.name for p in removed] == ["step-00000005", "step-00000010"]
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [15, 20]
    replacement = _state(20)
    ckpt.save_checkpoint(tmp_path, replacement)
    assert torch.equal(
        ckpt.load_checkpoint(tmp_path / "step-00000020").modules["net"]["weight"], replacement.modules["net"]["weight"]
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_corrupt_or_foreign_checkpoints(tmp_path: Path) -> None:
    folder = ckpt.save_checkpoint(tmp_path, _state(1))
    (folder / "net.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="damaged or not a safetensors"):
        ckpt.load_checkpoint(folder)
    (folder / "state.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="could not be read as a training state"):
        ckpt.load_checkpoint(folder)
    torch.save({"format": "other"}, folder / "state.pt")
    with pytest.raises(CheckpointError, match="not a motionkit training checkpoint"):
        ckpt.load_checkpoint(folder)
    with pytest.raises(CheckpointError, match=r"no state\.pt"):
        ckpt.load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="cannot name a checkpoint file"):
        ckpt.save_checkpoint(tmp_path / "x", ckpt.TrainingState(step=1, world_size=1, modules={"a/b": {}}))
    assert ckpt.resolve_resume(None, tmp_path) is None


def test_metrics_log_appends_extends_and_truncates(tmp_path: Path) -> None:
    log = MetricsLog(tmp_path / "metrics.csv")
    log.append(1, {"loss": 0.5})
    log.append(2, {"loss": 0.25, "r1": 3.0})  # a new column rewrites the header
    log.append(3, {"loss": 1 / 3})
    rows = MetricsLog(tmp_path / "metrics.csv").rows()  # a new reader sees the same
    assert rows == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25, "r1": 3.0}, {"step": 3, "loss": 1 / 3}]
    assert (tmp_path / "metrics.csv").read_text().splitlines()[0] == "step,loss,r1"
    with (tmp_path / "metrics.csv").open("a") as handle:
        handle.write("4,0.1")  # cut short by a crash
    log = MetricsLog(tmp_path / "metrics.csv")
    log.truncate_after(2)
    log.append(3, {"loss": 0.125})
    assert [r["step"] for r in log.rows()] == [1, 2, 3]
    assert log.rows()[-1]["loss"] == 0.125


def test_plot_writes_a_png_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = MetricsLog(tmp_path / "metrics.csv")
    for step in range(1, 6):
        log.append(step, {"loss/main": 1 / step, "l1": 0.5 / step, "lr/main": 0.1, "grad_norm/main": 2.0})
    png = plot_metrics(tmp_path / "metrics.csv", tmp_path / "loss.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.figure import Figure

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(Figure, "savefig", fail)
    with pytest.raises(RuntimeError):
        plot_metrics(tmp_path / "metrics.csv", tmp_path / "other.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "metrics.csv"]


def test_image_grid_tiles_rows_and_columns(tmp_path: Path) -> None:
    from PIL import Image

    from motionkit.train.previews import image_grid, save_image_grid

    source = torch.full((2, 3, 4, 5), -1.0)
    target = torch.full((2, 3, 4, 5), 1.0)
    target[1, 0] = 0.0
    grid = image_grid([source, target])
    assert grid.shape == (8, 10, 3)
    assert grid.dtype == np.uint8
    assert (grid[:4] == 0).all()
    assert (grid[4:, :5] == 255).all()
    assert (grid[4:, 5:, 0] == 127).all()
    assert (grid[4:, 5:, 1:] == 255).all()
    path = save_image_grid([source, target], tmp_path / "preview.png")
    assert np.array_equal(np.asarray(Image.open(path)), grid)
    from motionkit.errors import ShapeError

    with pytest.raises(ShapeError, match="like rows"):
        image_grid([source, target[:1]])
