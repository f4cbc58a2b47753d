"""The photo-motion recipe (in miniature), its evaluation, and the shipped photo motion model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from motionkit.assets import demo_speech_path
from motionkit.config.train import TRAIN_PRESETS
from motionkit.data.synthetic import PARAM_NAMES, SyntheticWorld
from motionkit.errors import ConfigError, OutputError
from motionkit.families import preset
from motionkit.families.photo import ParameterMotion, PhotoMotionConfig
from motionkit.families.photo.renderer import PhotoRenderer
from motionkit.io import load_audio
from motionkit.io.tensors import read_tensors
from motionkit.model_folder import load_model
from motionkit.train.demo.data import HELD_OUT_FIRST_SEED, training_seeds
from motionkit.train.photo import PhotoMotionRecipe, evaluate_photo_motion, train_photo_motion
from motionkit.train.photo.data import Normalisation, training_clips
from motionkit.train.photo.evaluation import TARGETS, blink_onsets, head_motion, head_statistics

SHIPPED = Path(__file__).resolve().parents[2] / "motionkit" / "assets" / "models" / "photo-motion"
MAX_SHIPPED_BYTES = 5 * 1024 * 1024
"""Issue 19: the shipped motion model is at most 5 MB."""
MAX_TRAINING_CPU_S = 30 * 60
"""Issue 19: the recipe trains within 30 CPU-minutes on the 2-core machine."""
MET_TARGETS = tuple(TARGETS)
"""The targets the shipped model meets: all of them (docs/photo-motion.md)."""


def miniature(**overrides: object) -> PhotoMotionRecipe:
    """The recipe on a tiny flow model: 3 clips of 2.4 s and 2 start clips, 3 steps of 2 windows, no evaluation."""
    model = preset("photo-motion", PhotoMotionConfig)
    flow = model.flow.model_copy(update={"hidden_dim": 16, "depth": 1, "num_heads": 2, "time_embed_dim": 8})
    fields: dict[str, object] = {
        "model": model.model_copy(update={"flow": flow}),
        "clips": 3,
        "clip_seconds": 2.4,
        "start_clips": 2,
        "steps": 3,
        "batch_size": 2,
        "evaluation_clips": 0,
    }
    fields.update(overrides)
    return PhotoMotionRecipe.model_validate(fields)


@pytest.fixture(scope="module")
def miniature_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_photo_motion(tmp_path_factory.mktemp("photo") / "run", config=miniature(), log=None)


def test_miniature_recipe_exports_a_motion_model_with_its_normalisation(miniature_run: Path) -> None:
    parts = load_model(miniature_run)
    assert parts.config == miniature().model
    assert isinstance(parts.renderer, PhotoRenderer)
    motion = parts.sampler
    assert isinstance(motion, ParameterMotion)
    world = SyntheticWorld(miniature().world)
    seeds = training_seeds(0, 5)
    clips = [world.clip(seed, 2.4, render=False) for seed in seeds[:3]]
    clips += [world.clip(seed, 2.0, render=False) for seed in seeds[3:]]  # start clips: one 50-frame window each
    expected = Normalisation.of([clip.params.as_array() for clip in clips], miniature().scale_floor)
    torch.testing.assert_close(motion.mean, torch.from_numpy(expected.mean))
    torch.testing.assert_close(motion.scale, torch.from_numpy(expected.scale))
    manifest = parts.manifest
    assert manifest["recipe"]["config"] == miniature().model_dump(mode="json")
    assert set(manifest["training_time"]) == {"wall_s", "cpu_s"}
    assert {name: axis.unit for name, axis in parts.space.axes.items()}["yaw"] == "deg"


def test_the_recipe_is_reproducible_from_its_seed(miniature_run: Path, tmp_path: Path) -> None:
    again = train_photo_motion(tmp_path / "again", config=miniature(), log=None)
    for name in ("motion.safetensors", "conditioner/conditioner.safetensors"):
        first, second = read_tensors(miniature_run / name), read_tensors(again / name)
        assert first.keys() == second.keys()
        assert all(torch.equal(first[key], second[key]) for key in first)
    other = train_photo_motion(tmp_path / "other", config=miniature(seed=1), log=None)
    assert not torch.equal(
        read_tensors(other / "motion.safetensors")["mean"], read_tensors(again / "motion.safetensors")["mean"]
    )


def test_bad_recipes_and_folders_are_refused(miniature_run: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="another recipe configuration"):
        train_photo_motion(miniature_run.parent, config=miniature(clips=4), log=None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        train_photo_motion(tmp_path / "file", config=miniature(), log=None)
    with pytest.raises(ConfigError, match="PhotoMotionRecipe"):
        train_photo_motion(tmp_path / "x", config=preset("photo-motion"), log=None)  # type: ignore[arg-type]
    model = preset("photo-motion", PhotoMotionConfig)
    swapped = model.model_copy(update={"axes": (model.axes[1], model.axes[0], *model.axes[2:])})
    with pytest.raises(ValueError, match="must be the synthetic world's parameters"):
        PhotoMotionRecipe(model=swapped)


def test_training_clips_add_start_clips_of_other_voices() -> None:
    world = SyntheticWorld(miniature().world)
    clips = training_clips(world, 0, 2, 2.4, start_count=3, start_seconds=2.0)
    assert [clip.seed for clip in clips] == training_seeds(0, 5)
    assert [clip.num_frames for clip in clips] == [60, 60, 50, 50, 50]
    without = training_clips(world, 0, 2, 2.4)
    assert [clip.seed for clip in without] == [clip.seed for clip in clips[:2]]
    assert np.array_equal(without[1].params.as_array(), clips[1].params.as_array())


def test_blink_onsets_and_head_statistics() -> None:
    assert blink_onsets(np.array([0.0, 0.6, 1.0, 0.2, 0.0, 0.5, 0.4, 0.9])) == 3
    assert blink_onsets(np.array([1.0, 0.0])) == 1
    params = np.zeros((5, len(PARAM_NAMES)), np.float32)
    params[:, PARAM_NAMES.index("yaw")] = [0.0, 2.0, 0.0, 2.0, 0.0]
    stats = head_statistics(params, fps=25.0)
    assert stats["yaw_std"] == pytest.approx(np.std([0, 2, 0, 2, 0]))
    assert stats["yaw_speed"] == pytest.approx(50.0)  # 2 degrees per frame at 25 fps
    assert stats["pitch_std"] == stats["roll_speed"] == 0.0


def test_the_evaluation_measures_every_target(miniature_run: Path) -> None:
    parts = load_model(miniature_run)
    assert isinstance(parts.sampler, ParameterMotion)
    evaluation = evaluate_photo_motion(
        parts.conditioner,
        parts.sampler,  # type: ignore[arg-type]
        clips=1,
        seconds=2.4,
        seeds=(0, 1),
        head_clips=2,
    )
    (clip,) = evaluation.clips
    assert clip.seed == HELD_OUT_FIRST_SEED + 100
    assert len(clip.mouth_gt_correlations) == 2
    assert set(evaluation.figures) == set(evaluation.checks) == set(TARGETS)
    assert all(np.isfinite(value) for value in evaluation.figures.values())
    assert evaluation.blink_range == (0.2, 0.45)
    record = json.loads(json.dumps(evaluation.to_dict()))
    assert record["checks"] == evaluation.checks
    assert str(evaluation).count("FAIL") == list(evaluation.checks.values()).count(False)
    assert evaluation.head_clips == record["head_clips"] == 2
    assert "over 2 clips" in str(evaluation)
    world = SyntheticWorld(miniature().world)
    assert (evaluation.model_head, evaluation.world_head) == head_motion(
        parts.conditioner,
        parts.sampler,  # type: ignore[arg-type]
        world=world,
        clips=2,
        seconds=2.4,
        first_noise_seed=0,
    )
    with pytest.raises(ConfigError, match="at least one clip, one head clip and one seed"):
        evaluate_photo_motion(parts.conditioner, parts.sampler, clips=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least one clip, one head clip and one seed"):
        evaluate_photo_motion(parts.conditioner, parts.sampler, head_clips=0)  # type: ignore[arg-type]


def test_head_motion_samples_each_clip_with_its_own_noise(miniature_run: Path) -> None:
    """Clip ``i`` of :func:`head_motion` is one sample with noise seed ``first_noise_seed + i``: one seed for every
    clip would make the clips' head tracks nearly one draw of the noise."""
    parts = load_model(miniature_run)
    motion = parts.sampler
    assert isinstance(motion, ParameterMotion)
    world = SyntheticWorld(miniature().world)
    model, truth = head_motion(
        parts.conditioner, motion, world=world, offset=500, clips=2, seconds=2.4, first_noise_seed=7
    )
    tracks, clips = (
        [],
        [world.clip(seed, 2.4, render=False) for seed in (HELD_OUT_FIRST_SEED + 500, HELD_OUT_FIRST_SEED + 501)],
    )
    for noise_seed, clip in zip((7, 8), clips, strict=True):
        with torch.no_grad():
            conditions = parts.conditioner(clip.audio, emotion="neutral")
        tracks.append(motion.sample(conditions, motion.neutral(), seed=noise_seed).latents[0].numpy())
    fps = world.fps
    for name in model:
        assert model[name] == pytest.approx(np.mean([head_statistics(track, fps)[name] for track in tracks]))
        assert truth[name] == pytest.approx(np.mean([head_statistics(c.params.as_array(), fps)[name] for c in clips]))


