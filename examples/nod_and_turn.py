"""Script a nod and a turn on motion coefficients, and plot the axes before and after.

Runs in a few seconds on a CPU with nothing but motionkit installed (no weights, no downloads):

1. A random FLOAT-sized motion space (D = 512, M = 20) stands in for a checkpoint's basis.
2. Named axes (yaw, pitch, roll in degrees; mouth opening as a 0-1 ratio) are calibrated by least squares from
   frames with measured values, as you would calibrate a real checkpoint with a pose estimator and a mouth
   landmark ratio. Here the "measurements" are synthetic: planted axes plus measurement noise.
3. A 4-second talking-head motion track is synthesised: slow head sway, a mouth at syllable rate and a
   residual outside the basis span (FLOAT's sampler output has one).
4. An EditProgram nods twice (pitch), then turns the head 20 degrees (yaw, eased in and out); the mouth and
   the residual are left untouched.
5. The before/after trajectories of the four axes are saved as a PNG.

Usage: python examples/nod_and_turn.py [--out out/nod_and_turn.png] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from motionkit import EditProgram, MotionSpace, MotionTrack
from motionkit.space import Axis
from motionkit.space.edits import Keyframes, Oscillate
from motionkit.space.plot import plot_edit, save_figure

DIM, RANK, FPS, SECONDS = 512, 20, 25.0, 4.0
PLANTED = {  # name: (unit, coefficient length of one unit, reading at zero coefficients, measurement noise)
    "yaw": ("deg", 0.03, 0.0, 0.5),
    "pitch": ("deg", 0.03, -2.0, 0.5),
    "roll": ("deg", 0.04, 0.0, 0.5),
    "mouth": ("ratio", 0.8, 0.3, 0.02),
}


def planted_axes(generator: torch.Generator) -> list[Axis]:
    """Orthonormal 'true' directions for the four quantities (unknown to the calibration)."""
    directions, _ = torch.linalg.qr(torch.randn(RANK, len(PLANTED), generator=generator, dtype=torch.float64))
    return [
        Axis.from_vector(name, directions[:, i], unit=unit, scale=scale, offset=offset)
        for i, (name, (unit, scale, offset, _)) in enumerate(PLANTED.items())
    ]


def measured_frames(space: MotionSpace, truth: list[Axis], generator: torch.Generator, frames: int = 500):
    """Latents of varied frames and noisy measurements of every planted quantity on them."""
    coefficients = 0.4 * torch.randn(frames, RANK, generator=generator, dtype=torch.float64)
    latents = space.compose(coefficients) + 0.05 * space.residual(
        torch.randn(frames, DIM, generator=generator, dtype=torch.float64)
    )
    measurements = {
        axis.name: axis.read(coefficients) + PLANTED[axis.name][3] * torch.randn(frames, generator=generator)
        for axis in truth
    }
    return latents, measurements


def talking_track(space: MotionSpace, truth: dict[str, Axis], generator: torch.Generator) -> MotionTrack:
    """A (1, T, 512) track: slow random sway in every direction, mouth opening at ~3.5 Hz, plus a residual."""
    frames = round(SECONDS * FPS)
    t = torch.arange(frames, dtype=torch.float64) / FPS
    frequencies = 0.2 + 0.5 * torch.rand(RANK, generator=generator, dtype=torch.float64)
    phases = 2 * math.pi * torch.rand(RANK, generator=generator, dtype=torch.float64)
    coefficients = 0.05 * torch.sin(2 * math.pi * frequencies * t[:, None] + phases)
    mouth = truth["mouth"]
    opening = 0.35 + 0.25 * torch.sin(2 * math.pi * 3.5 * t).clamp(min=-0.6)
    coefficients = coefficients + (mouth.coefficients_for(0.0) + opening[:, None] * mouth.scale) * mouth.vector()
    residual = 0.02 * space.residual(torch.randn(frames, DIM, generator=generator, dtype=torch.float64))
    latents = (space.compose(coefficients) + residual).float()[None]
    return MotionTrack(latents, fps=FPS, source=latents[:, 0].clone())


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/nod_and_turn.png"), help="where to write the plot")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic space, data and track")
    args = parser.parse_args(argv)
    generator = torch.Generator().manual_seed(args.seed)

    space = MotionSpace.random(dim=DIM, rank=RANK, seed=args.seed)
    truth = planted_axes(generator)
    latents, measurements = measured_frames(space.to(dtype=torch.float64), truth, generator)
    space, report = space.fit_axes(latents, measurements, units={name: p[0] for name, p in PLANTED.items()})
    print(f"calibrated {len(report)} axes by least squares on {len(latents)} measured frames:")
    for fit in report.values():
        print(f"  {fit}")

    track = talking_track(space.to(dtype=torch.float64), {a.name: a for a in truth}, generator)
    program = EditProgram(
        edits=[
            Oscillate.nod(amplitude=8.0, frequency=1.5, start=0.3, end=1.7, fade_in=0.2, fade_out=0.2),
            Keyframes.turn(20.0, start=2.0, duration=1.0),
        ]
    )
    print(f"edit program:\n{program.to_json()}")
    edited = program.apply(track, space)

    yaw = space.axis("yaw")
    before, after = (yaw.read(space.project(x.latents[0, -1])) for x in (track, edited))
    print(f"yaw at the last frame: {float(before):+.1f} deg before, {float(after):+.1f} deg after the turn")
    residual_change = float((space.residual(edited.latents) - space.residual(track.latents)).abs().max())
    print(f"largest change of the off-span residual: {residual_change:.2g}")

    figure = plot_edit(
        track, edited, space, ["yaw", "pitch", "roll", "mouth"], title="Nod twice, then turn 20 deg (motionkit)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    path = save_figure(figure, args.out)
    print(f"plot written to {path}")
    return path


if __name__ == "__main__":
    main()
