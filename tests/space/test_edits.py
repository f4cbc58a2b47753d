"""What each edit does, checked against closed-form expectations, and the errors it raises."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline
from scipy.ndimage import gaussian_filter1d
from scipy.signal import savgol_filter
from space_strategies import DRIVER, FPS, FRAMES, calibrated_space, coefficients, make_track, reading, references, times

from motionkit import EditProgram, MotionSpace, MotionTrack
from motionkit.errors import EditError, ShapeError
from motionkit.space.edits import Freeze, Key, Keyframes, Mix, Offset, Oscillate, Retarget, Scale, Set, Smooth
from motionkit.testing.tolerances import rounding_tolerance

SPACE = calibrated_space()
TRACK = make_track()
REFS = references()


def _apply(*edits: object, track: MotionTrack = TRACK, space: MotionSpace = SPACE) -> MotionTrack:
    return EditProgram(edits=edits).apply(track, space, references=REFS)


def _change(axis: str, *edits: object, track: MotionTrack = TRACK) -> torch.Tensor:
    return reading(_apply(*edits, track=track), SPACE, axis) - reading(track, SPACE, axis)


def _ramp(x: torch.Tensor) -> torch.Tensor:
    return 0.5 - 0.5 * torch.cos(math.pi * x.clamp(0, 1))


# -- time windows -------------------------------------------------------------------------------------------------


def test_window_with_fades_weights_each_frame() -> None:
    change = _change("yaw", Offset(axis="yaw", value=4.0, start=1.0, end=2.0, fade_in=0.4, fade_out=0.2))
    t = times()
    inside = (t >= 1.0 - 1e-9) & (t < 2.0 - 1e-9)
    expected = 4.0 * inside * _ramp((t - 1.0) / 0.4) * _ramp((2.0 - t) / 0.2)
    torch.testing.assert_close(change, expected.expand(2, -1), rtol=0, atol=1e-10)
    assert float(change[0, 10]) == pytest.approx(0.0, abs=1e-10)  # t = 1.0: the fade starts at zero
    assert float(change[0, 12]) == pytest.approx(2.0)  # t = 1.2: half-way up a 0.4 s fade
    assert float(change[0, 15]) == pytest.approx(4.0)  # full strength
    assert float(change[0, 19]) == pytest.approx(4.0 * 0.5)  # t = 1.9: half-way down the 0.2 s fade-out
    assert float(change[0, 20]) == 0.0  # t = 2.0: end is exclusive


def test_open_window_fades_out_at_the_end_of_the_track() -> None:
    change = _change("yaw", Offset(axis="yaw", value=1.0, fade_out=1.0))
    duration = FRAMES / FPS
    torch.testing.assert_close(change[0], _ramp((duration - times()) / 1.0), rtol=0, atol=1e-10)


def test_invalid_windows_raise() -> None:
    with pytest.raises(EditError, match=r"end \(1.0 s\) must be after start \(2.0 s\)"):
        Offset(axis="yaw", value=1.0, start=2.0, end=1.0)
    with pytest.raises(EditError, match="fade_in \\+ fade_out"):
        Offset(axis="yaw", value=1.0, start=0.0, end=1.0, fade_in=0.6, fade_out=0.6)
    with pytest.raises(EditError, match="start: Input should be greater than or equal to 0"):
        Offset(axis="yaw", value=1.0, start=-1.0)


# -- single-axis edits --------------------------------------------------------------------------------------------


def test_offset_moves_the_reading_by_value_units() -> None:
    torch.testing.assert_close(
        _change("pitch", Offset(axis="pitch", value=-7.5)), torch.full((2, FRAMES), -7.5, dtype=torch.float64)
    )
    # on a basis axis the coefficient itself moves
    change = coefficients(_apply(Offset(axis="d4", value=0.25)), SPACE) - coefficients(TRACK, SPACE)
    torch.testing.assert_close(change[..., 4], torch.full((2, FRAMES), 0.25, dtype=torch.float64))


@pytest.mark.parametrize("about", ["mean", "source", "origin"])
def test_scale_multiplies_motion_around_its_centre(about: str) -> None:
    before = reading(TRACK, SPACE, "roll")
    after = reading(_apply(Scale(axis="roll", factor=2.5, about=about)), SPACE, "roll")
    axis = SPACE.axis("roll")
    centre = {
        "mean": before.mean(dim=1, keepdim=True),
        "source": axis.read(SPACE.project(TRACK.source))[:, None],  # type: ignore[arg-type]
        "origin": torch.full((2, 1), axis.offset, dtype=torch.float64),
    }[about]
    torch.testing.assert_close(after, centre + 2.5 * (before - centre))


def test_scale_by_zero_flattens_to_the_mean() -> None:
    after = reading(_apply(Scale(axis="mouth", factor=0.0)), SPACE, "mouth")
    torch.testing.assert_close(after, reading(TRACK, SPACE, "mouth").mean(1, keepdim=True).expand(-1, FRAMES))


def test_set_holds_the_absolute_reading() -> None:
    after = reading(_apply(Set(axis="pitch", value=12.0, start=1.0)), SPACE, "pitch")
    before = reading(TRACK, SPACE, "pitch")
    torch.testing.assert_close(after[:, 10:], torch.full((2, FRAMES - 10), 12.0, dtype=torch.float64))
    torch.testing.assert_close(after[:, :10], before[:, :10])


def test_oscillate_adds_a_sine_timed_from_start() -> None:
    edit = Oscillate(axis="yaw", amplitude=5.0, frequency=0.7, phase=0.3, start=0.5, end=2.5)
    t = times()
    inside = (t >= 0.5 - 1e-9) & (t < 2.5 - 1e-9)
    expected = inside * 5.0 * torch.sin(2 * math.pi * 0.7 * (t - 0.5) + 0.3)
    torch.testing.assert_close(_change("yaw", edit)[1], expected, rtol=0, atol=1e-10)


def test_oscillation_presets() -> None:
    nod, shake, tilt = Oscillate.nod(), Oscillate.shake(), Oscillate.tilt()
    assert (nod.axis, shake.axis, tilt.axis) == ("pitch", "yaw", "roll")
    assert all(p.amplitude > 0 and p.frequency > 0 for p in (nod, shake, tilt))
    custom = Oscillate.nod(amplitude=3.0, frequency=2.0, axis="d1", start=0.5, end=1.5, fade_in=0.2, phase=1.0)
    assert (
        custom.axis,
        custom.amplitude,
        custom.frequency,
        custom.start,
        custom.end,
        custom.fade_in,
        custom.phase,
    ) == ("d1", 3.0, 2.0, 0.5, 1.5, 0.2, 1.0)
    with pytest.raises(EditError, match="frequency: Input should be greater than 0"):
        Oscillate.shake(frequency=0.0)
    # a nod moves pitch and nothing else
    assert float(_change("pitch", nod).abs().max()) == pytest.approx(nod.amplitude, rel=0.02)
    torch.testing.assert_close(_change("yaw", nod), torch.zeros(2, FRAMES, dtype=torch.float64), rtol=0, atol=1e-10)


@pytest.mark.parametrize("interpolation", ["linear", "cubic", "ease-in-out"])
def test_keyframes_pass_through_keys_and_hold_outside(interpolation: str) -> None:
    keys = [Key(time=0.5, value=2.0), Key(time=1.2, value=-4.0), Key(time=2.0, value=6.0)]
    after = reading(_apply(Keyframes(axis="yaw", keys=keys, interpolation=interpolation)), SPACE, "yaw")
    t = times().numpy()
    key_t, key_v = np.array([0.5, 1.2, 2.0]), np.array([2.0, -4.0, 6.0])
    clamped = np.clip(t, 0.5, 2.0)
    if interpolation == "linear":
        expected = np.interp(clamped, key_t, key_v)
    elif interpolation == "cubic":
        expected = CubicSpline(key_t, key_v, bc_type="natural")(clamped)
    else:
        s = np.where(clamped < 1.2, (clamped - 0.5) / 0.7, (clamped - 1.2) / 0.8)
        left = np.where(clamped < 1.2, 2.0, -4.0)
        right = np.where(clamped < 1.2, -4.0, 6.0)
        expected = left + (right - left) * (3 * s**2 - 2 * s**3)
    torch.testing.assert_close(after, torch.from_numpy(expected).expand(2, -1), rtol=0, atol=1e-9)
    assert float(after[0, 5]) == pytest.approx(2.0)
    assert float(after[0, 20]) == pytest.approx(6.0)
    assert float(after[0, 0]) == pytest.approx(2.0)
    assert float(after[0, -1]) == pytest.approx(6.0)


def test_ease_in_out_starts_and_stops_smoothly() -> None:
    edit = Keyframes(axis="yaw", keys=[(0.0, 0.0), (2.0, 10.0)], interpolation="ease-in-out")
    values = edit.values(np.array([0.0, 0.1, 1.0, 1.9, 2.0]))
    assert values[2] == pytest.approx(5.0)
    assert values[1] < 0.1 * 10.0 / 2.0 * 1.0  # slower than linear near the keys
    assert 10.0 - values[3] < 0.5


def test_relative_keyframes_and_turn_preset() -> None:
    turn = Keyframes.turn(15.0, start=0.5, duration=1.0)
    assert (turn.axis, turn.mode, turn.interpolation) == ("yaw", "relative", "ease-in-out")
    change = _change("yaw", turn)
    assert float(change[0, :6].abs().max()) == pytest.approx(0.0, abs=1e-10)  # before and at the start
    assert float(change[0, 10]) == pytest.approx(7.5)  # half-way through the turn
    torch.testing.assert_close(change[:, 15:], torch.full((2, FRAMES - 15), 15.0, dtype=torch.float64))


def test_keyframe_validation() -> None:
    with pytest.raises(EditError, match="strictly increasing"):
        Keyframes(axis="yaw", keys=[(1.0, 0.0), (1.0, 2.0)])
    with pytest.raises(EditError, match="keys: Tuple should have at least 1 item"):
        Keyframes(axis="yaw", keys=[])
    assert Keyframes(axis="yaw", keys=[[0, 1]]).keys == (Key(time=0.0, value=1.0),)


# -- subspace edits -----------------------------------------------------------------------------------------------


def test_freeze_holds_axes_at_source_or_mean() -> None:
    src = SPACE.project(TRACK.source)  # type: ignore[arg-type]
    held = _apply(Freeze.still_head())
    for name in ("yaw", "pitch", "roll"):
        expected = SPACE.axis(name).read(src)[:, None].expand(-1, FRAMES)
        torch.testing.assert_close(reading(held, SPACE, name), expected)
    torch.testing.assert_close(reading(held, SPACE, "mouth"), reading(TRACK, SPACE, "mouth"))
    at_mean = _apply(Freeze(axes=["yaw"], at="mean"))
    torch.testing.assert_close(
        reading(at_mean, SPACE, "yaw"), reading(TRACK, SPACE, "yaw").mean(1, keepdim=True).expand(-1, FRAMES)
    )


def test_lip_only_keeps_only_the_mouth_moving() -> None:
    out = _apply(Freeze.lip_only(at="mean"))
    c, c0 = coefficients(out, SPACE), coefficients(TRACK, SPACE)
    mouth = SPACE.axis("mouth").vector()
    torch.testing.assert_close(c @ mouth, c0 @ mouth)  # the mouth reading is untouched
    still = c - (c @ mouth)[..., None] * mouth  # everything else is constant in time
    torch.testing.assert_close(still, still[:, :1].expand_as(still), rtol=0, atol=1e-12)
    assert Freeze.lip_only(mouth=("jaw", "lips")).keep == ("jaw", "lips")
    assert Freeze.lip_only(mouth="jaw").keep == ("jaw",)


def test_freeze_errors() -> None:
    no_source = make_track(source=False)
    with pytest.raises(EditError, match=r"edit 0 \(freeze\).*no source.*at='mean'"):
        _apply(Freeze.still_head(), track=no_source)
    with pytest.raises(EditError, match='keep only applies with axes="all"'):
        Freeze(axes=["yaw"], keep=["mouth"])
    with pytest.raises(EditError, match="unknown axis 'mouth'"):
        _apply(Freeze.lip_only(), space=MotionSpace.random(dim=16, rank=6, seed=11, dtype=torch.float64))
    with pytest.raises(EditError, match=r"\['yaw'\] are listed more than once"):
        _apply(Freeze(axes=["yaw", "pitch", "yaw"]))


def test_dependent_axes_are_rejected_and_non_orthogonal_axes_are_set_jointly() -> None:
    from motionkit.space import Axis

    base = SPACE.with_axes(
        [
            Axis.basis(0, 6, name="a"),
            Axis.from_vector("b", torch.tensor([1.0, 1.0, 0, 0, 0, 0])),
            Axis.basis(1, 6, name="c"),
        ]
    )
    with pytest.raises(EditError, match="linearly dependent"):
        _apply(Freeze(axes=["a", "b", "c"]), space=base)
    held = _apply(Freeze(axes=["a", "b"], at="mean"), space=base)
    for name in ("a", "b"):  # both non-orthogonal axes end up exactly at their means
        values = reading(held, base, name)
        torch.testing.assert_close(values, values[:, :1].expand_as(values), rtol=0, atol=1e-12)


def test_smooth_gaussian_matches_scipy() -> None:
    edit = Smooth(axes="roll", sigma=0.2)
    expected = gaussian_filter1d(reading(TRACK, SPACE, "roll").numpy(), sigma=0.2 * FPS, axis=1, mode="nearest")
    torch.testing.assert_close(reading(_apply(edit), SPACE, "roll"), torch.from_numpy(expected))


def test_smooth_savgol_keeps_polynomials_and_removes_noise() -> None:
    t = times()
    axis = SPACE.axis("mouth")
    quadratic = 0.3 + 0.2 * t - 0.05 * t**2
    smooth_track = TRACK.with_latents(
        TRACK.latents
        + SPACE.compose((quadratic - reading(TRACK, SPACE, "mouth"))[..., None] * axis.scale * axis.vector())
    )
    out = reading(
        _apply(Smooth(axes="mouth", method="savgol", length=0.7, polyorder=2), track=smooth_track), SPACE, "mouth"
    )
    torch.testing.assert_close(out, reading(smooth_track, SPACE, "mouth"), rtol=0, atol=1e-9)
    noisy = reading(TRACK, SPACE, "yaw")
    smoothed = reading(_apply(Smooth(axes="yaw", method="savgol")), SPACE, "yaw")
    assert float(smoothed.diff(dim=1).square().mean()) < 0.5 * float(noisy.diff(dim=1).square().mean())


def test_savgol_window_is_clamped_between_polyorder_and_track_length() -> None:
    # 0.1 s at 10 fps is one frame: widened to polyorder + 2 = 5 frames (a 3-frame quadratic fit changes nothing)
    widened = reading(_apply(Smooth(axes="yaw", method="savgol", length=0.1)), SPACE, "yaw")
    five = savgol_filter(reading(TRACK, SPACE, "yaw").numpy(), 5, 2, axis=1, mode="interp")
    torch.testing.assert_close(widened, torch.from_numpy(five))
    short = make_track(frames=6)  # 2 s requested, shortened to the 5 frames that fit
    out = reading(_apply(Smooth(axes="yaw", method="savgol", length=2.0), track=short), SPACE, "yaw")
    expected = savgol_filter(reading(short, SPACE, "yaw").numpy(), 5, 2, axis=1, mode="interp")
    torch.testing.assert_close(out, torch.from_numpy(expected))
    with pytest.raises(EditError, match="polyorder 2 needs a window of at least 5 frames, but the track has 4"):
        _apply(Smooth(method="savgol", polyorder=2), track=make_track(frames=4))


def test_mix_takes_axes_from_the_reference() -> None:
    driver = REFS["driver"]
    out = _apply(Mix(reference="driver", axes=["yaw", "mouth"]))
    for name in ("yaw", "mouth"):
        torch.testing.assert_close(reading(out, SPACE, name), reading(driver, SPACE, name)[:, :FRAMES].expand(2, -1))
    torch.testing.assert_close(reading(out, SPACE, "pitch"), reading(TRACK, SPACE, "pitch"))


def test_mix_errors() -> None:
    with pytest.raises(EditError, match=r"reference track 'drv'.*\['driver', 'portrait'\].*references=\{'drv'"):
        _apply(Mix(reference="drv", axes="yaw"))
    program = EditProgram(edits=[Mix(reference="other", axes="yaw")])
    mismatched = {"other": make_track(fps=30.0, frames=40)}
    with pytest.raises(EditError, match="runs at 30 fps but the edited track at 10 fps; resample"):
        program.apply(TRACK, SPACE, references=mismatched)
    with pytest.raises(EditError, match="has 5 frames but the edited track 30"):
        program.apply(TRACK, SPACE, references={"other": make_track(frames=5)})
    with pytest.raises(EditError, match="batch 3; it must be 1"):
        program.apply(TRACK, SPACE, references={"other": make_track(batch=3)})
    with pytest.raises(EditError, match="must be a MotionTrack"):
        program.apply(TRACK, SPACE, references={"other": TRACK.latents})  # type: ignore[dict-item]
    wide = MotionTrack(torch.zeros(1, FRAMES, 8, dtype=torch.float64), fps=FPS)
    with pytest.raises(EditError, match="latent size 8"):
        program.apply(TRACK, SPACE, references={"other": wide})


@pytest.mark.parametrize("anchor", ["first", "mean"])
def test_retarget_rebases_relative_motion_on_the_track_source(anchor: str) -> None:
    out = _apply(Retarget(anchor=anchor))
    c, c0 = coefficients(out, SPACE), coefficients(TRACK, SPACE)
    src = SPACE.project(TRACK.source)[:, None]  # type: ignore[index]
    start = c0[:, :1] if anchor == "first" else c0.mean(1, keepdim=True)
    torch.testing.assert_close(c, src + (c0 - start))
    assert out.source is TRACK.source


def test_retarget_to_a_named_portrait_replaces_the_source() -> None:
    portrait = REFS["portrait"]
    out = _apply(Retarget(target="portrait", axes=["yaw", "pitch"]))
    for name in ("yaw", "pitch"):
        first = reading(out, SPACE, name)[:, 0]
        torch.testing.assert_close(first, SPACE.axis(name).read(SPACE.project(portrait.source)))  # type: ignore[arg-type]
        torch.testing.assert_close(reading(out, SPACE, name).diff(dim=1), reading(TRACK, SPACE, name).diff(dim=1))
    torch.testing.assert_close(reading(out, SPACE, "mouth"), reading(TRACK, SPACE, "mouth"))
    assert torch.equal(out.source, portrait.source)  # type: ignore[arg-type]
    # a later source-relative edit now uses the new portrait
    held = _apply(Retarget(target="portrait"), Freeze.still_head())
    torch.testing.assert_close(
        reading(held, SPACE, "yaw")[:, 3],
        SPACE.axis("yaw").read(SPACE.project(portrait.source)),  # type: ignore[arg-type]
    )


def test_retarget_broadcasts_a_single_target_over_the_batch() -> None:
    single = make_track(seed=5, batch=1)
    out = EditProgram(edits=[Retarget(target="one")]).apply(TRACK, SPACE, references={"one": single})
    assert out.source.shape == (2, 16)  # type: ignore[union-attr]
    torch.testing.assert_close(coefficients(out, SPACE)[:, 0], SPACE.project(single.source).expand(2, -1))  # type: ignore[arg-type]


def test_retarget_errors() -> None:
    with pytest.raises(EditError, match=r"edit 0 \(retarget\).*no source"):
        _apply(Retarget(), track=make_track(source=False))
    with pytest.raises(EditError, match="reference 'bare' has no source motion"):
        EditProgram(edits=[Retarget(target="bare")]).apply(TRACK, SPACE, references={"bare": make_track(source=False)})


# -- program level ------------------------------------------------------------------------------------------------


def test_program_errors_name_the_edit() -> None:
    with pytest.raises(EditError, match=r"edit 1 \(offset\): unknown axis 'jaw'"):
        _apply(Offset(axis="yaw", value=1.0), Offset(axis="jaw", value=1.0))
    with pytest.raises(ShapeError, match="latent size 16 but the space has dim 32"):
        EditProgram().apply(TRACK, MotionSpace.random(dim=32, rank=6))
    with pytest.raises(EditError, match="edits a MotionTrack"):
        EditProgram().apply(TRACK.latents, SPACE)  # type: ignore[arg-type]
    with pytest.raises(EditError, match="needs a MotionSpace"):
        EditProgram().apply(TRACK, SPACE.basis)  # type: ignore[arg-type]


def test_uncalibrated_presets_raise_and_basis_axes_work() -> None:
    space = MotionSpace.random(dim=64, rank=20, seed=0)
    track = MotionTrack(torch.zeros(1, 100, 64), fps=25)
    with pytest.raises(EditError, match=r"unknown axis 'pitch'.*'d0' .. 'd19'"):
        EditProgram(edits=[Oscillate.nod(amplitude=1.0)]).apply(track, space)
    out = EditProgram(edits=[Oscillate.nod(amplitude=1.0, axis="d2"), Offset(axis="d1", value=0.5)]).apply(track, space)
    c = space.project(out.latents)
    torch.testing.assert_close(c[0, :, 1], torch.full((100,), 0.5), rtol=0, atol=1e-6)
    assert float(c[0, :, 2].abs().max()) == pytest.approx(1.0, abs=5e-3)  # 1.5 Hz sampled at 25 fps


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_low_precision_tracks_keep_their_dtype(dtype: torch.dtype) -> None:
    space = SPACE.to(dtype=torch.float32)
    track = MotionTrack(TRACK.latents.to(dtype), fps=FPS, source=TRACK.source.to(dtype))  # type: ignore[union-attr]
    assert torch.equal(EditProgram().apply(track, space).latents, track.latents)
    out = EditProgram(edits=[Offset(axis="yaw", value=10.0), Freeze.still_head()]).apply(track, space)
    assert out.latents.dtype == dtype
    assert out.source.dtype == dtype
    expected = EditProgram(edits=[Offset(axis="yaw", value=10.0), Freeze.still_head()]).apply(TRACK, SPACE)
    # float32 arithmetic: projections onto an orthonormal basis computed in float32 (the basis' own rounding gathered
    # over D, then D and M terms) and a frame average for the freeze; bfloat16 adds a rounding of every input and
    # of every output, which an orthonormal projection passes on at the size of one (its columns have unit norm)
    size = float(expected.latents.abs().max())
    depth = SPACE.dim * SPACE.rank + SPACE.dim + SPACE.rank + FRAMES
    tolerance = rounding_tolerance(torch.float32, depth, size)
    if dtype != torch.float32:
        tolerance += rounding_tolerance(dtype, 2, size)
    torch.testing.assert_close(out.latents.double(), expected.latents, rtol=0, atol=tolerance)


@pytest.mark.gpu
def test_program_on_cuda_matches_cpu() -> None:
    program = EditProgram(edits=[Oscillate.nod(), Smooth(), Mix(reference="driver", axes="mouth"), Retarget()])
    track = TRACK.to(device="cuda")
    refs = {k: v.to(device="cuda") for k, v in REFS.items()}
    out = program.apply(track, SPACE, references=refs)
    assert out.latents.device.type == "cuda"
    torch.testing.assert_close(out.latents.cpu(), program.apply(TRACK, SPACE, references=REFS).latents)


# -- a track that is part of a longer stream (live sessions) -----------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        Offset(axis="yaw", value=4.0, start=1.0, end=2.0, fade_in=0.4, fade_out=0.2),
        Oscillate.nod(amplitude=5.0, start=0.3),
        Keyframes.turn(10.0, start=0.5, duration=1.0),
        Freeze.still_head(start=1.2),
        Mix(reference=DRIVER, axes=("yaw",), start=0.6),
    ],
    ids=lambda edit: edit.kind,
)
def test_an_excerpt_is_edited_at_its_place_in_the_stream(edit: object) -> None:
    """Edits that act frame by frame give an excerpt ``[f, f + n)`` applied with ``first_frame=f`` exactly the
    frames of the whole track's edit (times, windows and references are the stream's)."""
    program = EditProgram(edits=(edit,))
    whole = program.apply(TRACK, SPACE, references=REFS).latents
    for first, frames in ((0, 7), (13, 9), (FRAMES - 5, 5)):
        excerpt = MotionTrack(TRACK.latents[:, first : first + frames], fps=FPS, source=TRACK.source)
        edited = program.apply(excerpt, SPACE, references=REFS, first_frame=first, total_duration=FRAMES / FPS)
        torch.testing.assert_close(edited.latents, whole[:, first : first + frames], rtol=0, atol=1e-12)


def test_an_open_ended_edit_lasts_while_the_stream_runs() -> None:
    """``total_duration=inf`` (a live session): an edit without end never fades out."""
    program = EditProgram(edits=(Offset(axis="yaw", value=1.0, fade_out=1.0),))
    live = program.apply(TRACK, SPACE, first_frame=100, total_duration=math.inf)
    change = reading(live, SPACE, "yaw") - reading(TRACK, SPACE, "yaw")
    torch.testing.assert_close(change, torch.ones_like(change), rtol=0, atol=1e-10)
    with pytest.raises(EditError, match="first_frame must be a non-negative integer"):
        program.apply(TRACK, SPACE, first_frame=-1)
