"""``motionkit dub``: an existing video re-voiced with new speech."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from motionkit.cli.common import (
    HelpFormatter,
    add_device_options,
    add_driving_crop_options,
    add_encoder_options,
    add_model_option,
    add_overwrite_option,
    check_input_file,
    check_output,
    check_suffix,
    encoder_arguments,
    load_pipeline,
)
from motionkit.cli.progress import ProgressBars
from motionkit.cli.sampling import add_emotion_options, add_sampling_options, emotion_from, guidance_from
from motionkit.errors import AudioError, ImageError
from motionkit.pipeline.dubbing import EXTENSIONS

DESCRIPTION = """\
Re-voice a video: the face is tracked in every frame, its mouth follows the new speech and its head pose, blinks
and everything else stay the video's own; the rendered face is pasted back into each original frame, so the rest
of every frame is unchanged. A longer speech extends the video (--extension ping-pong, loop or freeze), a shorter
one cuts it; the audio is the new speech. With the photo family each frame's own mouth is redrawn.

example:
  motionkit dub interview.mp4 new_speech.wav -o dubbed.mp4 --model models/float-512
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dub",
        parents=parents,
        help="video + new speech -> the video re-voiced, lips moved by the speech",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("video", type=Path, help="the video to dub (MP4, MOV, MKV, WebM, ...)")
    parser.add_argument("audio", type=Path, help="the new speech (WAV, FLAC, MP3, M4A, or a video's audio track)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the video to write (.mp4)")
    add_model_option(parser)
    add_emotion_options(parser)
    add_sampling_options(parser)
    parser.add_argument(
        "--extension", choices=EXTENSIONS, default="ping-pong", help="how the video is extended for longer speech"
    )
    parser.add_argument(
        "--identity-frame", type=int, default=0, metavar="N", help="the frame whose appearance is drawn (0: first)"
    )
    add_driving_crop_options(parser)
    add_device_options(parser)
    add_encoder_options(parser)
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_suffix(check_output(args.output, args.overwrite, "video"), (".mp4",), "video")
    check_input_file(args.video, ImageError, "video")
    check_input_file(args.audio, AudioError, "audio file")
    emotion = emotion_from(args)
    started = time.perf_counter()
    pipeline = load_pipeline(args)
    if emotion is None and pipeline.default_emotion == "neutral":
        emotion = "neutral"
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        dubbed = pipeline.dub(
            args.video,
            args.audio,
            emotion,
            seed=args.seed,
            nfe=args.nfe,
            solver=args.solver,
            guidance=guidance_from(args, pipeline),
            extension=args.extension,
            identity_frame=args.identity_frame,
            crop=not args.driving_no_crop,
            box=args.driving_box,
            max_missing=args.max_missing,
            progress=progress,
        )
        dubbed.save(
            args.output,
            **encoder_arguments(args),
            progress=progress,
        )
    finally:
        progress.close()
    height, width = dubbed.frame_shape
    missing = dubbed.counts.missing
    kept = f"; {missing} frame(s) without a face kept as they were" if missing else ""
    print(
        f"wrote {args.output} ({len(dubbed)} frames, {width}x{height}, {dubbed.duration:.2f} s at {dubbed.fps:g} fps"
        f"{kept}) in {time.perf_counter() - started:.1f} s"
    )
    return 0
