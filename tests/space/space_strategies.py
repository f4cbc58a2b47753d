"""Shared fixtures-as-functions and hypothesis strategies for the MotionSpace edit tests."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from hypothesis import strategies as st

from motionkit.space import Axis, MotionSpace
from motionkit.space.edits import Freeze, Key, Keyframes, Mix, Offset, Oscillate, Retarget, Scale, Set, Smooth
from motionkit.types import MotionTrack

DIM, RANK, BATCH, FRAMES, FPS = 16, 6, 2, 30, 10.0
AXIS_NAMES = ("yaw", "pitch", "roll", "mouth")
DRIVER, PORTRAIT = "driver", "portrait"


def calibrated_space() -> MotionSpace:
    """A float64 space whose four named axes are orthonormal but not aligned with the basis."""
    space = MotionSpace.random(dim=DIM, rank=RANK, seed=11, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(
        torch.randn(RANK, RANK, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    )
    units = {
        "yaw": ("deg", 0.05, 1.0),
        "pitch": ("deg", 0.04, -3.0),
        "roll": ("deg", 0.03, 0.0),
        "mouth": ("ratio", 0.8, 0.2),
    }
    axes = [
        Axis.from_vector(name, rotation[i], unit=units[name][0], scale=units[name][1], offset=units[name][2])
        for i, name in enumerate(AXIS_NAMES)
    ]
    return space.with_axes(axes)


def make_track(
    seed: int = 0, batch: int = BATCH, frames: int = FRAMES, fps: float = FPS, source: bool = True
) -> MotionTrack:
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(batch, frames, DIM, generator=generator, dtype=torch.float64)
    origin = torch.randn(batch, DIM, generator=generator, dtype=torch.float64) if source else None
    return MotionTrack(latents, fps=fps, source=origin)


def references() -> dict[str, MotionTrack]:
    return {DRIVER: make_track(seed=101, batch=1, frames=FRAMES + 7), PORTRAIT: make_track(seed=102)}


def coefficients(track: MotionTrack, space: MotionSpace) -> torch.Tensor:
    return space.project(track.latents)


def reading(track: MotionTrack, space: MotionSpace, axis: str) -> torch.Tensor:
    return space.axis(axis).read(space.project(track.latents))


def times() -> torch.Tensor:
    return torch.arange(FRAMES, dtype=torch.float64) / FPS


finite = st.floats(-20.0, 20.0, allow_nan=False, allow_infinity=False)
seconds = st.floats(0.0, 3.5, allow_nan=False)


@st.composite
def windows(draw: Any) -> dict[str, Any]:
    start = draw(seconds)
    end = draw(st.one_of(st.none(), st.floats(0.05, 3.5).map(lambda length: start + length)))
    span = (end - start) if end is not None else 2.0
    fade_in = draw(st.floats(0.0, span / 2))
    fade_out = draw(st.floats(0.0, span / 2))
    return {"start": start, "end": end, "fade_in": fade_in, "fade_out": fade_out}


def axis_selections(names: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True).map(tuple)


def keys() -> st.SearchStrategy[tuple[Key, ...]]:
    return (
        st.lists(st.tuples(st.floats(0.0, 3.5), finite), min_size=1, max_size=5, unique_by=lambda kv: round(kv[0], 6))
        .map(lambda pairs: sorted(pairs))
        .filter(lambda pairs: all(b[0] - a[0] > 1e-6 for a, b in itertools.pairwise(pairs)))
        .map(lambda pairs: tuple(Key(time=t, value=v) for t, v in pairs))
    )


def edits(names: tuple[str, ...] = AXIS_NAMES, with_references: bool = True) -> st.SearchStrategy[Any]:
    """Any edit acting on (a subset of) ``names``."""
    axis = st.sampled_from(names)
    selection = axis_selections(names)
    options = [
        st.builds(lambda a, v, w: Offset(axis=a, value=v, **w), axis, finite, windows()),
        st.builds(
            lambda a, f, about, w: Scale(axis=a, factor=f, about=about, **w),
            axis,
            st.floats(-3.0, 3.0),
            st.sampled_from(["mean", "source", "origin"]),
            windows(),
        ),
        st.builds(lambda a, v, w: Set(axis=a, value=v, **w), axis, finite, windows()),
        st.builds(
            lambda a, amp, f, ph, w: Oscillate(axis=a, amplitude=amp, frequency=f, phase=ph, **w),
            axis,
            finite,
            st.floats(0.05, 4.0),
            st.floats(-3.2, 3.2),
            windows(),
        ),
        st.builds(
            lambda a, k, i, m: Keyframes(axis=a, keys=k, interpolation=i, mode=m),
            axis,
            keys(),
            st.sampled_from(["linear", "cubic", "ease-in-out"]),
            st.sampled_from(["absolute", "relative"]),
        ),
        st.builds(
            lambda s, at, w: Freeze(axes=s, at=at, **w), selection, st.sampled_from(["source", "mean"]), windows()
        ),
        st.builds(
            lambda s, m, sig, length, w: Smooth(axes=s, method=m, sigma=sig, length=length, **w),
            selection,
            st.sampled_from(["gaussian", "savgol"]),
            st.floats(0.01, 0.5),
            st.floats(0.3, 1.5),
            windows(),
        ),
    ]
    if with_references:
        options += [
            st.builds(lambda s, w: Mix(reference=DRIVER, axes=s, **w), selection, windows()),
            st.builds(
                lambda s, t, anchor, w: Retarget(target=t, axes=s, anchor=anchor, **w),
                selection,
                st.sampled_from([None, PORTRAIT]),
                st.sampled_from(["first", "mean"]),
                windows(),
            ),
        ]
    return st.one_of(*options)


def subspace_edits_on_all() -> st.SearchStrategy[Any]:
    """Edits over the whole coefficient space (``axes="all"``), including lip-only freezes."""
    return st.one_of(
        st.builds(lambda at: Freeze(axes="all", at=at), st.sampled_from(["source", "mean"])),
        st.builds(lambda at: Freeze.lip_only(at=at), st.sampled_from(["source", "mean"])),
        st.just(Smooth()),
        st.just(Smooth(method="savgol")),
        st.just(Mix(reference=DRIVER, axes="all")),
        st.just(Retarget()),
    )
