"""Evaluation without downloaded weights: lip-sync, pose and motion-quality metrics, and whole-video reports.

See ``docs/evaluation.md``. ``evaluate_video(path_or_frames, audio)`` returns an :class:`EvalReport` whose
``str()`` is a readable table and ``to_json()`` a machine-readable record.
"""

from motionkit.eval.blend import BlendSeam, blend_seam
from motionkit.eval.face import FaceAnalyzer, FaceMeasurements, LandmarkFaceAnalyzer, SyntheticFaceAnalyzer
from motionkit.eval.metrics import (
    EditAccuracy,
    Offset,
    SeamReport,
    audio_envelope,
    av_offset,
    closed_mouth_rate,
    edit_accuracy,
    frame_changes,
    frame_rms,
    jitter,
    pearson,
    seam_discontinuity,
    silence_mask,
)
from motionkit.eval.report import EDIT_TARGET, TARGETS, EvalReport, evaluate_edit, evaluate_video
from motionkit.eval.seams import WindowPhaseSeams, window_phase_seams

__all__ = [
    "EDIT_TARGET",
    "TARGETS",
    "BlendSeam",
    "EditAccuracy",
    "EvalReport",
    "FaceAnalyzer",
    "FaceMeasurements",
    "LandmarkFaceAnalyzer",
    "Offset",
    "SeamReport",
    "SyntheticFaceAnalyzer",
    "WindowPhaseSeams",
    "audio_envelope",
    "av_offset",
    "blend_seam",
    "closed_mouth_rate",
    "edit_accuracy",
    "evaluate_edit",
    "evaluate_video",
    "frame_changes",
    "frame_rms",
    "jitter",
    "pearson",
    "seam_discontinuity",
    "silence_mask",
    "window_phase_seams",
]
