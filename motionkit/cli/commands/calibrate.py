"""``motionkit calibrate``: named axes in real units for a model, measured with the face stack on rendered frames."""

from __future__ import annotations

import argparse
from pathlib import Path

from motionkit.cli.common import (
    HelpFormatter,
    add_device_options,
    add_model_option,
    check_input_file,
    load_pipeline,
    positive_int,
    resolve_model,
)
from motionkit.cli.progress import ProgressBars
from motionkit.errors import AudioError, ImageError, OutputError
from motionkit.pipeline.calibrate import (
    CALIBRATION_FILE,
    DEFAULT_MIN_R2,
    DEFAULT_SAMPLES,
    DEFAULT_SPREAD,
    MEASURED_AXES,
    SAMPLES_PER_FITTED_VALUE,
    calibrate,
)

DESCRIPTION = f"""\
Fit the model's named axes {", ".join(MEASURED_AXES)} in real units (degrees for the head pose, ratios for mouth
and eyes): render random motion around each portrait (spread in standard deviations of the model's own speech
motion), measure every frame with motionkit's face stack, and fit one axis per measurement (MotionSpace.fit_axes).
Writes the axes into the model folder's axes.json (replacing axes of the same names) and each axis' fit quality
(R^2, RMSE) into {CALIBRATION_FILE}; axes fitted with R^2 below --min-r2 are reported and not written. Edits then
take degrees: an edit program's "yaw": 15 turns the head by 15 degrees.

example:
  motionkit calibrate --model models/float-512 --portrait me.jpg --portrait you.jpg
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        parents=parents,
        help="fit named axes (yaw, pitch, roll in degrees, mouth, eyes) by measuring rendered faces",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    add_model_option(parser)
    parser.add_argument(
        "--portrait",
        type=Path,
        action="append",
        help="portrait to render on; repeat for several (default: the bundled demo portrait)",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        help=f"motion samples per portrait (default: {DEFAULT_SAMPLES}, or {SAMPLES_PER_FITTED_VALUE} per fitted value "
        "of a model with more coefficients: 66 for FLOAT's 20, 102 for IMTalker's 32)",
    )
    parser.add_argument(
        "--spread", type=float, default=DEFAULT_SPREAD, help="sample spread, in standard deviations of speech motion"
    )
    parser.add_argument("--min-r2", type=float, default=DEFAULT_MIN_R2, help="keep axes fitted at least this well")
    parser.add_argument("--audio", type=Path, help="speech whose sampled motion sets the spreads (default: bundled)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the motion samples")
    add_device_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    folder = resolve_model(args.model)
    from motionkit.assets import BUNDLED_MODELS, bundled_model_path

    shipped = {bundled_model_path(name).resolve() for name in BUNDLED_MODELS}
    if folder.resolve() in shipped:
        raise OutputError(
            f"{folder} is a model shipped inside motionkit, which calibration does not overwrite; copy it first "
            f"(cp -r {folder} my-model) and pass --model my-model."
        )
    if args.portrait:
        portraits = [check_input_file(path, ImageError, "portrait") for path in args.portrait]
    else:
        from motionkit.assets import demo_portrait_path

        portraits = [demo_portrait_path()]
    if args.audio is not None:
        check_input_file(args.audio, AudioError, "audio file")
    pipeline = load_pipeline(args)
    progress = ProgressBars.for_terminal(args.quiet)
    try:
        result = calibrate(
            pipeline,
            portraits,
            samples=args.samples,
            spread=args.spread,
            min_r2=args.min_r2,
            audio=args.audio,
            seed=args.seed,
            progress=progress,
        )
    finally:
        progress.close()
    print(f"the face stack read {result.measured} of {result.rendered} rendered frames")
    for name, fit in result.report.items():
        print(f"{fit}{'' if name in result.kept else f'  (not written: R^2 below {args.min_r2})'}")
    axes, quality = result.save(folder)
    print(f"wrote {axes} and {quality}")
    return 0
