"""Live controls become an edit program timed from the frame they arrive at."""

from __future__ import annotations

import torch

from motionkit import Axis, MotionSpace, MotionTrack
from motionkit.serve.controls import FADE, LiveEdits
from motionkit.serve.protocol import Nod, Toggle, Turn
from motionkit.space.edits import Freeze, Keyframes, Oscillate

FPS = 25.0
AXES = ("yaw", "pitch", "roll", "mouth")
EXACT = 1e-5
"""Readings of float32 coefficients: edits outside their window leave them unchanged to float32 rounding."""


def space() -> MotionSpace:
    base = MotionSpace.random(dim=16, rank=6, seed=0)
    return base.with_axes([Axis.basis(i, base.rank, name=name) for i, name in enumerate(AXES)])


def readings(edits: LiveEdits, frames: int = 150) -> dict[str, torch.Tensor]:
    motion = space()
    latents = torch.randn(1, frames, motion.dim, generator=torch.Generator().manual_seed(1))
    track = MotionTrack(latents, fps=FPS, source=latents[:, 0])
    edited = edits.compose().apply(track, motion)
    before, after = motion.readings(motion.project(latents)), motion.readings(motion.project(edited.latents))
    return {name: (after[name] - before[name])[0] for name in AXES}


def test_a_nod_moves_pitch_only_inside_its_window() -> None:
    edits = LiveEdits()
    edits.nod(Nod(amplitude=8.0, duration=2.0), now=2.0)
    (nod,) = edits.compose().edits
    assert isinstance(nod, Oscillate)
    assert (nod.axis, nod.start, nod.end, nod.amplitude) == ("pitch", 2.0, 4.0, 8.0)
    change = readings(edits)
    inside = slice(int(2.0 * FPS), int(4.0 * FPS))
    assert change["pitch"][: inside.start].abs().max() < EXACT
    assert change["pitch"][inside.stop :].abs().max() < EXACT
    assert change["pitch"][inside].abs().max() > 4.0  # a sine of amplitude 8 with fades of FADE s
    for other in ("yaw", "roll", "mouth"):
        assert change[other].abs().max() < EXACT


def test_turns_follow_each_other_and_hold() -> None:
    edits = LiveEdits()
    assert edits.turn(Turn(angle=15.0, duration=1.0), now=1.0) == 1.0
    assert edits.turn(Turn(angle=0.0, duration=1.0), now=1.5) == 2.0  # waits for the first turn to end
    (turn,) = edits.compose().edits
    assert isinstance(turn, Keyframes)
    assert [(k.time, k.value) for k in turn.keys] == [(1.0, 0.0), (2.0, 15.0), (3.0, 0.0)]
    yaw = readings(edits)["yaw"]
    assert abs(float(yaw[int(2.0 * FPS)]) - 15.0) < 1e-3
    assert yaw[int(3.0 * FPS) :].abs().max() < 1e-3


def test_holds_switch_on_and_off_with_fades() -> None:
    edits = LiveEdits()
    edits.toggle(Toggle(type="still_head", on=True), now=1.0)
    (hold,) = edits.compose().edits
    assert isinstance(hold, Freeze)
    assert (hold.start, hold.end, hold.fade_in) == (1.0, None, FADE)
    edits.toggle(Toggle(type="still_head", on=False), now=3.0)
    (released,) = edits.compose().edits
    assert (released.start, released.end, released.fade_out) == (1.0, 3.0 + FADE, FADE)
    change = readings(edits)
    assert change["mouth"].abs().max() < EXACT  # the head is held, the mouth is not
    assert change["yaw"][: int(FPS)].abs().max() < EXACT
    assert change["yaw"][int((3.0 + FADE) * FPS) + 1 :].abs().max() < EXACT
