"""The synthetic-demo recipe (in miniature) and the shipped demo model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from motionkit.assets import demo_portrait_path, demo_speech_path
from motionkit.checkpoint import AXES_FILE, load_model
from motionkit.config.model import preset
from motionkit.errors import ConfigError, OutputError
from motionkit.eval import frame_rms, pearson
from motionkit.io import load_audio
from motionkit.renderer import crop_portrait
from motionkit.train.demo import SyntheticDemoConfig, train_synthetic_demo
from motionkit.train.demo.data import HELD_OUT_FIRST_SEED, training_seeds
from motionkit.train.demo.evaluation import drive

SHIPPED = Path(__file__).resolve().parents[2] / "motionkit" / "assets" / "models" / "synthetic-demo"
AXES = {"yaw": "deg", "pitch": "deg", "roll": "deg", "mouth": "ratio", "blink": "ratio"}
MAX_SHIPPED_BYTES = 20 * 1024 * 1024


def miniature(**overrides: object) -> SyntheticDemoConfig:
    """The recipe on the tiny model: 3 faces, 1.6 s clips, 4 steps per stage, no evaluation."""
    fields: dict[str, object] = {
        "model": preset("tiny"),
        "identities": 3,
        "clip_seconds": 1.6,
        "pose_frames": 4,
        "ae_steps": 4,
        "ae_batch_size": 2,
        "flow_steps": 4,
        "flow_batch_size": 2,
        "calibration_clips": 1,
        "calibration_seconds": 1.6,
        "evaluation_clips": 0,
        "workers": 1,
    }
    fields.update(overrides)
    return SyntheticDemoConfig.model_validate(fields)


@pytest.fixture(scope="module")
def miniature_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_synthetic_demo(tmp_path_factory.mktemp("demo") / "run", config=miniature(), log=None)


def test_miniature_recipe_exports_a_calibrated_model(miniature_run: Path) -> None:
    run = miniature_run.parent
    assert miniature_run == run / "model"
    parts = load_model(miniature_run)
    assert parts.config == preset("tiny")
    assert {name: axis.unit for name, axis in parts.space.axes.items()} == AXES
    manifest = parts.manifest
    assert manifest["license"] == "Apache-2.0"
    assert manifest["seed"] == 0
    assert set(manifest["calibration"]) == set(AXES)
    assert set(manifest["training_time"]) == {"wall_s", "cpu_s"}
    assert manifest["recipe"]["config"]["identities"] == 3
    for stage in ("ae", "flow"):
        assert (run / stage / "metrics.csv").is_file()
        assert (run / stage / "loss.png").is_file()
    assert (run / "flow" / "samples" / "step-00000004" / "preview.mp4").is_file()
    assert len(list((run / "features").glob("shard-*.safetensors"))) >= 1


def test_same_seed_gives_the_same_weights_and_a_rerun_continues(miniature_run: Path, tmp_path: Path) -> None:
    again = train_synthetic_demo(tmp_path / "again", config=miniature(), log=None)
    first, second = load_model(miniature_run), load_model(again)
    for a, b in ((first.renderer, second.renderer), (first.sampler, second.sampler), (first.conditioner, second.conditioner)):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name
    assert (miniature_run / AXES_FILE).read_text() == (again / AXES_FILE).read_text()
    # A second call on a finished folder resumes both runs at their last step and exports the same model.
    rerun = load_model(train_synthetic_demo(tmp_path / "again", config=miniature(), log=None))
    assert torch.equal(rerun.sampler.x_embedder.proj.weight, second.sampler.x_embedder.proj.weight)


def test_recipe_argument_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="out_dir must be a folder path"):
        train_synthetic_demo(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be a SyntheticDemoConfig"):
        train_synthetic_demo(tmp_path, config={"identities": 3})  # type: ignore[arg-type]
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        train_synthetic_demo(afile, config=miniature())
    other = tmp_path / "other"
    other.mkdir()
    (other / "recipe.json").write_text(miniature(identities=4).model_dump_json())
    with pytest.raises(OutputError, match="another recipe configuration"):
        train_synthetic_demo(other, config=miniature())
    with pytest.raises(ValidationError, match="trains the mel conditioner"):
        tiny = preset("tiny")
        miniature(model=tiny.model_copy(update={"conditioner": tiny.conditioner.model_copy(update={"encoder": "wav2vec2"})}))
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        miniature(identities=1)


def test_training_faces_exclude_held_out_and_demo_faces() -> None:
    seeds = training_seeds(0, 500)
    assert len(set(seeds)) == 500
    assert 9 not in seeds
    assert not any(HELD_OUT_FIRST_SEED <= s < HELD_OUT_FIRST_SEED + 1000 for s in seeds)


# ------------------------------------------------------------------------------------------------ shipped model


@pytest.fixture(scope="module")
def shipped():  # type: ignore[no-untyped-def]
    return load_model(SHIPPED)


def test_shipped_model_is_complete_calibrated_and_small(shipped) -> None:  # type: ignore[no-untyped-def]
    weights = sum(path.stat().st_size for path in SHIPPED.rglob("*.safetensors"))
    assert 0 < weights <= MAX_SHIPPED_BYTES
    assert shipped.config == preset("synthetic-demo")
    assert {name: axis.unit for name, axis in shipped.space.axes.items()} == AXES
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    assert manifest["license"] == "Apache-2.0"
    for name in AXES:
        assert manifest["calibration"][name]["r2"] > 0.8, name
    assert manifest["training_time"]["wall_s"] <= 45 * 60
    assert all(manifest["evaluation"]["checks"].values())


def test_shipped_model_moves_the_mouth_with_the_bundled_speech(shipped) -> None:  # type: ignore[no-untyped-def]
    portrait = crop_portrait(demo_portrait_path(), shipped.config.renderer.size, crop=False)
    speech = load_audio(demo_speech_path(), target_rate=16000)
    track = drive(shipped, portrait, speech, seed=0)
    frames = track.frames
    assert frames == -(-len(speech) // 640)
    mouth = shipped.space.axis("mouth").read(track.coefficients(shipped.space))[0].numpy()
    loudness = frame_rms(speech, 16000, 25.0, frames=frames)
    assert np.std(mouth) > 0.05
    assert pearson(mouth, loudness) > 0.5