# -------------------------------------------------------------------------------------------- the shipped model


def test_shipped_model_is_small_recorded_and_meets_its_targets() -> None:
    parts = load_model(SHIPPED)
    assert parts.config == preset("photo-motion")
    assert sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file()) <= MAX_SHIPPED_BYTES
    manifest = parts.manifest
    assert manifest["license"] == "Apache-2.0"
    assert manifest["recipe"]["config"] == PhotoMotionRecipe().model_dump(mode="json")  # the recipe made it
    assert manifest["recipe"]["flow_preset"] == TRAIN_PRESETS["flow-photo-motion"]
    assert manifest["training_time"]["cpu_s"] <= MAX_TRAINING_CPU_S
    checks = manifest["evaluation"]["checks"]
    assert set(checks) == set(TARGETS)
    assert [name for name in TARGETS if checks[name]] == list(MET_TARGETS), manifest["evaluation"]["figures"]


def test_shipped_model_generates_a_parameter_track_from_real_speech() -> None:
    """The bundled motion model on the bundled ARCTIC clip: deterministic for a seed, one frame per 40 ms of audio,
    every value in its axis's range, a mouth that follows the loudness and a head that moves."""
    parts = load_model(SHIPPED)
    motion = parts.sampler
    assert isinstance(motion, ParameterMotion)
    speech = load_audio(demo_speech_path(), target_rate=parts.conditioner.sample_rate)
    conditions = parts.conditioner(speech, emotion="neutral")
    track = motion.sample(conditions, motion.neutral(), seed=0)
    again = motion.sample(parts.conditioner(speech, emotion="neutral"), motion.neutral(), seed=0)
    other = motion.sample(conditions, motion.neutral(), seed=1)
    frames = -(-len(speech) // 640)
    assert track.latents.shape == (1, frames, len(PARAM_NAMES))
    assert track.fps == 25.0
    assert torch.equal(track.latents, again.latents)
    assert not torch.equal(track.latents, other.latents)
    values = track.latents[0]
    for index, axis in enumerate(parts.config.axes):  # type: ignore[attr-defined]
        assert axis.minimum <= float(values[:, index].min()) <= float(values[:, index].max()) <= axis.maximum
    assert float(values[:, PARAM_NAMES.index("yaw")].std()) > 0.5  # degrees: the head is not frozen
