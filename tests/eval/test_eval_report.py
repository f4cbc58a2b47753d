"""Whole-video evaluation on synthetic clips: arrays, files, edits, seams, and the report's formats."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from motionkit.data.synthetic import SyntheticWorld, close_up
from motionkit.errors import ConfigError, ImageError, ShapeError
from motionkit.eval import EDIT_TARGET, EvalReport, evaluate_edit, evaluate_video
from motionkit.eval.face import SyntheticFaceAnalyzer
from motionkit.eval.media import read_audio, read_video
from motionkit.eval.report import MIN_MEASURED_SEAMS
from motionkit.types import MotionTrack

SIZE = 64


@pytest.fixture(scope="module")
def world() -> SyntheticWorld:
    return SyntheticWorld(size=SIZE)


@pytest.fixture(scope="module")
def clip(world: SyntheticWorld):  # type: ignore[no-untyped-def]
    return world.clip(seed=41, seconds=6.0)


@pytest.fixture(scope="module")
def analyzer(clip) -> SyntheticFaceAnalyzer:  # type: ignore[no-untyped-def]
    return SyntheticFaceAnalyzer(identity=clip.identity)


def write_mp4(path: Path, frames: np.ndarray, audio: np.ndarray, sample_rate: int = 16000) -> None:
    """H.264 + AAC, with audio timestamps so the decoder drops the AAC priming samples."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        video.options = {"crf": "18"}
        sound = container.add_stream("aac", rate=sample_rate, layout="mono")
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        chunk = av.AudioFrame.from_ndarray(audio[None].astype(np.float32), format="flt", layout="mono")
        chunk.sample_rate, chunk.pts, chunk.time_base = sample_rate, 0, Fraction(1, sample_rate)
        for packet in [*sound.encode(chunk), *sound.encode(None)]:
            container.mux(packet)


def test_ground_truth_clip_meets_every_target(clip, analyzer: SyntheticFaceAnalyzer) -> None:  # type: ignore[no-untyped-def]
    report = evaluate_video(clip.frames, clip.audio, analyzer=analyzer, ground_truth=clip.params)
    assert report.frames == clip.num_frames
    assert report.face_found == 1.0
    assert report.av_offset_frames == 0
    assert report.closed_mouth_rate == 1.0
    assert report.silent_frames > 10
    assert report.mouth_gt_correlation > 0.93
    assert report.checks == {"mouth_gt_correlation": True, "av_offset_frames": True, "closed_mouth_rate": True}
    assert report.seam_source == "measured"
    assert report.seams == 2  # 150 frames: seams at 50 and 100
    assert report.seam_ratio is None  # too few seams of a measured series for a ratio that is not chance
    assert "seam discontinuity         n/a (2 seams in the measured series; a stable ratio needs 9)" in str(report)
    assert set(report.jitter) == {"mouth_open", "yaw", "pitch"}


def test_audio_without_pauses_leaves_the_closed_mouth_check_out(clip, analyzer: SyntheticFaceAnalyzer) -> None:  # type: ignore[no-untyped-def]
    """Nothing to measure is not a failure: a steady tone has no silent frame."""
    t = np.arange(clip.audio.shape[0]) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    report = evaluate_video(clip.frames, tone, analyzer=analyzer)
    assert report.silent_frames == 0
    assert report.closed_mouth_rate is None
    assert "closed_mouth_rate" not in report.checks
    assert "av_offset_frames" in report.checks


def test_delayed_video_is_caught(clip, analyzer: SyntheticFaceAnalyzer) -> None:  # type: ignore[no-untyped-def]
    late = np.concatenate([np.repeat(clip.frames[:1], 3, axis=0), clip.frames[:-3]])  # video 3 frames late
    report = evaluate_video(late, clip.audio, analyzer=analyzer)
    assert report.av_offset_frames == 3
    assert report.checks["av_offset_frames"] is False


def test_report_formats(clip, analyzer: SyntheticFaceAnalyzer) -> None:  # type: ignore[no-untyped-def]
    report = evaluate_video(clip.frames, clip.audio, analyzer=analyzer, ground_truth=clip.params)
    record = json.loads(report.to_json())
    assert record["av_offset_frames"] == 0
    assert record["checks"]["closed_mouth_rate"] is True
    text = str(report)
    assert "audio-video offset" in text
    assert "+0 frames" in text
    assert "[pass" in text
    without_audio = evaluate_video(clip.frames, analyzer=analyzer)
    assert without_audio.av_offset_frames is None
    assert without_audio.checks == {}
    assert "n/a" in str(without_audio)
    assert isinstance(without_audio, EvalReport)


