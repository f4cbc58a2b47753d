"""Whole-video evaluation: run an analyzer and every metric, and report the numbers against motionkit's targets."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from motionkit.data.synthetic import FaceIdentity, FaceParams, SyntheticWorldConfig
from motionkit.errors import ConfigError, ShapeError, require
from motionkit.eval import metrics
from motionkit.eval.face.base import FaceAnalyzer, FaceMeasurements, check_frames
from motionkit.eval.face.landmarks import LandmarkFaceAnalyzer
from motionkit.eval.face.synthetic import SyntheticFaceAnalyzer
from motionkit.eval.media import read_audio, read_video

TARGETS: dict[str, tuple[str, float]] = {
    "mouth_gt_correlation": (">=", 0.8),
    "av_offset_frames": ("|x|<=", 1.0),
    "closed_mouth_rate": (">=", 0.9),
    "seam_ratio": ("<=", 1.5),
}
"""The targets motionkit's default model is measured against: metric -> (comparison, bound)."""

EDIT_TARGET = 0.15
"""Largest relative error of an edit's measured amplitude (see :func:`evaluate_edit`)."""

MIN_MEASURED_SEAMS = 9
"""Fewest seams for a seam ratio of a measured series. One frame's change of a measured axis varies about as much
as its size (coefficient of variation ~0.75 for half-normal changes), so the mean over n seams has a relative
standard error ~0.75/sqrt(n); telling the 1.5x target from 1x at two standard errors needs
n >= (2 * 0.75 / 0.5)^2 = 9. Fewer seams (a 4 s video has one) give a number that is mostly chance."""

_MOTION_AXES = ("mouth_open", "yaw", "pitch")


