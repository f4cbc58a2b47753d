"""Video folders: scanning with bad-data accounting, 25-fps resampling, crops, audio, frame-pair sampling."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from motionkit.data.video import (
    ClipInfo,
    FaceCropper,
    FramePairSource,
    ScanSettings,
    SkippedFileWarning,
    clip_audio,
    iter_clip_frames,
    probe_clip,
    read_frames,
    scan_folder,
)
from motionkit.data.video import index as video_index
from motionkit.errors import ConfigError, DataError, FaceNotFoundError
from motionkit.face import crop_portrait, face_box
from tests.data.video_fixtures import (
    BACKGROUND_ROWS,
    CROP,
    FACE_SIDE,
    FACE_TOP,
    SIZE,
    SQUARE_CROPPER,
    TONE_HZ,
    VideoFolderFixture,
    background_level,
    make_video_folder,
)

FLOW_SETTINGS = ScanSettings(min_frames=10, require_audio=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> VideoFolderFixture:
    return make_video_folder(tmp_path_factory.mktemp("videos"))


def test_scan_skips_bad_files_with_warnings_and_counts_them(
    folder: VideoFolderFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.warns(SkippedFileWarning) as record:
        dataset = scan_folder(folder.root, SQUARE_CROPPER, FLOW_SETTINGS)
    assert sorted(c.path.name for c in dataset.clips) == ["talk25.mkv", "talk30.mp4"]
    summary = dataset.summary
    assert (summary.total, summary.kept, summary.skipped_count) == (7, 2, 5)
    reasons = {reason: [Path(p).name for p, _ in items] for reason, items in summary.skipped.items()}
    assert reasons == {
        "unreadable": ["corrupt.mp4"],
        "silent": ["silent.mp4"],
        "too_short": ["short.mp4"],
        "no_face": ["noface.mp4"],
        "no_audio": ["mute.mp4"],
    }
    messages = " ".join(str(w.message) for w in record)
    assert "silent (audio level" in messages
    assert "no face found in the first 25 frames" in messages
    printed = capsys.readouterr().err
    assert "7 files, 2 clips kept (70 frames" in printed
    assert "5 skipped (no_audio 1, no_face 1, silent 1, too_short 1, unreadable 1)" in printed


def test_auto_encoder_settings_keep_clips_without_usable_audio(folder: VideoFolderFixture) -> None:
    with pytest.warns(SkippedFileWarning):
        dataset = scan_folder(folder.root, SQUARE_CROPPER, ScanSettings(require_audio=False), verbose=False)
    names = sorted(c.path.name for c in dataset.clips)
    assert names == ["mute.mp4", "short.mp4", "silent.mp4", "talk25.mkv", "talk30.mp4"]


def test_frames_are_resampled_to_25_fps_by_nearest_timestamp(folder: VideoFolderFixture) -> None:
    info = probe_clip(folder.talk30, FaceCropper.resize(SIZE), FLOW_SETTINGS)
    assert info.frames == 40  # 48 frames at 30 fps last 1.6 s
    frames = np.concatenate(list(iter_clip_frames(info, FaceCropper.resize(SIZE), chunk=7)))
    assert frames.shape == (40, SIZE, SIZE, 3)
    assert frames.dtype == np.uint8
    shown = [round((float(f[BACKGROUND_ROWS].mean()) - background_level(0)) / 4) for f in frames]
    assert shown == [round(k * 30 / 25) for k in range(40)]
    same_rate = probe_clip(folder.talk25, FaceCropper.resize(SIZE), FLOW_SETTINGS)
    assert same_rate.frames == 30
    assert len(set(same_rate.source_pts)) == 30


def test_face_box_is_fixed_from_the_first_detectable_frame(folder: VideoFolderFixture) -> None:
    info = probe_clip(folder.talk30, SQUARE_CROPPER, FLOW_SETTINGS)
    left = 5 + 2  # the square appears at frame 2
    expected = (left, FACE_TOP, left + FACE_SIDE, FACE_TOP + FACE_SIDE)
    assert max(abs(a - b) for a, b in zip(info.box.as_tuple(), expected)) <= 1
    crops = np.concatenate(list(iter_clip_frames(info, SQUARE_CROPPER)))
    assert crops.shape == (40, CROP, CROP, 3)
    # The box stays put while the square moves right: output frame 2 (source frame 2) is all face, output frame
    # 20 (source frame 24, square 22 px further right) is all background.
    assert crops[2].min() > 235
    assert crops[20].max() < 200


def test_floats_crop_boxes_the_face_stacks_landmarks() -> None:
    """Training crops use the portrait crop: the landmark box of the frame, FLOAT's rule around it; a frame without
    a face raises FaceNotFoundError, which the scan answers by trying the next frame."""
    import skimage.data

    frame = skimage.data.astronaut()
    cropper = FaceCropper.float_crop(64)
    box = cropper.detect(frame)
    assert box == face_box(frame)
    np.testing.assert_array_equal(cropper.checked_crop(frame, box), crop_portrait(frame, 64))
    with pytest.raises(FaceNotFoundError):
        cropper.detect(np.zeros_like(frame))
    assert cropper.name == "float-crop-landmarks-64"


def test_random_access_equals_sequential_decoding(folder: VideoFolderFixture) -> None:
    info = probe_clip(folder.talk30, SQUARE_CROPPER, FLOW_SETTINGS)
    sequential = np.concatenate(list(iter_clip_frames(info, SQUARE_CROPPER)))
    indices = [39, 0, 17, 17, 5, 38, 1]
    assert np.array_equal(read_frames(info, indices, SQUARE_CROPPER), sequential[indices])
    with pytest.raises(DataError, match="outside"):
        read_frames(info, [40], SQUARE_CROPPER)


def test_audio_is_16_khz_mono_aligned_with_the_frames(folder: VideoFolderFixture) -> None:
    info = probe_clip(folder.talk30, SQUARE_CROPPER, FLOW_SETTINGS)
    assert info.has_audio
    assert info.audio_offset == 0
    waveform = clip_audio(info)
    assert waveform.dtype == np.float32
    assert waveform.shape == (40 * 640,)
    spectrum = np.abs(np.fft.rfft(waveform[1000:-1000]))
    peak = np.fft.rfftfreq(waveform.size - 2000, 1 / 16000)[int(spectrum.argmax())]
    assert abs(peak - TONE_HZ) < 2
    assert 0.15 < float(np.sqrt(np.mean(waveform[1000:-1000] ** 2))) < 0.25  # 0.3 / sqrt(2)


def test_scan_index_is_reused_until_a_file_changes(
    folder: VideoFolderFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index.json"
    with pytest.warns(SkippedFileWarning):
        first = scan_folder(folder.root, SQUARE_CROPPER, FLOW_SETTINGS, index_path=index, verbose=False)
    probed: list[str] = []
    original = video_index.probe_clip

    def counting(path: Path, *args: object) -> ClipInfo:
        probed.append(Path(path).name)
        return original(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(video_index, "probe_clip", counting)
    with pytest.warns(SkippedFileWarning):
        second = scan_folder(folder.root, SQUARE_CROPPER, FLOW_SETTINGS, index_path=index, verbose=False)
    assert probed == []
    assert second.clips == first.clips
    assert second.summary.skipped == first.summary.skipped
    stat = folder.talk25.stat()
    os.utime(folder.talk25, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.warns(SkippedFileWarning):
        scan_folder(folder.root, SQUARE_CROPPER, FLOW_SETTINGS, index_path=index, verbose=False)
    assert probed == ["talk25.mkv"]
    with pytest.warns(SkippedFileWarning):
        scan_folder(folder.root, SQUARE_CROPPER, ScanSettings(min_frames=11), index_path=index, verbose=False)
    assert len(probed) == 1 + 7  # other settings: everything is probed again


def _pairs(folder: VideoFolderFixture, **kwargs: object) -> FramePairSource:
    with pytest.warns(SkippedFileWarning):
        dataset = scan_folder(folder.root, SQUARE_CROPPER, FLOW_SETTINGS, verbose=False)
    return FramePairSource(dataset.clips, SQUARE_CROPPER, **kwargs)  # type: ignore[arg-type]


def test_frame_pairs_are_deterministic_resumable_and_sharded(folder: VideoFolderFixture) -> None:
    source = _pairs(folder, batch_size=4, seed=3)
    batch = source.next_batch()
    assert batch["source"].shape == batch["driving"].shape == (4, 3, CROP, CROP)
    assert batch["source"].dtype == torch.float32
    assert float(batch["source"].min()) >= -1
    assert float(batch["source"].max()) <= 1
    assert not torch.equal(batch["source"], batch["driving"])
    state = source.state_dict()
    after = [source.next_batch() for _ in range(2)]
    fresh = _pairs(folder, batch_size=4, seed=3, workers=2)
    fresh.load_state_dict(state)
    again = [fresh.next_batch() for _ in range(2)]
    fresh.close()
    for a, b in zip(after, again):
        assert torch.equal(a["source"], b["source"])
        assert torch.equal(a["driving"], b["driving"])
    combined = _pairs(folder, batch_size=4, seed=3).batch(1)
    halves = [_pairs(folder, batch_size=2, seed=3, rank=r, world_size=2).batch(1) for r in (0, 1)]
    assert torch.equal(torch.cat([h["driving"] for h in halves]), combined["driving"])


def test_regions_come_from_the_region_finder(folder: VideoFolderFixture) -> None:
    def finder(crop: np.ndarray) -> list[tuple[int, int, int, int] | None]:
        return [(0, 0, 8, 8), None]

    batch = _pairs(folder, batch_size=2, seed=0, region_finder=finder, regions=2).next_batch()
    assert batch["regions"].shape == (2, 2, 4)
    assert batch["regions_valid"].tolist() == [[True, False]] * 2
    with pytest.raises(ConfigError, match="together"):
        _pairs(folder, batch_size=2, region_finder=finder)


def test_a_clip_that_vanished_after_the_scan_is_skipped(folder: VideoFolderFixture, tmp_path: Path) -> None:
    good = probe_clip(folder.talk25, SQUARE_CROPPER, FLOW_SETTINGS)
    gone = ClipInfo(**{**good.__dict__, "path": tmp_path / "deleted.mkv"})
    source = FramePairSource([gone, good], SQUARE_CROPPER, batch_size=6, seed=1)
    with pytest.warns(SkippedFileWarning, match="deleted.mkv"):
        batch = source.next_batch()
    assert batch["driving"].shape[0] == 6


def test_cropper_contract_is_checked(folder: VideoFolderFixture) -> None:
    bad = FaceCropper(detect=SQUARE_CROPPER.detect, crop=lambda frame, box: frame.astype(np.float32), name="bad")
    info = probe_clip(folder.talk25, bad, FLOW_SETTINGS)
    with pytest.raises(ConfigError, match="must return uint8"):
        read_frames(info, [0], bad)
    with pytest.raises(ConfigError, match="does not exist"):
        scan_folder(folder.root / "missing", SQUARE_CROPPER)