def test_evaluate_a_video_file(tmp_path: Path) -> None:
    """H.264 halves the chroma resolution, which the mouth measurement relies on: 128 px (the demo size) is enough."""
    world = SyntheticWorld(size=128)
    clip = world.clip(seed=41, seconds=4.0)
    path = tmp_path / "clip.mp4"
    write_mp4(path, clip.frames, clip.audio)
    media = read_video(path)
    assert media.frames.shape == clip.frames.shape
    assert media.fps == 25.0
    assert media.audio is not None
    assert abs(media.audio.size - clip.audio.size) < 2048
    analyzer = SyntheticFaceAnalyzer(identity=clip.identity)
    report = evaluate_video(path, analyzer=analyzer, ground_truth=clip.params)
    assert report.av_offset_frames == 0
    assert report.mouth_gt_correlation > 0.95
    assert report.closed_mouth_rate == 1.0
    wav = tmp_path / "speech.wav"
    sf.write(wav, np.stack([clip.audio, clip.audio], 1), 24000)  # stereo at 24 kHz: resampled, averaged
    assert read_audio(wav).size == pytest.approx(clip.audio.size * 16000 / 24000, abs=1)


def test_seams_from_latents(clip, analyzer: SyntheticFaceAnalyzer) -> None:  # type: ignore[no-untyped-def]
    T = clip.num_frames
    smooth = np.cumsum(np.random.default_rng(0).normal(0, 0.1, (T, 16)), axis=0)
    jumpy = smooth.copy()
    jumpy[50:] += 3.0
    jumpy[100:] -= 3.0
    good = evaluate_video(
        clip.frames, clip.audio, analyzer=analyzer, latents=MotionTrack(torch.tensor(smooth)[None].float())
    )
    bad = evaluate_video(clip.frames, clip.audio, analyzer=analyzer, latents=jumpy)
    assert good.seam_source == "latents"
    assert good.checks["seam_ratio"] is True
    assert bad.checks["seam_ratio"] is False
    assert bad.seam_ratio > 10
    assert "(latents, 2 seams;" in str(good)
    with pytest.raises(ShapeError, match="frames"):
        evaluate_video(clip.frames, analyzer=analyzer, latents=smooth[:-1])


def test_long_measured_series_get_a_seam_ratio(clip, analyzer: SyntheticFaceAnalyzer) -> None:  # type: ignore[no-untyped-def]
    frames = np.concatenate([clip.frames] * 4)  # 600 frames: 11 seams
    report = evaluate_video(frames, analyzer=analyzer)
    assert report.seams == 11 >= MIN_MEASURED_SEAMS
    assert report.seam_ratio is not None
    assert report.seam_source == "measured"
    assert "seam_ratio" not in report.checks  # measured ratios are shown, not checked


def test_nod_and_turn_edits_are_measured_within_target(
    world: SyntheticWorld, clip, analyzer: SyntheticFaceAnalyzer
) -> None:  # type: ignore[no-untyped-def]
    t = np.arange(clip.num_frames) / 25.0
    nod = 8.0 * np.sin(2 * np.pi * 1.0 * t)
    turn = np.full(clip.num_frames, 12.0)
    base = world.render(clip.identity, clip.params)
    edited = world.render(clip.identity, clip.params.replace(pitch=clip.params.pitch + nod, yaw=clip.params.yaw + turn))
    results = evaluate_edit(base, edited, {"pitch": nod, "yaw": turn}, analyzer=analyzer)
    assert results["pitch"].relative_error < EDIT_TARGET / 2
    assert results["yaw"].relative_error < EDIT_TARGET / 2
    assert results["pitch"].correlation > 0.95
    halved = world.render(clip.identity, clip.params.replace(pitch=clip.params.pitch + nod / 2))
    assert evaluate_edit(base, halved, {"pitch": nod}, analyzer=analyzer)["pitch"].gain == pytest.approx(0.5, abs=0.1)


def test_close_up_world_is_measured_with_its_own_framing() -> None:
    world = SyntheticWorld(close_up(), size=SIZE)
    clip = world.clip(seed=41, seconds=6.0)
    report = evaluate_video(clip.frames, clip.audio, identity=clip.identity, ground_truth=clip.params, world=close_up())
    assert report.mouth_gt_correlation > 0.95
    assert report.av_offset_frames == 0
    assert report.closed_mouth_rate >= 0.9
    t = np.arange(clip.num_frames) / 25.0
    nod = 8.0 * np.sin(2 * np.pi * t)
    turn = np.full(clip.num_frames, 12.0)
    base = world.render(clip.identity, clip.params)
    edited = world.render(clip.identity, clip.params.replace(pitch=clip.params.pitch + nod, yaw=clip.params.yaw + turn))
    requested = {"pitch": nod, "yaw": turn}
    own = evaluate_edit(base, edited, requested, world=close_up())
    assert own["pitch"].relative_error < EDIT_TARGET / 2
    assert own["yaw"].relative_error < EDIT_TARGET / 2
    # the default framing's calibration misreads the close-up's pitch (the head is larger in the image)
    assert evaluate_edit(base, edited, requested)["pitch"].gain > 1.25


def test_evaluation_errors(tmp_path: Path, clip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="unknown analyzer"):
        evaluate_video(clip.frames, analyzer="syncnet")
    with pytest.raises(ImageError, match="does not exist"):
        evaluate_video(tmp_path / "missing.mp4")
    with pytest.raises(ShapeError, match="ground_truth"):
        evaluate_video(
            clip.frames[:10], analyzer=SyntheticFaceAnalyzer(identity=clip.identity), ground_truth=clip.params
        )
