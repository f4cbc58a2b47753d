"""``motionkit explore``: a grid image of a portrait moved along each motion axis, to see what the axes do."""

from __future__ import annotations

import argparse
from pathlib import Path

from motionkit.cli.common import (
    HelpFormatter,
    add_crop_options,
    add_device_options,
    add_model_option,
    add_overwrite_option,
    check_input_file,
    check_output,
    check_suffix,
    load_pipeline,
    positive_int,
)
from motionkit.cli.progress import ProgressBars
from motionkit.errors import AudioError, ImageError
from motionkit.pipeline.explore import DEFAULT_CELL, DEFAULT_SPAN, DEFAULT_STEPS

DESCRIPTION = """\
Render a grid image: one row per motion axis (the model's named axes, or every basis direction d0, d1, ...),
one column per offset from -SPAN to +SPAN standard deviations, where a standard deviation is how much that axis
moves in motion the model samples for speech (--audio, default: the bundled speech clip). The centre column is
the portrait itself. Use it to see what each direction does before naming it (MotionSpace.fit_axes) or editing it.
At 512 px on a CPU a 20-direction, 5-column grid takes about half a minute.

example:
  motionkit explore portrait.jpg --model models/float-512 -o axes.png --axes d0,d1,d2 --steps 7
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explore",
        parents=parents,
        help="grid image sweeping each motion axis of a portrait",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("image", type=Path, help="portrait image")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the grid image to write (.png or .jpg)")
    add_model_option(parser)
    parser.add_argument(
        "--axes",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        metavar="A,B,...",
        help="axes to sweep, comma-separated (default: the model's named axes, else every basis direction)",
    )
    parser.add_argument("--span", type=float, default=DEFAULT_SPAN, help="largest offset, in standard deviations")
    parser.add_argument(
        "--steps", type=positive_int, default=DEFAULT_STEPS, help="columns (odd keeps the portrait in the centre)"
    )
    parser.add_argument("--cell", type=positive_int, default=DEFAULT_CELL, help="side of one cell in pixels")
    parser.add_argument(
        "--audio", type=Path, help="speech whose sampled motion sets the standard deviations (default: bundled clip)"
    )
    parser.add_argument("--seed", type=int, default=0, help="noise seed of that sampling")
    add_crop_options(parser)
    add_device_options(parser)
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_suffix(check_output(args.output, args.overwrite, "grid image"), (".png", ".jpg", ".jpeg"), "grid image")
    check_input_file(args.image, ImageError, "image")
    if args.audio is not None:
        check_input_file(args.audio, AudioError, "audio file")
    pipeline = load_pipeline(args)
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        sweep = pipeline.explore(
            args.image,
            axes=args.axes,
            span=args.span,
            steps=args.steps,
            cell=args.cell,
            audio=args.audio,
            seed=args.seed,
            crop=not args.no_crop,
            box=args.box,
            progress=progress,
        )
    finally:
        progress.close()
    sweep.save(args.output, overwrite=args.overwrite)
    print(f"wrote {args.output} ({len(sweep.axes)} axes x {len(sweep.offsets)} offsets)")
    return 0
