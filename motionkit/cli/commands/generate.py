"""``motionkit generate``: a talking-head video from a portrait and a speech clip."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from motionkit.cli.common import (
    HelpFormatter,
    add_crop_options,
    add_device_options,
    add_encoder_options,
    add_model_option,
    add_overwrite_option,
    add_paste_back_option,
    check_input_file,
    check_output,
    check_suffix,
    load_pipeline,
    positive_int,
)
from motionkit.cli.progress import ProgressBars
from motionkit.conditioner import PredictedEmotion
from motionkit.conditioner.emotion import EmotionInput
from motionkit.config import GuidanceConfig
from motionkit.errors import AudioError, ConfigError, ImageError
from motionkit.flow import SOLVERS
from motionkit.pipeline import Pipeline
from motionkit.types import EMOTION_LABELS

DESCRIPTION = """\
Make a lip-synced talking-head video (MP4 with the speech muxed) from a portrait and a speech clip.

The face is detected and cropped as FLOAT does (--no-crop uses the whole image, --box gives the face box). The
motion is sampled from the speech (seeded: the same seed gives the same video), optionally edited with an
EditProgram JSON (see docs/motion-space.md), and rendered frame chunk by frame chunk into the file.

example:
  motionkit generate portrait.jpg speech.wav -o talking.mp4 --model models/float-512 --emotion happy
"""

EMOTION_CHOICES = ("predicted", *EMOTION_LABELS)


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "generate",
        parents=parents,
        help="portrait + speech -> talking-head MP4",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("image", type=Path, help="portrait image (JPEG, PNG, WebP, ...)")
    parser.add_argument("audio", type=Path, help="speech (WAV, FLAC, MP3, M4A, or a video's audio track)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the video to write (.mp4)")
    add_model_option(parser)
    add_emotion_options(parser)
    add_sampling_options(parser)
    parser.add_argument(
        "--edits", type=Path, metavar="PROGRAM.json", help="EditProgram JSON applied to the motion (default: none)"
    )
    add_crop_options(parser)
    add_paste_back_option(parser)
    parser.add_argument(
        "--pose-from",
        type=Path,
        metavar="VIDEO",
        help="mixed driving: the head pose follows the face of this video (relative, played back and forth when "
        "shorter than the speech) and the lips the speech (default: all motion from the speech)",
    )
    parser.add_argument(
        "--pose-axes",
        default="pose",
        metavar="AXES",
        help="with --pose-from: the comma-separated axes taken from the video (model axis names or pose)",
    )
    add_device_options(parser)
    add_encoder_options(parser)
    parser.add_argument(
        "--save-track",
        type=Path,
        metavar="TRACK.safetensors",
        help="also write the sampled motion (before --edits) for `motionkit edit` (default: not written)",
    )
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    check_suffix(check_output(args.output, args.overwrite, "video"), (".mp4",), "video")
    if args.save_track is not None:
        check_output(args.save_track, args.overwrite, "track file")
    check_input_file(args.image, ImageError, "image")
    check_input_file(args.audio, AudioError, "audio file")
    if args.pose_from is not None:
        check_input_file(args.pose_from, ImageError, "video of --pose-from")
    emotion = emotion_from(args)
    started = time.perf_counter()
    pipeline = load_pipeline(args)
    if emotion is None and pipeline.default_emotion == "neutral":
        emotion = "neutral"  # said explicitly: the Conditioner would warn, in Python terms
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        video = pipeline.generate(
            args.image,
            args.audio,
            emotion,
            seed=args.seed,
            nfe=args.nfe,
            solver=args.solver,
            guidance=guidance_from(args, pipeline),
            edits=args.edits,
            crop=not args.no_crop,
            box=args.box,
            progress=progress,
            paste_back=args.paste_back,
            driving=args.pose_from,
            driving_axes=args.pose_axes,
        )
        video.save(
            args.output,
            crf=args.crf,
            preset=args.x264_preset,
            codec=args.codec,
            overwrite=args.overwrite,
            progress=progress,
        )
    finally:
        progress.close()
    if args.save_track is not None:
        video.sampled_track.save(args.save_track)
    elapsed = time.perf_counter() - started
    print(f"wrote {args.output} ({len(video)} frames, {video.duration:.2f} s at {video.fps:g} fps) in {elapsed:.1f} s")
    if args.emotion is None and pipeline.default_emotion == "neutral":
        print("emotion: neutral (the model has no emotion classifier to predict it; choose one with --emotion)")
    if args.save_track is not None:
        print(f"wrote {args.save_track} (sampled motion, before edits)")
    return 0
