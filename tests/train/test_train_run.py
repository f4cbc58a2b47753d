"""The training entry point and the data-source builders of the two training kinds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from train_fixtures import RegressionData, RegressionTask

from motionkit.config.train import TrainConfig, train_config_from_dict
from motionkit.data.cache import FeatureCacheWriter
from motionkit.data.video import SkippedFileWarning
from motionkit.errors import ConfigError
from motionkit.train import DistContext, load_checkpoint, run_training
from motionkit.train.__main__ import main
from motionkit.train.run import TASK_BUILDERS, pair_source, register_task, window_source
from tests.data.video_fixtures import CROP, SQUARE_CROPPER, make_video_folder


def _build(config: TrainConfig, context: DistContext) -> tuple[RegressionTask, RegressionData]:
    return RegressionTask(), RegressionData(
        batch_size=config.batch_size, rank=context.rank, world_size=context.world_size
    )


def _config_file(tmp_path: Path, **overrides: object) -> Path:
    data = {"preset": "ae-tiny", "videos": str(tmp_path), "output_dir": str(tmp_path / "run"), "steps": 12}
    data.update(overrides)
    path = tmp_path / "ae.json"
    path.write_text(json.dumps(data))
    return path


def test_run_training_from_a_json_file(tmp_path: Path) -> None:
    checkpoint = run_training("ae", _config_file(tmp_path, device="cpu"), builder=_build)
    assert checkpoint == tmp_path / "run" / "checkpoints" / "step-00000012"
    state = load_checkpoint(checkpoint)
    assert state.step == 12
    assert state.config["lr"] == 1e-3
    assert state.config["kind"] == "ae"
    # A second call with resume "latest" finds the run complete and returns its checkpoint.
    again = run_training("ae", _config_file(tmp_path, device="cpu", resume="latest"), builder=_build)
    assert again == checkpoint


def test_run_training_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="describes a 'ae' run but 'flow'"):
        run_training("flow", _config_file(tmp_path), builder=_build)
    with pytest.raises(ConfigError, match="unknown training kind"):
        run_training("gan", _config_file(tmp_path), builder=_build)  # type: ignore[arg-type]
    monkeypatch.delitem(TASK_BUILDERS, "ae")  # the built-in task, restored after the test
    with pytest.raises(ConfigError, match="no 'ae' training task is registered"):
        run_training("ae", _config_file(tmp_path))


def test_registered_builder_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TASK_BUILDERS, "ae", _build)  # restored after the test
    register_task("ae", _build)
    assert run_training("ae", _config_file(tmp_path, device="cpu")).name == "step-00000012"


def test_module_entry_prints_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ae", "--config", str(tmp_path / "missing.json")]) == 2
    assert "error: " in capsys.readouterr().err


def test_pair_source_scans_once_and_shards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_video_folder(tmp_path / "videos")
    config = train_config_from_dict(
        {"preset": "ae-tiny", "videos": str(folder.root), "output_dir": str(tmp_path / "run"), "data_workers": 0}
    )
    with pytest.warns(SkippedFileWarning):
        source = pair_source(config, DistContext(rank=0, world_size=1), SQUARE_CROPPER)  # type: ignore[arg-type]
    assert "7 files, 5 clips kept" in capsys.readouterr().err  # no audio needed for the auto-encoder; 1 s minimum
    assert (tmp_path / "run" / "video_index.json").is_file()
    batch = source.next_batch()
    assert batch["source"].shape == (config.batch_size, 3, CROP, CROP)
    with pytest.warns(SkippedFileWarning):  # the cached scan reports the same skipped files
        resized = pair_source(config, DistContext())  # type: ignore[arg-type]  # ae-tiny: crop "resize" to 64 px
    assert resized.next_batch()["driving"].shape == (config.batch_size, 3, 64, 64)
    face = config.model_copy(update={"crop": "face"})
    with pytest.raises(ConfigError, match="needs a face cropper"):
        pair_source(face, DistContext())  # type: ignore[arg-type]


def test_window_source_takes_the_window_from_the_model(tmp_path: Path) -> None:
    with FeatureCacheWriter(tmp_path / "features") as writer:
        writer.add("a", {"motion": torch.randn(40, 32), "audio": torch.randn(40, 32)})
    config = train_config_from_dict({"preset": "flow-tiny", "features": str(tmp_path / "features"), "output_dir": "o"})
    source = window_source(config, DistContext())  # type: ignore[arg-type]
    batch = source.next_batch()
    assert batch["motion"].shape == (2, 10, 32)
    assert batch["prev_motion"].shape == (2, 4, 32)
