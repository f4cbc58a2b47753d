"""Feature cache (safetensors shards + JSON index), extraction from videos, and the L' + L window sampler."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import torch

from motionkit.data.cache import FeatureCache, FeatureCacheWriter, WindowSource, extract_features
from motionkit.data.video import ScanSettings, SkippedFileWarning, scan_folder
from motionkit.errors import CheckpointError, ConfigError, ShapeError
from tests.data.video_fixtures import SQUARE_CROPPER, make_video_folder

D, DA, E = 6, 4, 3


def _features(frames: int, offset: float, emotion: bool = True, source: bool = False) -> dict[str, torch.Tensor]:
    t = torch.arange(frames, dtype=torch.float32)[:, None]
    features = {
        "motion": offset + t + torch.arange(D) / 10,  # row t of clip c holds c + t + j/10
        "audio": -(offset + t) + torch.zeros(DA),
    }
    if emotion:
        features["emotion"] = torch.softmax(t + torch.arange(E), dim=1)
    if source:
        features["source"] = torch.full((D,), -offset)
    return features


def _cache(tmp_path: Path, lengths: tuple[int, ...] = (30, 8, 15), **kwargs: bool) -> FeatureCache:
    with FeatureCacheWriter(tmp_path / "cache", shard_bytes=1500) as writer:
        for i, frames in enumerate(lengths):
            writer.add(f"clip{i}.mp4", _features(frames, 100.0 * i, **kwargs))
    return FeatureCache(tmp_path / "cache")


def test_round_trip_with_shards(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    assert cache.names == ("clip0.mp4", "clip1.mp4", "clip2.mp4")
    assert len(list((tmp_path / "cache").glob("shard-*.safetensors"))) >= 2  # small shards: split
    loaded = cache.load("clip2.mp4")
    expected = _features(15, 200.0)
    assert torch.equal(loaded.motion, expected["motion"])
    assert torch.equal(loaded.audio, expected["audio"])
    assert loaded.emotion is not None
    assert loaded.source is None
    assert loaded.frames == 15
    assert torch.equal(cache.read("clip0.mp4", "motion", 3, 5), _features(30, 0.0)["motion"][3:5])
    assert cache.dims == {"motion": D, "audio": DA, "emotion": E}


def test_writer_continues_an_existing_cache(tmp_path: Path) -> None:
    _cache(tmp_path, (10,))
    with FeatureCacheWriter(tmp_path / "cache") as writer:
        assert "clip0.mp4" in writer
        writer.add("more.mp4", _features(12, 5.0))
        with pytest.raises(ConfigError, match="already in the feature cache"):
            writer.add("clip0.mp4", _features(10, 0.0))
    cache = FeatureCache(tmp_path / "cache")
    assert cache.names == ("clip0.mp4", "more.mp4")
    assert cache.frames("more.mp4") == 12


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"audio": torch.zeros(3, DA)}, "lacks the required 'motion'"),
        ({"motion": torch.zeros(3, D), "audio": torch.zeros(4, DA)}, r"audio must be \(T=3, C\)"),
        ({"motion": torch.zeros(3, D), "audio": torch.zeros(3, DA), "pose": torch.zeros(3, 2)}, "unknown feature"),
        ({"motion": torch.zeros(3, D + 1), "audio": torch.zeros(3, DA)}, "motion has width 7, the cache has 6"),
        ({"motion": torch.full((3, D), float("nan")), "audio": torch.zeros(3, DA)}, "NaN"),
    ],
)
def test_writer_rejects_bad_features(tmp_path: Path, tensors: dict[str, torch.Tensor], message: str) -> None:
    writer = FeatureCacheWriter(tmp_path)
    writer.add("ok", {"motion": torch.zeros(3, D), "audio": torch.zeros(3, DA)})
    with pytest.raises(ShapeError, match=message):
        writer.add("bad", tensors)


def test_missing_or_corrupt_cache(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="extract features first"):
        FeatureCache(tmp_path)
    (tmp_path / "index.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(CheckpointError, match="not a motionkit feature cache"):
        FeatureCache(tmp_path)


def test_windows_have_zero_padded_context_at_clip_starts(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    source = WindowSource(cache, window=10, context=4, batch_size=3, seed=0)
    assert source.clips == ("clip0.mp4", "clip2.mp4")  # the 8-frame clip is shorter than a window
    assert source.windows == 21 + 6
    positions = [source.locate(p) for p in range(source.windows)]
    assert positions[0] == ("clip0.mp4", 0)
    assert positions[20] == ("clip0.mp4", 20)
    assert positions[21] == ("clip2.mp4", 0)
    assert positions[-1] == ("clip2.mp4", 5)
    for index in range(40):
        sample = source.sample(index)
        clip = round(float(sample["motion"][0, 0]) // 100)
        start = int(float(sample["motion"][0, 0]) - 100 * clip)
        full = _features(cache.frames(f"clip{clip}.mp4"), 100.0 * clip)
        assert torch.equal(sample["motion"], full["motion"][start : start + 10])
        assert torch.equal(sample["audio"], full["audio"][start : start + 10])
        assert torch.equal(sample["emotion"], full["emotion"][start : start + 10])
        valid = sample["context_valid"]
        assert valid.tolist() == [start - 4 + i >= 0 for i in range(4)]
        assert torch.equal(sample["prev_motion"][valid], full["motion"][max(0, start - 4) : start])
        assert not sample["prev_motion"][~valid].any()
        assert not sample["prev_audio"][~valid].any()
        assert any(torch.equal(sample["source"], row) for row in full["motion"])  # a frame of the same clip


def test_every_window_position_is_drawn_uniformly(tmp_path: Path) -> None:
    source = WindowSource(_cache(tmp_path), window=10, context=4, batch_size=1, seed=1)
    offsets = {"clip0.mp4": 0, "clip2.mp4": 21}
    counts = np.zeros(source.windows, dtype=np.int64)
    for index in range(1350):
        first = float(source.sample(index)["motion"][0, 0])
        clip = round(first // 100)
        counts[offsets[f"clip{clip}.mp4"] + int(first - 100 * clip)] += 1
    assert counts.min() > 25
    assert counts.max() < 80


def test_window_batches_are_resumable_and_sharded(tmp_path: Path) -> None:
    cache = _cache(tmp_path, emotion=False, source=True)
    source = WindowSource(cache, window=5, context=2, batch_size=4, seed=9, source_frame="cached")
    batch = source.next_batch()
    assert batch["motion"].shape == (4, 5, D)
    assert batch["prev_audio"].shape == (4, 2, DA)
    assert batch["source"].shape == (4, D)
    assert "emotion" not in batch
    assert all(float(s[0]) in (-0.0, -100.0, -200.0) for s in batch["source"])
    state = source.state_dict()
    expected = source.next_batch()
    again = WindowSource(cache, window=5, context=2, batch_size=4, seed=9, source_frame="cached", workers=2)
    again.load_state_dict(state)
    assert torch.equal(again.next_batch()["motion"], expected["motion"])
    again.close()
    halves = [WindowSource(cache, window=5, context=2, batch_size=2, seed=9, rank=r, world_size=2) for r in (0, 1)]
    combined = WindowSource(cache, window=5, context=2, batch_size=4, seed=9).batch(3)
    assert torch.equal(torch.cat([h.batch(3)["motion"] for h in halves]), combined["motion"])
    with pytest.raises(ConfigError, match="needs 'source' features"):
        WindowSource(_cache(tmp_path / "other"), window=5, context=2, batch_size=1, source_frame="cached")
    with pytest.raises(ConfigError, match="has the 50 frames a window needs"):
        WindowSource(cache, window=50, context=2, batch_size=1)


class _MeanColourExtractor:
    """Stand-in for the renderer/conditioner: mean colour per frame, RMS per frame of audio."""

    def frames(self, frames: np.ndarray) -> Mapping[str, torch.Tensor]:
        return {"motion": torch.from_numpy(frames.reshape(len(frames), -1, 3).mean(axis=1)).float()}

    def audio(self, waveform: np.ndarray, num_frames: int) -> Mapping[str, torch.Tensor]:
        per_frame = waveform.reshape(num_frames, -1)
        return {"audio": torch.from_numpy(np.sqrt((per_frame**2).mean(axis=1, keepdims=True))).float()}


def test_extract_features_from_videos_once(tmp_path: Path) -> None:
    folder = make_video_folder(tmp_path / "videos")
    with pytest.warns(SkippedFileWarning):
        dataset = scan_folder(folder.root, SQUARE_CROPPER, ScanSettings(min_frames=10), verbose=False)
    cache = extract_features(
        dataset.clips, folder.root, SQUARE_CROPPER, _MeanColourExtractor(), tmp_path / "f", chunk=16
    )
    assert cache.names == ("sub/talk25.mkv", "talk30.mp4")
    assert cache.frames("talk30.mp4") == 40
    assert cache.dims == {"motion": 3, "audio": 1}
    audio = cache.read("talk30.mp4", "audio")
    assert float(audio[5:-5].mean()) == pytest.approx(0.3 / np.sqrt(2), abs=0.03)
    before = (tmp_path / "f" / "index.json").read_text()

    class _Refuses(_MeanColourExtractor):
        def frames(self, frames: np.ndarray) -> Mapping[str, torch.Tensor]:
            raise AssertionError("cached clips must not be recomputed")

    extract_features(dataset.clips, folder.root, SQUARE_CROPPER, _Refuses(), tmp_path / "f")
    assert (tmp_path / "f" / "index.json").read_text() == before
