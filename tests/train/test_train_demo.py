"""The synthetic-demo recipe (in miniature) and the shipped demo model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from motionkit.data.synthetic import SyntheticWorldConfig, close_up
from motionkit.errors import ConfigError, OutputError
from motionkit.eval.seams import DEFAULT_SEEDS
from motionkit.families import preset
from motionkit.model_folder import AXES_FILE, load_model
from motionkit.train.demo import SyntheticDemoConfig, evaluate_model, train_synthetic_demo
from motionkit.train.demo.data import HELD_OUT_FIRST_SEED, training_seeds
from motionkit.train.demo.evaluation import ClipEvaluation, DemoEvaluation, model_world

SHIPPED = Path(__file__).resolve().parents[2] / "motionkit" / "assets" / "models" / "synthetic-demo"
AXES = {"yaw": "deg", "pitch": "deg", "roll": "deg", "mouth": "ratio", "blink": "ratio"}
MAX_SHIPPED_BYTES = 20 * 1024 * 1024
MIN_MOUTH_ENVELOPE_R = 0.4
"""The shipped model's mouth follows the ARCTIC clip's loudness with r 0.53-0.59 (seeds 0-2); a static mouth: ~0."""


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
    assert model_world(parts) == close_up()  # recorded, so evaluation measures the framing it was trained in
    assert model_world(dataclasses.replace(parts, manifest={})) == SyntheticWorldConfig()
    for stage in ("ae", "flow"):
        assert (run / stage / "metrics.csv").is_file()
        assert (run / stage / "loss.png").is_file()
    assert (run / "flow" / "samples" / "step-00000004" / "preview.mp4").is_file()
    assert len(list((run / "features").glob("shard-*.safetensors"))) >= 1


def test_same_seed_gives_the_same_weights_and_a_rerun_continues(miniature_run: Path, tmp_path: Path) -> None:
    again = train_synthetic_demo(tmp_path / "again", config=miniature(), log=None)
    first, second = load_model(miniature_run), load_model(again)
    pairs = (
        (first.renderer, second.renderer),
        (first.sampler, second.sampler),
        (first.conditioner, second.conditioner),
    )
    for a, b in pairs:
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name
    assert (miniature_run / AXES_FILE).read_text() == (again / AXES_FILE).read_text()
    # A second call on a finished folder resumes both runs at their last step and exports the same model.
    first_time = second.manifest["training_time"]
    rerun = load_model(train_synthetic_demo(tmp_path / "again", config=miniature(), log=None))
    assert torch.equal(rerun.sampler.x_embedder.proj.weight, second.sampler.x_embedder.proj.weight)
    # the reported cost is that of both invocations together, stage by stage
    assert rerun.manifest["training_time"]["wall_s"] > first_time["wall_s"]
    assert set(json.loads((tmp_path / "again" / "timings.json").read_text())) >= {"data", "auto-encoder", "flow"}


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
    tiny = preset("tiny")
    wav2vec2 = tiny.model_copy(update={"conditioner": tiny.conditioner.model_copy(update={"encoder": "wav2vec2"})})
    with pytest.raises(ValidationError, match="trains the mel conditioner"):
        miniature(model=wav2vec2)
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        miniature(identities=1)


def test_training_faces_exclude_held_out_and_demo_faces() -> None:
    seeds = training_seeds(0, 500)
    assert len(set(seeds)) == 500
    assert 9 not in seeds
    assert not any(HELD_OUT_FIRST_SEED <= s < HELD_OUT_FIRST_SEED + 1000 for s in seeds)


# ------------------------------------------------------------------------------------------------ evaluation


def _clip(seed: int, mouth: float, offset: float = 0.0, nod: float = 0.05) -> ClipEvaluation:
    return ClipEvaluation(seed, mouth, offset, 1.1, 1.0, 1.1, 0.95, nod, 0.05, (mouth,))


def test_evaluation_worst_values_and_checks() -> None:
    good = DemoEvaluation([_clip(1, 0.9), _clip(2, 0.85, offset=-1.0)], 0.95, 20)
    assert good.worst["mouth_gt_correlation"] == 0.85
    assert good.worst["av_offset_frames"] == -1.0
    assert all(good.checks.values())
    assert "FAIL" not in str(good)
    late = DemoEvaluation([_clip(1, 0.9), _clip(2, 0.85, offset=3.0)], 0.95, 20)
    assert late.checks["av_offset_frames"] is False
    assert late.checks["mouth_gt_correlation"] is True


def test_evaluation_unmeasurable_clip_fails_its_targets() -> None:
    """A clip the face analyzer could not measure (NaN) makes the worst value NaN and the check fail."""
    evaluation = DemoEvaluation([_clip(1, float("nan"), nod=float("nan")), _clip(2, 0.95)], float("nan"), 0)
    assert np.isnan(evaluation.worst["mouth_gt_correlation"])
    checks = evaluation.checks
    assert [name for name, ok in checks.items() if not ok] == ["mouth_gt_correlation", "closed_mouth_rate", "nod_error"]
    record = evaluation.to_dict()
    assert record["checks"] == checks
    assert str(evaluation).count("FAIL") == 3


# -------------------------------------------------------------------------------------------- the shipped model


def test_shipped_model_is_complete_small_and_calibrated() -> None:
    parts = load_model(SHIPPED)
    assert parts.config == preset("synthetic-demo")
    assert sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file()) <= MAX_SHIPPED_BYTES
    assert {name: axis.unit for name, axis in parts.space.axes.items()} == AXES
    manifest = parts.manifest
    assert manifest["license"] == "Apache-2.0"
    assert model_world(parts) == close_up()
    assert manifest["training_time"]["wall_s"] <= 45 * 60  # the budget on a 2-core CPU
    recipe = SyntheticDemoConfig().model_dump(mode="json")
    # Fields added to the configuration after the shipped model was trained; their defaults are what it was trained
    # with (FLOAT's first-frame context, equal loss weights of the motion dimensions, wav2vec2's stacked layers:
    # unused by the mel conditioner).
    del recipe["model"]["family"]
    del recipe["model"]["flow"]["first_context"]
    del recipe["model"]["flow"]["axis_loss_weights"]
    del recipe["model"]["conditioner"]["wav2vec2_features"]
    assert manifest["recipe"]["config"] == recipe  # the recipe made it
    assert set(manifest["evaluation"]["checks"]) >= {"mouth_gt_correlation", "av_offset_frames", "nod_error"}


def test_evaluation_measures_each_clip_over_the_same_samples_as_its_seams() -> None:
    """The shipped model on one short held-out clip: the mouth figure is the mean of the 8 samples' r (which
    differ), every target is measured (no NaN), and the record is JSON."""
    evaluation = evaluate_model(load_model(SHIPPED), clips=1, seconds=3.2)
    (clip,) = evaluation.clips
    assert len(clip.mouth_gt_correlations) == len(DEFAULT_SEEDS)
    assert len(set(clip.mouth_gt_correlations)) > 1
    assert clip.mouth_gt_correlation == pytest.approx(np.mean(clip.mouth_gt_correlations))
    assert clip.mouth_gt_correlation > 0.6  # the mouth follows the clip's speech
    assert all(np.isfinite(list(evaluation.worst.values())))
    record = json.loads(json.dumps(evaluation.to_dict()))
    assert record["clips"][0]["mouth_gt_correlations"] == list(clip.mouth_gt_correlations)


def test_shipped_model_drives_the_demo_face_from_speech() -> None:
    """The bundled model on the bundled clip: deterministic, and the rendered mouth moves with the speech."""
    from motionkit.assets import demo_identity, demo_speech_path
    from motionkit.data.synthetic import SyntheticWorld
    from motionkit.eval import evaluate_video
    from motionkit.io import load_audio
    from motionkit.train.demo.evaluation import drive, render

    parts = load_model(SHIPPED)
    portrait = SyntheticWorld(close_up(), size=64).portrait(demo_identity())
    speech = load_audio(demo_speech_path(), target_rate=16000)
    track = drive(parts, portrait, speech, seed=0)
    again = drive(parts, portrait, speech, seed=0)
    assert torch.equal(track.latents, again.latents)
    frames = render(parts, portrait, track)
    assert frames.shape == (100, 64, 64, 3)
    report = evaluate_video(frames, speech, identity=demo_identity(), latents=track, world=close_up())
    assert report.face_found == 1.0
    assert report.closed_mouth_rate is not None
    assert report.closed_mouth_rate >= 0.9
    assert report.mouth_envelope_correlation is not None
    assert report.mouth_envelope_correlation > MIN_MOUTH_ENVELOPE_R
