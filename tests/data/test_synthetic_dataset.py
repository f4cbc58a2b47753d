"""Synthetic datasets on disk, and the bundled assets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from motionkit.assets import (
    demo_identity,
    demo_portrait_path,
    demo_speech_notice_path,
    demo_speech_path,
    render_demo_portrait,
)
from motionkit.data.synthetic import (
    SyntheticDataset,
    SyntheticWorld,
    clip_seed,
    generate_dataset,
    read_clip,
    write_clip,
)
from motionkit.errors import ConfigError, OutputError


def test_generate_and_read_back(tmp_path: Path) -> None:
    manifest = generate_dataset(tmp_path / "set", n_clips=3, seconds=1.0, size=64, seed=5, identities=2)
    data = json.loads(manifest.read_text())
    assert data["format"] == "motionkit.synthetic-dataset"
    assert len(data["clips"]) == 3
    dataset = SyntheticDataset(tmp_path / "set")
    assert len(dataset) == 3
    world = SyntheticWorld(size=64)
    for i, clip in enumerate(dataset):
        face_seed = clip_seed(5, i % 2)
        expected = world.clip(clip_seed(5, i), 1.0, identity=world.identity(face_seed))
        assert np.array_equal(clip.frames, expected.frames)
        assert np.array_equal(clip.audio, expected.audio)
        assert np.array_equal(clip.params.as_array(), expected.params.as_array())
        assert np.array_equal(clip.timeline.phones, expected.timeline.phones)
        assert clip.identity == expected.identity
        assert clip.voice == expected.voice
    assert dataset[0].identity == dataset[2].identity != dataset[1].identity
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == [
        "clip_00000.npz",
        "clip_00000.wav",
        "clip_00001.npz",
        "clip_00001.wav",
        "clip_00002.npz",
        "clip_00002.wav",
        "manifest.json",
    ], "no temporary or partial files are left"
    with pytest.raises(IndexError):
        dataset[3]


def test_dataset_refuses_to_overwrite(tmp_path: Path) -> None:
    generate_dataset(tmp_path, n_clips=1, seconds=0.4, size=64)
    with pytest.raises(OutputError, match="already holds a dataset"):
        generate_dataset(tmp_path, n_clips=1, seconds=0.4, size=64)
    generate_dataset(tmp_path, n_clips=1, seconds=0.4, size=64, seed=1, overwrite=True)
    assert json.loads((tmp_path / "manifest.json").read_text())["seed"] == 1


def test_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"manifest\.json not found"):
        SyntheticDataset(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ConfigError, match="regenerate"):
        SyntheticDataset(tmp_path)
    with pytest.raises(ConfigError, match="n_clips"):
        generate_dataset(tmp_path / "x", n_clips=0, seconds=1.0)
    unrendered = SyntheticWorld(size=64).clip(0, 0.4, render=False)
    with pytest.raises(OutputError, match="render=True"):
        write_clip(unrendered, tmp_path, "c")
    with pytest.raises(ConfigError, match="missing"):
        read_clip(tmp_path, "absent")


def test_clip_seeds_are_distinct() -> None:
    seeds = {clip_seed(0, i) for i in range(1000)} | {clip_seed(1, i) for i in range(1000)}
    assert len(seeds) == 2000


def test_demo_speech_is_the_arctic_clip() -> None:
    audio, rate = sf.read(demo_speech_path())
    assert rate == 16000
    assert audio.shape == (64000,)
    notice = demo_speech_notice_path().read_text()
    assert "Carnegie Mellon University" in notice
    assert "free for use for any purpose" in notice


def test_demo_portrait_matches_the_renderer() -> None:
    bundled = np.asarray(Image.open(demo_portrait_path()).convert("RGB"))
    assert bundled.shape == (128, 128, 3)
    assert np.array_equal(bundled, render_demo_portrait()), (
        "the renderer changed: regenerate the portrait with "
        "Image.fromarray(render_demo_portrait()).save(demo_portrait_path())"
    )
    assert demo_identity() == SyntheticWorld().identity(9)


def test_parallel_generation_matches_serial(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "serial", n_clips=2, seconds=0.4, size=64, seed=3)
    generate_dataset(tmp_path / "parallel", n_clips=2, seconds=0.4, size=64, seed=3, workers=2)
    for serial, parallel in zip(SyntheticDataset(tmp_path / "serial"), SyntheticDataset(tmp_path / "parallel")):
        assert np.array_equal(serial.frames, parallel.frames)
        assert np.array_equal(serial.audio, parallel.audio)
