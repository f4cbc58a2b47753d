"""Algebraic properties every edit must have: identity, inverses, commutation, residual and purity."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from space_strategies import (
    AXIS_NAMES,
    calibrated_space,
    coefficients,
    edits,
    finite,
    make_track,
    references,
    subspace_edits_on_all,
    windows,
)

from motionkit import EditProgram
from motionkit.space.edits import Freeze, Key, Keyframes, Mix, Offset, Oscillate, Retarget, Scale, Smooth

SPACE = calibrated_space()
TRACK = make_track()
REFS = references()


def _apply(*edit_list: object, track=TRACK) -> torch.Tensor:
    return EditProgram(edits=edit_list).apply(track, SPACE, references=REFS).latents


def test_zero_edits_are_exactly_the_identity() -> None:
    beyond = {"start": 10.0}  # a window after the end of the 3-second track
    neutral = [
        Offset(axis="yaw", value=0.0, fade_in=0.5),
        Scale(axis="pitch", factor=1.0),
        Oscillate(axis="roll", amplitude=0.0, frequency=2.0),
        Keyframes(axis="mouth", keys=[Key(time=0.0, value=0.0), Key(time=1.0, value=0.0)], mode="relative"),
        Freeze(axes="all", **beyond),
        Smooth(**beyond),
        Mix(reference="driver", axes="all", **beyond),
        Retarget(target="portrait", **beyond),
    ]
    assert torch.equal(_apply(), TRACK.latents)
    for edit in neutral:
        assert torch.equal(_apply(edit), TRACK.latents), edit
    assert torch.equal(_apply(*neutral), TRACK.latents)


@given(axis=st.sampled_from([*AXIS_NAMES, "d2"]), value=finite, window=windows())
def test_offset_then_its_negative_is_the_identity(axis: str, value: float, window: dict) -> None:
    out = _apply(Offset(axis=axis, value=value, **window), Offset(axis=axis, value=-value, **window))
    torch.testing.assert_close(out, TRACK.latents, rtol=0, atol=1e-12)


@given(pair=st.permutations(AXIS_NAMES).map(lambda names: names[:2]), data=st.data())
def test_edits_on_orthogonal_axes_commute(pair: list[str], data: st.DataObject) -> None:
    first = data.draw(edits(names=(pair[0],)))
    second = data.draw(edits(names=(pair[1],)))
    torch.testing.assert_close(_apply(first, second), _apply(second, first), rtol=0, atol=1e-10)


@given(program=st.lists(edits(), min_size=1, max_size=4) | st.lists(subspace_edits_on_all(), min_size=1, max_size=2))
def test_every_edit_preserves_the_residual(program: list) -> None:
    out = _apply(*program)
    torch.testing.assert_close(SPACE.residual(out), SPACE.residual(TRACK.latents), rtol=0, atol=1e-10)


@given(edit=edits(), seed=st.integers(0, 50))
def test_single_axis_edits_change_only_their_axis(edit: object, seed: int) -> None:
    names = (edit.axis,) if hasattr(edit, "axis") else edit.axes  # type: ignore[attr-defined]
    track = make_track(seed=seed)
    change = coefficients(EditProgram(edits=[edit]).apply(track, SPACE, references=REFS), SPACE) - coefficients(
        track, SPACE
    )
    directions = torch.stack([SPACE.axis(name).vector() for name in names])
    outside = change - (change @ directions.T) @ directions  # the axes are orthonormal here
    torch.testing.assert_close(outside, torch.zeros_like(outside), rtol=0, atol=1e-10)


@given(program=st.lists(edits(), min_size=1, max_size=3))
def test_apply_is_pure(program: list) -> None:
    track = make_track(seed=3)
    snapshot = track.latents.clone(), track.source.clone()  # type: ignore[union-attr]
    ref_snapshot = {k: (v.latents.clone(), v.source.clone()) for k, v in REFS.items()}  # type: ignore[union-attr]
    out = EditProgram(edits=program).apply(track, SPACE, references=REFS)
    assert out is not track
    assert out.latents is not track.latents
    assert out.fps == track.fps
    assert out.latents.shape == track.latents.shape
    assert torch.equal(track.latents, snapshot[0])
    assert torch.equal(track.source, snapshot[1])
    for name, (latents, source) in ref_snapshot.items():
        assert torch.equal(REFS[name].latents, latents)
        assert torch.equal(REFS[name].source, source)
    retargets = [e for e in program if isinstance(e, Retarget) and e.target is not None]
    if not retargets:
        assert out.source is track.source


def test_apply_is_deterministic() -> None:
    program = EditProgram(edits=[Oscillate.nod(2.0), Smooth(method="savgol"), Mix(reference="driver", axes="mouth")])
    first = program.apply(TRACK, SPACE, references=REFS).latents
    assert torch.equal(first, program.apply(TRACK, SPACE, references=REFS).latents)
