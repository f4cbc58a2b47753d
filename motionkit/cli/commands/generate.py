"""``motionkit generate``: a talking-head video from a portrait and a speech clip."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from motionkit.cli.common import (
    HelpFormatter,
    add_crop_options,
    add_device_options,
    add_encoder_options,
    add_max_side_option,
    add_model_option,
    add_overwrite_option,
    add_paste_back_option,
    check_input_file,
    check_output,
    check_suffix,
    encoder_arguments,
    load_pipeline,
)
from motionkit.cli.controls import add_control_options, controls_from
from motionkit.cli.progress import ProgressBars
from motionkit.cli.sampling import add_emotion_options, add_sampling_options, emotion_from, guidance_from
from motionkit.errors import AudioError, ImageError
from motionkit.face.crop import fit_portrait

DESCRIPTION = """\
Make a lip-synced talking-head video (MP4 with the speech muxed) from a portrait and a speech clip.

The face is detected and cropped as FLOAT does (--no-crop uses the whole image, --box gives the face box). The
motion is sampled from the speech (seeded: the same seed gives the same video), optionally edited with an
EditProgram JSON (see docs/motion-space.md), and rendered frame chunk by frame chunk into the file.

An IMTalker model also takes per-frame head pose, camera and gaze (--pose, --cam, --gaze, as constants or
tracks); --pose-from VIDEO measures its pose, camera and gaze on the video's face.

examples:
  motionkit generate portrait.jpg speech.wav -o talking.mp4 --model models/float-512 --emotion happy
  motionkit generate portrait.jpg speech.wav -o talking.mp4 --model models/imtalker-512 --no-crop \
      --pose-from driving.mp4 --gaze 0,0.1
"""


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
    add_max_side_option(parser)
    add_paste_back_option(parser)
    parser.add_argument(
        "--pose-from",
        type=Path,
        metavar="VIDEO",
        help="mixed driving: the head pose follows the face of this video (relative, played back and forth when "
        "shorter than the speech) and the lips the speech; for an IMTalker model, the pose, camera and gaze controls "
        "are measured on its face (default: all motion from the speech)",
    )
    parser.add_argument(
        "--pose-axes",
        default="pose",
        metavar="AXES",
        help="with --pose-from: the comma-separated axes taken from the video (model axis names or pose)",
    )
    add_control_options(parser)
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


def run(args: argparse.Namespace) -> int:
    check_suffix(check_output(args.output, args.overwrite, "video"), (".mp4",), "video")
    if args.save_track is not None:
        check_output(args.save_track, args.overwrite, "track file")
    check_input_file(args.image, ImageError, "image")
    check_input_file(args.audio, AudioError, "audio file")
    if args.pose_from is not None:
        check_input_file(args.pose_from, ImageError, "video of --pose-from")
    emotion = emotion_from(args)
    controls = controls_from(args)
    started = time.perf_counter()
    portrait, box = fit_portrait(args.image, args.max_side, args.box)
    pipeline = load_pipeline(args)
    if emotion is None and pipeline.default_emotion == "neutral":
        emotion = "neutral"  # said explicitly: the Conditioner would warn, in Python terms
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        video = pipeline.generate(
            portrait,
            args.audio,
            emotion,
            seed=args.seed,
            nfe=args.nfe,
            solver=args.solver,
            guidance=guidance_from(args, pipeline),
            edits=args.edits,
            crop=not args.no_crop,
            box=box,
            progress=progress,
            paste_back=args.paste_back,
            driving=args.pose_from,
            driving_axes=args.pose_axes,
            controls=controls,
        )
        video.save(
            args.output,
            **encoder_arguments(args),
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
