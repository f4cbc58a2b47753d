"""``motionkit train``: train the motion auto-encoder or the flow model, or a bundled model by its recipe."""

from __future__ import annotations

import argparse
from pathlib import Path

from motionkit.cli.common import HelpFormatter
from motionkit.config.train import TRAIN_KINDS

PRESETS = ("synthetic-demo", "photo-motion")
RUNS = Path("runs")
"""A --preset run writes to runs/<preset> unless --out is given."""

DESCRIPTION = """\
Train a model (see docs/training.md):

  motionkit train ae --config ae.json          the motion auto-encoder (renderer) on video folders
  motionkit train flow --config flow.json      the flow model on cached motion latents and audio features
  motionkit train --preset synthetic-demo      the small demo model, end to end on the synthetic world
  motionkit train --preset photo-motion        the photo renderer's motion model, on the synthetic world's
                                               speech and true parameters

Runs alone or under torchrun for several GPUs (torchrun ... -m motionkit.train flow --config flow.json).
"""


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train",
        parents=parents,
        help="train the auto-encoder, the flow model, or a bundled model (synthetic demo, photo motion)",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("kind", nargs="?", choices=TRAIN_KINDS, help="what to train with --config (not with --preset)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, metavar="CONFIG.json", help="training config (with ae or flow)")
    source.add_argument("--preset", choices=PRESETS, help="a built-in end-to-end recipe (without ae/flow)")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help=f"output folder of --preset runs (default: {RUNS}/<preset>)"
    )
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    if args.preset is not None:
        if args.kind is not None:
            args.parser.error(f"--preset {args.preset} trains every part itself; drop {args.kind!r}")
        return _train_preset(args.preset, args.out or RUNS / args.preset)
    if args.kind is None:
        args.parser.error("--config needs the kind of model to train: motionkit train ae|flow --config CONFIG.json")
    if args.out is not None:
        args.parser.error("--out is for --preset runs; a config sets its output_dir itself")
    from motionkit.train import run_training

    checkpoint = run_training(args.kind, args.config)
    print(f"last checkpoint: {checkpoint}")
    return 0


def _train_preset(name: str, out: Path) -> int:
    if name == "photo-motion":
        from motionkit.train.photo import train_photo_motion

        folder = train_photo_motion(out)
    else:
        from motionkit.train.demo import train_synthetic_demo

        folder = train_synthetic_demo(out)
    print(f"trained model folder: {folder} (try: motionkit info {folder})")
    return 0
