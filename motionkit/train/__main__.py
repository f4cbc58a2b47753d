"""``python -m motionkit.train ae|flow --config CONFIG.json`` — also the script to hand to ``torchrun``::

torchrun --nproc_per_node 8 -m motionkit.train flow --config flow.json
"""

from __future__ import annotations

import argparse
import sys

from motionkit.config.train import TRAIN_KINDS
from motionkit.errors import MotionkitError
from motionkit.train.run import run_training


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m motionkit.train",
        description="Train the motion auto-encoder (ae) or the flow model (flow); runs alone or under torchrun.",
    )
    parser.add_argument("kind", choices=TRAIN_KINDS, help="what to train")
    parser.add_argument("--config", required=True, help="training config JSON (see docs/training.md)")
    args = parser.parse_args(argv)
    try:
        checkpoint = run_training(args.kind, args.config)
    except MotionkitError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
