"""``motionkit eval``: lip-sync and motion metrics of a talking-head video (no downloaded weights)."""

from __future__ import annotations

import argparse
from pathlib import Path

from motionkit.cli.common import HelpFormatter, check_input_file
from motionkit.errors import AudioError, ImageError

WORLDS = ("close-up", "default")
"""Framings of the synthetic world that ``--world`` names."""

DESCRIPTION = """\
Measure a talking-head video: mouth opening against the audio envelope, audio-video offset, closed mouth in
silence, window-seam discontinuity, jitter (see docs/evaluation.md). Faces are measured with the synthetic-world
analyzer by default (for videos of the synthetic demo faces); --analyzer landmarks uses MediaPipe (optional
dependency) for real faces.

example:
  motionkit eval out/demo/demo.mp4 --identity-seed 9
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "eval",
        parents=parents,
        help="lip-sync and motion metrics of a video",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("video", type=Path, help="the video to measure (its own audio track is used)")
    parser.add_argument("--audio", type=Path, help="use this audio instead of the video's track (default: the track)")
    parser.add_argument(
        "--identity-seed",
        type=int,
        metavar="N",
        help="seed of the synthetic face shown, to calibrate the analyzer on it (the demo face is 9) "
        "(default: generic calibration)",
    )
    parser.add_argument("--analyzer", choices=("synthetic", "landmarks"), default="synthetic", help="face measurement")
    parser.add_argument(
        "--world",
        choices=WORLDS,
        default="close-up",
        help="framing of the synthetic faces, which calibrates the synthetic analyzer: close-up (the demo model's, "
        "motionkit.data.synthetic.close_up) or default (head and shoulders)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from motionkit.data.synthetic import SyntheticWorld, SyntheticWorldConfig, close_up
    from motionkit.eval import evaluate_video

    world = {"default": SyntheticWorldConfig, "close-up": close_up}[args.world]()

    check_input_file(args.video, ImageError, "video")
    if args.audio is not None:
        check_input_file(args.audio, AudioError, "audio file")
    identity = None if args.identity_seed is None else SyntheticWorld().identity(args.identity_seed)
    report = evaluate_video(args.video, args.audio, analyzer=args.analyzer, identity=identity, world=world)
    print(report.to_json() if args.json else report)
    return 0
