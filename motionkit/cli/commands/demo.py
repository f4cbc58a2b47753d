"""``motionkit demo``: a talking-head video of the bundled photo (or the user's) with the bundled model and speech
clip, plus a scripted nod and turn, and a plot of the motion axes before and after the edits."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from motionkit.cli.common import (
    DEVICES,
    HelpFormatter,
    add_max_side_option,
    add_overwrite_option,
    check_input_file,
    check_output,
    resolve_device,
    resolve_model,
)
from motionkit.cli.progress import ProgressBars
from motionkit.errors import AudioError, ConfigError, ImageError
from motionkit.face.crop import fit_portrait
from motionkit.families.imtalker.presets import FAMILY_NAME as IMTALKER_FAMILY
from motionkit.families.photo.presets import FAMILY_NAME as PHOTO_FAMILY
from motionkit.io.files import check_folder_writable, make_folder
from motionkit.pipeline import Pipeline
from motionkit.space import EditProgram, MotionSpace
from motionkit.space.edits import Keyframes, Oscillate
from motionkit.space.plot import plot_axes, plot_edit, save_figure

DEFAULT_OUT = Path("out/demo")
REAL_PHOTO_FAMILIES = (PHOTO_FAMILY, IMTALKER_FAMILY)
"""Families whose demo animates the bundled real photo (the others: the bundled synthetic portrait)."""
VIDEO_FILE, PLOT_FILE, EDITS_FILE = "demo.mp4", "demo_motion.png", "demo_edits.json"
NOD_AXIS, TURN_AXIS = "pitch", "yaw"
NOD_AMPLITUDE = 8.0
"""Peak of the nod, in the pitch axis' unit (degrees for the bundled models)."""
NOD_FREQUENCY = 1.5
TURN_ANGLE = 15.0
"""The turn, in the yaw axis' unit."""
NOD_WINDOW = (0.1, 0.45)
TURN_WINDOW = (0.5, 0.75)
"""Start and end of the nod and of the turn, as fractions of the clip (0.4-1.8 s and 2-3 s of the 4 s clip)."""
MAX_FADE = 0.2
"""Seconds of fade in and out of the nod (at most a quarter of its window)."""