@dataclass(frozen=True)
class EvalReport:
    """Metrics of one video. Fields are ``None`` when their inputs were not given (e.g. no audio).

    Attributes:
        frames, fps: length and rate of the video.
        face_found: share of frames where the analyzer measured a face.
        mouth_envelope_correlation: Pearson r of measured mouth opening and the audio envelope (dB).
        av_offset_frames, av_offset_correlation: :func:`metrics.av_offset` (> 0: video late).
        silent_frames, closed_mouth_rate: pause frames of the audio and the share with a closed mouth (None, and
            not checked, when the audio has no pause).
        jitter: :func:`metrics.jitter` of each measured axis (share of energy above 5 Hz).
        seam_ratio, seam_reference_ratio, seam_source: :func:`metrics.seam_discontinuity` (``ratio`` and its
            no-seam ``reference_ratio``) on the motion latents (``"latents"``) or on the z-scored measured mouth,
            yaw and pitch (``"measured"``). Only latents are checked against the target; a measured series with
            fewer than :data:`MIN_MEASURED_SEAMS` seams gets no ratio (``None``), its few seams give chance.
        seams: number of window seams in the video (``None`` when it is shorter than one window).
        mouth_gt_correlation, yaw_gt_mae, pitch_gt_mae: against ground-truth parameters, when given.
        checks: target name -> whether the value meets :data:`TARGETS` (only for measured values).
    """

    frames: int
    fps: float
    face_found: float
    mouth_envelope_correlation: float | None = None
    av_offset_frames: int | None = None
    av_offset_correlation: float | None = None
    silent_frames: int | None = None
    closed_mouth_rate: float | None = None
    jitter: dict[str, float] = field(default_factory=dict)
    seam_ratio: float | None = None
    seam_reference_ratio: float | None = None
    seam_source: str | None = None
    seams: int | None = None
    mouth_gt_correlation: float | None = None
    yaw_gt_mae: float | None = None
    pitch_gt_mae: float | None = None
    checks: dict[str, bool] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN becomes ``None``)."""
        return _clean(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        rows = [("frames", f"{self.frames} at {self.fps:g} fps"), ("face found", _fmt(self.face_found, "{:.0%}"))]
        rows += [
            ("mouth vs audio envelope r", _fmt(self.mouth_envelope_correlation)),
            ("audio-video offset", _fmt(self.av_offset_frames, "{:+d} frames") + _check(self, "av_offset_frames")),
            ("offset correlation", _fmt(self.av_offset_correlation)),
            (
                "closed mouth in silence",
                _fmt(self.closed_mouth_rate, "{:.0%}")
                + (f" of {self.silent_frames} frames" if self.silent_frames is not None else "")
                + _check(self, "closed_mouth_rate"),
            ),
            (
                "seam discontinuity",
                self._seam_text() + _check(self, "seam_ratio"),
            ),
        ]
        rows += [(f"jitter {axis}", _fmt(value, "{:.3f}")) for axis, value in self.jitter.items()]
        if self.mouth_gt_correlation is not None:
            rows += [
                ("mouth vs ground truth r", _fmt(self.mouth_gt_correlation) + _check(self, "mouth_gt_correlation")),
                ("yaw error (mean abs)", _fmt(self.yaw_gt_mae, "{:.2f} deg")),
                ("pitch error (mean abs)", _fmt(self.pitch_gt_mae, "{:.2f} deg")),
            ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    def _seam_text(self) -> str:
        if self.seam_source is None:
            return "n/a (shorter than one window)"
        seams = f"{self.seams} seam{'s' * (self.seams != 1)}"
        if self.seam_ratio is None:
            return f"n/a ({seams} in the {self.seam_source} series; a stable ratio needs {MIN_MEASURED_SEAMS})"
        reference = _fmt(self.seam_reference_ratio, "{:.2f}x")
        return f"{self.seam_ratio:.2f}x ({self.seam_source}, {seams}; {reference} mid-window)"


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: float | int | None, pattern: str = "{:.3f}") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return pattern.format(value)


def _check(report: EvalReport, name: str) -> str:
    if name not in report.checks:
        return ""
    comparison, bound = TARGETS[name]
    return f"  [{'pass' if report.checks[name] else 'FAIL'}: {comparison} {bound:g}]"


def meets_target(name: str, value: float) -> bool:
    """Whether ``value`` meets the target ``name`` of :data:`TARGETS`."""
    comparison, bound = TARGETS[name]
    if not math.isfinite(value):
        return False
    if comparison == ">=":
        return value >= bound
    if comparison == "<=":
        return value <= bound
    return abs(value) <= bound


def make_analyzer(
    analyzer: FaceAnalyzer | str, identity: FaceIdentity | None = None, world: SyntheticWorldConfig | None = None
) -> FaceAnalyzer:
    """``"synthetic"`` (:class:`SyntheticFaceAnalyzer`, calibrated on ``identity`` when given), ``"landmarks"``
    (:class:`LandmarkFaceAnalyzer`, needs mediapipe) or an analyzer object, returned as is."""
    if not isinstance(analyzer, str):
        return analyzer
    if analyzer == "synthetic":
        return SyntheticFaceAnalyzer(world, identity=identity)
    if analyzer == "landmarks":
        return LandmarkFaceAnalyzer()
    raise ConfigError(f"unknown analyzer {analyzer!r}; use 'synthetic', 'landmarks' or an analyzer object.")


def _load(
    video: str | Path | np.ndarray, audio: str | Path | np.ndarray | None, fps: float | None, sample_rate: int
) -> tuple[np.ndarray, float, np.ndarray | None]:
    if isinstance(video, (str, Path)):
        media = read_video(video, sample_rate)
        frames, video_fps, track = media.frames, media.fps, media.audio
        if fps is not None:
            video_fps = fps
    else:
        frames, video_fps, track = check_frames(video), (fps or 25.0), None
    if isinstance(audio, (str, Path)):
        track = read_audio(audio, sample_rate)
    elif audio is not None:
        track = np.asarray(audio, dtype=np.float32)
        require(track.ndim == 1, ShapeError, f"audio must be a mono (N,) waveform, got shape {track.shape}.")
    return frames, video_fps, track


def evaluate_video(
    video: str | Path | np.ndarray,
    audio: str | Path | np.ndarray | None = None,
    *,
    fps: float | None = None,
    sample_rate: int = 16000,
    analyzer: FaceAnalyzer | str = "synthetic",
    identity: FaceIdentity | None = None,
    ground_truth: FaceParams | None = None,
    latents: np.ndarray | Any | None = None,
    window: int = 50,
    first_seam: int | None = None,
    closed_threshold: float = 0.15,
    max_lag: int = 15,
    world: SyntheticWorldConfig | None = None,
) -> EvalReport:
    """Measure a talking-head video and compute every metric.

    Args:
        video: a video file (frames and, if present, its audio track are read) or ``(T, H, W, 3)`` uint8 frames.
        audio: audio file or ``(N,)`` waveform at ``sample_rate``; overrides the video's own track.
        fps: frame rate of ``video`` frames (files: read from the stream unless given; arrays: default 25).
        analyzer: how faces are measured: ``"synthetic"``, ``"landmarks"`` or a :class:`FaceAnalyzer`.
        identity: the synthetic face shown, when known (calibrates the synthetic analyzer to it).
        ground_truth: the true parameters of the frames (e.g. a held-out synthetic clip's), for the GT metrics.
        latents: ``(T, D)`` motion latents that produced the video (numpy, torch or a ``MotionTrack`` of batch 1);
            the seam metric uses them instead of the measured series.
        window, first_seam: window length and first seam of the windowed generator (FLOAT: 50, 50).
        closed_threshold: mouth opening below which a mouth counts as closed (analyzer units).
        max_lag: largest audio-video offset searched, in frames.
        world: the synthetic world the video shows (its framing calibrates the synthetic analyzer; default: the
            default world).
    """
    frames, video_fps, track = _load(video, audio, fps, sample_rate)
    measured = make_analyzer(analyzer, identity, world).measure(frames)
    T = measured.frames
    values: dict[str, Any] = {"frames": T, "fps": video_fps, "face_found": float(measured.found.mean())}
    values["jitter"] = {axis: metrics.jitter(getattr(measured, axis), video_fps) for axis in _MOTION_AXES}
    if track is not None:
        values.update(_audio_metrics(measured, track, sample_rate, video_fps, closed_threshold, max_lag))
    values.update(_seam(measured, latents, window, first_seam))
    if ground_truth is not None:
        require(
            ground_truth.frames == T,
            ShapeError,
            f"ground_truth has {ground_truth.frames} frames but the video has {T}; pass the matching clip.",
        )
        values["mouth_gt_correlation"] = metrics.pearson(measured.mouth_open, ground_truth.mouth_open)
        values["yaw_gt_mae"] = float(np.nanmean(np.abs(measured.yaw - ground_truth.yaw)))
        values["pitch_gt_mae"] = float(np.nanmean(np.abs(measured.pitch - ground_truth.pitch)))
    checked = [name for name in TARGETS if values.get(name) is not None]
    if values.get("seam_source") != "latents":
        checked = [name for name in checked if name != "seam_ratio"]
    checks = {name: meets_target(name, float(values[name])) for name in checked}
    return EvalReport(**values, checks=checks)


def _audio_metrics(
    measured: FaceMeasurements, audio: np.ndarray, sample_rate: int, fps: float, threshold: float, max_lag: int
) -> dict[str, Any]:
    T = measured.frames
    envelope = metrics.audio_envelope(audio, sample_rate, fps, frames=T)
    silent = metrics.silence_mask(audio, sample_rate, fps, frames=T)
    out: dict[str, Any] = {
        "mouth_envelope_correlation": metrics.pearson(measured.mouth_open, envelope),
        "silent_frames": int(silent.sum()),
        # without silent frames there is nothing to check (None: left out of the checks, not failed)
        "closed_mouth_rate": (
            metrics.closed_mouth_rate(measured.mouth_open, silent, threshold) if silent.any() else None
        ),
    }
    lag = min(max_lag, (T - 2) // 2)
    if lag >= 0 and 2 * lag + 1 < T:
        mouth = np.where(measured.found, measured.mouth_open, np.nan)
        offset = metrics.av_offset(mouth, envelope, lag)
        out["av_offset_frames"] = offset.frames
        out["av_offset_correlation"] = offset.correlation
    return out


def _seam(measured: FaceMeasurements, latents: Any, window: int, first_seam: int | None) -> dict[str, Any]:
    first = window if first_seam is None else first_seam
    if latents is not None:
        series = _as_latents(latents)
        require(
            series.shape[0] == measured.frames,
            ShapeError,
            f"latents have {series.shape[0]} frames but the video has {measured.frames}.",
        )
        source = "latents"
    else:
        stacked = np.stack([getattr(measured, axis) for axis in _MOTION_AXES], axis=1)
        scale = np.nanstd(stacked, axis=0)
        series = (stacked - np.nanmean(stacked, axis=0)) / np.where(scale > 0, scale, 1.0)
        source = "measured"
    if first >= series.shape[0]:
        return {}
    seams = len(range(first, series.shape[0], window))
    if source == "measured" and seams < MIN_MEASURED_SEAMS:
        return {"seam_source": source, "seams": seams}
    seam = metrics.seam_discontinuity(series, window, first)
    return {
        "seam_ratio": seam.ratio,
        "seam_reference_ratio": seam.reference_ratio,
        "seam_source": source,
        "seams": seams,
    }


def _as_latents(latents: Any) -> np.ndarray:
    values = getattr(latents, "latents", latents)  # a MotionTrack holds them in .latents
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 3:
        require(array.shape[0] == 1, ShapeError, f"latents of batch {array.shape[0]}; evaluate one video at a time.")
        array = array[0]
    require(array.ndim == 2, ShapeError, f"latents must be (T, D) or (1, T, D), got shape {array.shape}.")
    return array


def evaluate_edit(
    base: str | Path | np.ndarray,
    edited: str | Path | np.ndarray,
    requested: Mapping[str, np.ndarray],
    *,
    analyzer: FaceAnalyzer | str = "synthetic",
    identity: FaceIdentity | None = None,
    world: SyntheticWorldConfig | None = None,
) -> dict[str, metrics.EditAccuracy]:
    """Accuracy of edits: for each axis in ``requested`` (``"yaw"``, ``"pitch"``, ``"mouth_open"`` or ``"blink"``,
    a ``(T,)`` requested change), compare it with ``measure(edited) - measure(base)`` by :func:`metrics.edit_accuracy`.

    ``base`` and ``edited`` are the same clip rendered without and with the edit (files or frame arrays); ``world``
    is the synthetic world they show (as in :func:`evaluate_video`).
    """
    measure = make_analyzer(analyzer, identity, world).measure
    before = measure(_load(base, None, None, 16000)[0])
    after = measure(_load(edited, None, None, 16000)[0])
    require(before.frames == after.frames, ShapeError, f"base has {before.frames} frames, edited {after.frames}.")
    out = {}
    for axis, change in requested.items():
        require(hasattr(before, axis), ConfigError, f"unknown axis {axis!r}; use yaw, pitch, mouth_open or blink.")
        out[axis] = metrics.edit_accuracy(np.asarray(change), getattr(after, axis) - getattr(before, axis))
    return out
