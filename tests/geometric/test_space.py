"""The geometric renderer's motion space: named axes in real units, on which every EditProgram edit is exact."""

from __future__ import annotations

import torch

from motionkit.geometric import AXES, GeometricRenderer, geometric_space
from motionkit.space.edits import EditProgram
from motionkit.space.edits.axis_edits import Keyframes, Oscillate, Set
from motionkit.space.edits.subspace_edits import Freeze
from motionkit.types import MotionTrack


def test_axes_are_named_with_units_on_an_identity_basis() -> None:
    space = geometric_space()
    assert torch.equal(space.basis, torch.eye(len(AXES)))
    assert [(a.name, a.unit) for a in space.axes.values()] == list(AXES)
    assert GeometricRenderer().space.axes.keys() == space.axes.keys()


def test_edits_act_exactly_on_the_named_quantities() -> None:
    space = geometric_space(torch.float64)
    T, fps = 50, 25.0
    latents = torch.zeros(1, T, len(AXES), dtype=torch.float64)
    latents[0, :, 3] = torch.linspace(0.0, 0.4, T)  # the mouth opens
    latents[0, :, 0] = torch.linspace(-5.0, 5.0, T)  # the head turns
    track = MotionTrack(latents, fps=fps, source=torch.zeros(1, len(AXES), dtype=torch.float64))

    turned = EditProgram(edits=(Keyframes.turn(20.0, start=0.0, duration=1.0),)).apply(track, space).latents
    assert torch.allclose(turned[0, -1, 0] - latents[0, -1, 0], torch.tensor(20.0, dtype=torch.float64))
    assert torch.equal(turned[..., 1:], latents[..., 1:])

    nod = EditProgram(edits=(Oscillate.nod(amplitude=8.0, frequency=1.0),)).apply(track, space).latents
    t = torch.arange(T, dtype=torch.float64) / fps
    assert torch.allclose(nod[0, :, 1], 8.0 * torch.sin(2 * torch.pi * t), atol=1e-9)
    assert torch.equal(nod[..., [0, 2, 3, 4, 5, 6]], latents[..., [0, 2, 3, 4, 5, 6]])

    still = EditProgram(edits=(Freeze.still_head(),)).apply(track, space).latents
    assert torch.equal(still[..., :3], torch.zeros(1, T, 3, dtype=torch.float64))  # held at the photo's pose
    assert torch.equal(still[..., 3], latents[..., 3])

    lips = EditProgram(edits=(Freeze.lip_only(),)).apply(track, space).latents
    assert torch.equal(lips[..., 3], latents[..., 3])
    assert torch.equal(lips[..., [0, 1, 2, 4, 5, 6]], torch.zeros(1, T, 6, dtype=torch.float64))

    closed = EditProgram(edits=(Set(axis="blink_left", value=1.0),)).apply(track, space).latents
    assert torch.equal(closed[..., 4], torch.ones(1, T, dtype=torch.float64))
