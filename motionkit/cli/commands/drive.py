"""``motionkit drive``: a portrait moved by the face of a driving video (video-driven reenactment)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from motionkit.cli.common import (
    HelpFormatter,
    add_crop_options,
    add_device_options,
    add_driving_crop_options,
    add_encoder_options,
    add_model_option,
    add_overwrite_option,
    add_paste_back_option,
    check_input_file,
    check_output,
    check_suffix,
    encoder_arguments,
    load_pipeline,
)
from motionkit.cli.progress import ProgressBars
from motionkit.errors import ImageError
from motionkit.pipeline.driving import AXIS_GROUPS, TRANSFER_MODES

DESCRIPTION = f"""\
Move a portrait with the face of a driving video: every driving frame's face is tracked and cropped like the
portrait, its motion read (a learned model's encoder; with the photo family, measured by the face stack, so a real
photo follows a real video with no learned model), and transferred to the portrait: relative (the portrait keeps its
own pose and face and moves as the driving face moves, as LIA does) or absolute. --axes limits the transfer to named
axes or the groups {" and ".join(AXIS_GROUPS)}. The driving video's audio is muxed (none when it has none).

examples:
  motionkit drive portrait.jpg driving.mp4 -o moved.mp4
  motionkit drive portrait.jpg driving.mp4 -o nodding.mp4 --axes pose --model models/float-512 --paste-back
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "drive",
        parents=parents,
        help="portrait + driving video -> the portrait moving like the video's face",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("image", type=Path, help="portrait image (JPEG, PNG, WebP, ...)")
    parser.add_argument("driving", type=Path, help="driving video (MP4, MOV, MKV, WebM, ...)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the video to write (.mp4)")
    add_model_option(parser)
    add_transfer_options(parser)
    add_crop_options(parser)
    add_paste_back_option(parser)
    add_driving_crop_options(parser)
    add_device_options(parser)
    add_encoder_options(parser)
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def add_transfer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode", choices=TRANSFER_MODES, default="relative", help="relative: source + (driving_t - driving_0)"
    )
    parser.add_argument(
        "--axes",
        metavar="AXES",
        help=f"comma-separated axes to transfer: the model's names (see `motionkit info`) or {', '.join(AXIS_GROUPS)} "
        "(default: all)",
    )


def run(args: argparse.Namespace) -> int:
    check_suffix(check_output(args.output, args.overwrite, "video"), (".mp4",), "video")
    check_input_file(args.image, ImageError, "image")
    check_input_file(args.driving, ImageError, "driving video")
    started = time.perf_counter()
    pipeline = load_pipeline(args)
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        video = pipeline.drive(
            args.image,
            args.driving,
            mode=args.mode,
            axes=args.axes,
            crop=not args.no_crop,
            box=args.box,
            driving_crop=not args.driving_no_crop,
            driving_box=args.driving_box,
            paste_back=args.paste_back,
            max_missing=args.max_missing,
            progress=progress,
        )
        video.save(
            args.output,
            **encoder_arguments(args),
            progress=progress,
        )
    finally:
        progress.close()
    elapsed = time.perf_counter() - started
    height, width = video.frame_shape
    print(
        f"wrote {args.output} ({len(video)} frames, {width}x{height}, {video.duration:.2f} s at {video.fps:g} fps"
        f"{'' if video.audio is not None else ', no audio: the driving video has none'}) in {elapsed:.1f} s"
    )
    return 0