DESCRIPTION = f"""\
Animate a real photo (the bundled public-domain portrait of Grace Hopper, or yours with --photo) at its own
resolution with the bundled speech clip (CMU ARCTIC, or yours with --audio) through the bundled photo-motion model
and the geometric renderer, with a scripted nod ({NOD_AXIS} axis) over the first part of the clip and a turn
({TURN_AXIS} axis) later. Writes the video, a plot of the motion axes before and after the edits, and the
EditProgram used (edit it and re-run the same with `motionkit edit`). Runs on a CPU; nothing is downloaded.
`--model synthetic-demo` runs the learned 64-px demo model on its synthetic portrait instead; `--model DIR` an
IMTalker folder on the photo's face crop at 512 px (the nod and turn need its axes: `motionkit calibrate` first, or
--no-edits).

examples:
  motionkit demo --photo me.jpg --audio my_speech.wav --out out/my-demo
  motionkit demo --model models/imtalker-512 --no-edits
  motionkit demo --model synthetic-demo
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        parents=parents,
        help="talking-head video of a real photo with the bundled model and speech",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--photo", type=Path, help="your own portrait (default: the bundled portrait of the model)")
    parser.add_argument("--audio", type=Path, help="your own speech clip (default: the bundled 4 s clip)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the video, plot and edit program")
    parser.add_argument("--no-edits", action="store_true", help="leave the sampled motion unedited (no nod or turn)")
    parser.add_argument(
        "--model",
        type=Path,
        metavar="DIR",
        help="another model folder, or a shipped model's name (photo-motion, synthetic-demo) (default: photo-motion)",
    )
    parser.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the same video")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where to run")
    add_max_side_option(parser)
    add_overwrite_option(parser)
    parser.set_defaults(func=run)


def demo_program(duration: float) -> EditProgram:
    """The scripted nod and turn for a clip of ``duration`` seconds."""
    nod_start, nod_end = (fraction * duration for fraction in NOD_WINDOW)
    fade = min(MAX_FADE, (nod_end - nod_start) / 4)
    turn_start, turn_end = (fraction * duration for fraction in TURN_WINDOW)
    return EditProgram(
        edits=[
            Oscillate.nod(
                NOD_AMPLITUDE, NOD_FREQUENCY, axis=NOD_AXIS, start=nod_start, end=nod_end, fade_in=fade, fade_out=fade
            ),
            Keyframes.turn(TURN_ANGLE, start=turn_start, duration=turn_end - turn_start, axis=TURN_AXIS),
        ]
    )


def _require_axes(space: MotionSpace, model: Path) -> None:
    missing = [name for name in (NOD_AXIS, TURN_AXIS) if name not in space.axes]
    if missing:
        axes = (
            f"its axes: {', '.join(space.axes)}"
            if space.is_calibrated
            else f"it has only its {space.rank} basis directions d0 .. d{space.rank - 1}"
        )
        raise ConfigError(
            f"the model {model} has no calibrated {' and '.join(repr(m) for m in missing)} axis ({axes}), so the "
            f"scripted nod and turn cannot be applied; measure them with `motionkit calibrate --model {model}`, or "
            "run with --no-edits."
        )


def run(args: argparse.Namespace) -> int:
    from motionkit.assets import demo_photo_path, demo_portrait_path, demo_speech_path
    from motionkit.model_folder import read_config

    started = time.perf_counter()
    model = resolve_model(args.model)
    audio = args.audio or demo_speech_path()
    check_input_file(audio, AudioError, "audio file")
    if args.photo is not None:
        check_input_file(args.photo, ImageError, "photo")
    # each kind of model has its own bundled portrait: a real photo for the families made for real faces (the photo
    # family, IMTalker), else the synthetic face
    real = read_config(model).family in REAL_PHOTO_FAMILIES
    portrait = args.photo or (demo_photo_path() if real else demo_portrait_path())
    check_folder_writable(args.out)  # before any work: a file, or a read-only parent, is refused now
    outputs = [args.out / VIDEO_FILE, args.out / PLOT_FILE] + ([] if args.no_edits else [args.out / EDITS_FILE])
    if args.out.is_dir():
        for path in outputs:
            check_output(path, args.overwrite, "demo output")
    image, box = fit_portrait(portrait, args.max_side, None)
    pipeline = Pipeline.from_pretrained(model, device=resolve_device(args.device))
    if not args.no_edits:
        _require_axes(pipeline.motion_space, model)
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        # without a classifier the emotion cannot be predicted: neutral, said explicitly (no warning)
        emotion = None if pipeline.conditioner.predicts_emotion else "neutral"
        video = pipeline.generate(image, audio, emotion, seed=args.seed, box=box, progress=progress)
        program = None if args.no_edits else demo_program(video.duration)
        if program is not None:
            video = video.with_track(pipeline.apply_edits(video.track, program))
        make_folder(args.out)
        video.save(outputs[0], overwrite=args.overwrite, progress=progress)
    finally:
        progress.close()
    space = pipeline.motion_space
    if program is None:
        figure = plot_axes(video.track, space, title="motion axes (motionkit demo)")
    else:
        title = "scripted nod and turn: before (dashed) and after (solid)"
        shown = space.plotted_axes()
        axes = [*shown, *(name for name in (NOD_AXIS, TURN_AXIS) if name not in shown)]
        figure = plot_edit(video.sampled_track, video.track, space, axes, title=title)
        program.save(outputs[2])
    save_figure(figure, outputs[1])
    height, width = video.frame_shape
    print(f"demo video:   {outputs[0]} ({video.duration:.1f} s, {len(video)} frames of {width}x{height} px)")
    print(f"motion plot:  {outputs[1]}")
    if program is not None:
        print(f"edit program: {outputs[2]} (apply another with `motionkit edit`)")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0
