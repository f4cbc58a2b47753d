"""Command-line options of speech-driven sampling shared by the commands that sample motion from speech
(``generate``, ``dub``): emotion and intensity, guidance scales, solver, steps and seed."""

from __future__ import annotations

import argparse
import json

from motionkit.cli.common import positive_int
from motionkit.conditioner import PredictedEmotion
from motionkit.conditioner.emotion import EmotionInput
from motionkit.config import GuidanceConfig
from motionkit.errors import ConfigError
from motionkit.flow import SOLVERS
from motionkit.pipeline import Pipeline
from motionkit.types import EMOTION_LABELS

EMOTION_CHOICES = ("predicted", *EMOTION_LABELS)


def add_emotion_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--emotion",
        type=parse_emotion_option,
        metavar="EMOTION",
        help=f"one of {', '.join(EMOTION_CHOICES)}, or an emotion JSON object such as "
        '\'{"kind": "mixture", "weights": {"happy": 3, "surprise": 1}}\' (default: predicted from the speech when '
        "the model has an emotion classifier, else neutral)",
    )
    parser.add_argument(
        "--intensity",
        type=float,
        metavar="0..1",
        help="blend the emotion towards neutral: 1 = full emotion, 0 = neutral (default: 1)",
    )


def add_sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audio-scale",
        type=float,
        metavar="S",
        help="audio guidance scale: higher follows the speech more closely (default: the model's, 2.0 for FLOAT)",
    )
    parser.add_argument(
        "--emotion-scale",
        type=float,
        metavar="S",
        help="emotion guidance scale; FLOAT suggests 5-10 for stronger emotion (default: the model's, 1.0 for FLOAT)",
    )
    parser.add_argument(
        "--nfe",
        type=positive_int,
        metavar="N",
        help="points of the ODE time grid; euler makes N - 1 model calls per 2 s window (default: the model's, 10)",
    )
    parser.add_argument(
        "--solver", choices=sorted(SOLVERS), help="ODE solver (default: the model's, euler as in FLOAT)"
    )
    parser.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the same motion")


def parse_emotion_option(text: str) -> str | dict[str, object]:
    """An emotion label, ``predicted``, or a JSON specification (an argparse ``type``)."""
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"the emotion JSON is invalid ({exc})") from None
        if not isinstance(value, dict):
            raise argparse.ArgumentTypeError('the emotion JSON must be an object such as {"kind": "label", ...}')
        return value
    name = text.strip().lower()
    if name in ("s2e", "speech"):
        name = "predicted"
    if name not in EMOTION_CHOICES:
        raise argparse.ArgumentTypeError(f"unknown emotion {text!r}; use one of {', '.join(EMOTION_CHOICES)}")
    return name


def emotion_from(args: argparse.Namespace) -> EmotionInput:
    """The Conditioner's ``emotion=`` value for ``--emotion`` and ``--intensity``."""
    emotion, intensity = args.emotion, args.intensity
    if intensity is None:
        return emotion
    if not 0.0 <= intensity <= 1.0:
        raise ConfigError(f"--intensity must be between 0 and 1, got {intensity}.")
    if isinstance(emotion, dict):
        return {**emotion, "intensity": intensity}
    if emotion is None or emotion == "predicted":
        return PredictedEmotion(intensity=intensity)
    return (emotion, intensity)


def guidance_from(args: argparse.Namespace, pipeline: Pipeline) -> GuidanceConfig | None:
    if args.audio_scale is None and args.emotion_scale is None:
        return None
    default = pipeline.sampler.default_guidance
    return GuidanceConfig(
        audio_scale=default.audio_scale if args.audio_scale is None else args.audio_scale,
        emotion_scale=default.emotion_scale if args.emotion_scale is None else args.emotion_scale,
    )
