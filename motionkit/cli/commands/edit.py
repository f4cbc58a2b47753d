"""``motionkit edit``: apply an EditProgram to a saved motion track and render it."""

from __future__ import annotations

import argparse
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
    encoder_arguments,
    load_pipeline,
)
from motionkit.cli.progress import ProgressBars
from motionkit.errors import AudioError, CheckpointError, ImageError
from motionkit.space import MotionSpace
from motionkit.space.plot import plot_edit, save_figure
from motionkit.types import MotionTrack

DESCRIPTION = """\
Edit a saved motion track (from `motionkit generate --save-track`) with an EditProgram and render it on a
portrait: nods, turns, lip-only, smoothing... (see docs/motion-space.md for the JSON). The program runs in the
model's motion space, so the axes it names must be named axes of the model (see `motionkit info`) or basis
directions d0, d1, ...

example:
  motionkit edit motion.safetensors --edits nod.json --image portrait.jpg --audio speech.wav \\
      --model models/float-512 -o nodding.mp4 --plot nodding.png
"""

PLOTTED_BASIS_AXES = 4
"""Basis directions plotted by --plot when the model has no named axes: the ones the edits changed most."""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "edit",
        parents=parents,
        help="edit a saved motion track and render it",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("track", type=Path, help="motion track file (.safetensors, from generate --save-track)")
    parser.add_argument(
        "--edits", type=Path, metavar="PROGRAM.json", help="EditProgram JSON (default: none: render the track as saved)"
    )
    parser.add_argument("--image", type=Path, required=True, help="the portrait the track was sampled for")
    parser.add_argument("--audio", type=Path, help="speech to mux into the video (default: a silent video)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the video to write (.mp4)")
    add_model_option(parser)
    parser.add_argument(
        "--plot", type=Path, metavar="PLOT.png", help="also plot the axes before and after the edits (default: none)"
    )
    parser.add_argument(
        "--save-track", type=Path, metavar="TRACK.safetensors", help="also write the edited track (default: none)"
    )
    add_crop_options(parser)
    add_paste_back_option(parser)
    add_device_options(parser)
    add_encoder_options(parser)
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_suffix(check_output(args.output, args.overwrite, "video"), (".mp4",), "video")
    for extra, what in ((args.plot, "plot"), (args.save_track, "track file")):
        if extra is not None:
            check_output(extra, args.overwrite, what)
    check_input_file(args.track, CheckpointError, "motion track file")
    check_input_file(args.image, ImageError, "image")
    if args.audio is not None:
        check_input_file(args.audio, AudioError, "audio file")
    track = MotionTrack.load(args.track)
    started = time.perf_counter()
    pipeline = load_pipeline(args)
    video = pipeline.render(
        args.image, track, args.audio, edits=args.edits, crop=not args.no_crop, box=args.box, paste_back=args.paste_back
    )
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        video.save(
            args.output,
            **encoder_arguments(args),
            progress=progress,
        )
    finally:
        progress.close()
    print(f"wrote {args.output} ({len(video)} frames) in {time.perf_counter() - started:.1f} s")
    if args.save_track is not None:
        video.track.save(args.save_track)
        print(f"wrote {args.save_track} (edited motion)")
    if args.plot is not None:
        axes = plotted_axes(pipeline.motion_space, video.sampled_track, video.track)
        figure = plot_edit(video.sampled_track, video.track, pipeline.motion_space, axes, title="before / after edits")
        save_figure(figure, args.plot)
        print(f"wrote {args.plot} (axes before and after the edits)")
    return 0


def plotted_axes(space: MotionSpace, before: MotionTrack, after: MotionTrack) -> list[str]:
    """The model's named axes, or (without names) the basis directions the edits changed most."""
    names = list(space.axes)
    if names != [f"d{i}" for i in range(space.rank)]:
        return names
    change = space.project((after.latents - before.latents).float().cpu()).abs().amax(dim=(0, 1))
    return [f"d{int(i)}" for i in change.argsort(descending=True)[:PLOTTED_BASIS_AXES].sort().values]
