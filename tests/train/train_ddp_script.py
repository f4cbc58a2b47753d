"""Trains the stand-in regression task through ``run_training``; run alone or under ``torchrun`` by the tests."""

from __future__ import annotations

import argparse
from pathlib import Path

from train_fixtures import RegressionData, RegressionTask, tiny_config

from motionkit.config.train import TrainConfig
from motionkit.data.stream import IndexedBatchStream
from motionkit.train import DistContext, run_training

DATA_SEED = 5


def build(config: TrainConfig, context: DistContext) -> tuple[RegressionTask, IndexedBatchStream]:
    task = RegressionTask(batch_norm=False)
    data = RegressionData(
        batch_size=config.batch_size, seed=DATA_SEED, rank=context.rank, world_size=context.world_size
    )
    return task, data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--resume", default=None)
    args = parser.parse_args()
    config = tiny_config(
        args.out,
        steps=args.steps,
        batch_size=args.batch,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=10,
        resume=args.resume,
        grad_clip=0.5,
        lr=5e-2,
    )
    print(run_training("ae", config, builder=build))


if __name__ == "__main__":
    main()
