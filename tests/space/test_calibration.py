"""fit_axes: least-squares calibration recovers planted axes and rejects degenerate data."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.errors import EditError, NonFiniteError, ShapeError
from motionkit.space import Axis, MotionSpace


def _planted(seed: int, samples: int = 120, rank: int = 6, dim: int = 24, noise: float = 0.0):
    generator = torch.Generator().manual_seed(seed)
    space = MotionSpace.random(dim=dim, rank=rank, seed=seed, dtype=torch.float64)
    latents = torch.randn(samples, dim, generator=generator, dtype=torch.float64)
    coefficients = space.project(latents)
    slopes = {name: torch.randn(rank, generator=generator, dtype=torch.float64) * 20 for name in ("yaw", "mouth")}
    intercepts = {"yaw": 3.0, "mouth": -0.25}
    measurements = {
        name: coefficients @ slopes[name]
        + intercepts[name]
        + noise * torch.randn(samples, generator=generator, dtype=torch.float64)
        for name in slopes
    }
    return space, latents, measurements, slopes, intercepts


@given(seed=st.integers(0, 10_000))
def test_fit_axes_recovers_planted_axes_exactly(seed: int) -> None:
    space, latents, measurements, slopes, intercepts = _planted(seed)
    calibrated, report = space.fit_axes(latents, measurements, units={"yaw": "deg", "mouth": "ratio"})
    assert list(calibrated.axes) == ["yaw", "mouth"]
    for name, slope in slopes.items():
        axis = calibrated.axis(name)
        torch.testing.assert_close(axis.vector(), slope / slope.norm(), rtol=0, atol=1e-9)
        assert axis.scale == pytest.approx(1.0 / float(slope.norm()), rel=1e-9)
        assert axis.offset == pytest.approx(intercepts[name], abs=1e-9)
        assert report[name].r2 == pytest.approx(1.0, abs=1e-12)
        assert report[name].rmse == pytest.approx(0.0, abs=1e-9)
        assert report[name].samples == 120
    assert calibrated.axis("yaw").unit == "deg"
    assert report["mouth"].unit == "ratio"
    # the reading of the calibrated axis is the measurement
    torch.testing.assert_close(calibrated.axis("yaw").read(space.project(latents)), measurements["yaw"])


def test_fit_axes_with_noise_and_batched_frames() -> None:
    space, latents, measurements, slopes, _ = _planted(5, samples=600, noise=0.5)
    batched = latents.reshape(3, 200, -1)
    calibrated, report = space.fit_axes(batched, {k: v.reshape(3, 200) for k, v in measurements.items()})
    for name, slope in slopes.items():
        cosine = float(calibrated.axis(name).vector() @ slope / slope.norm())
        assert cosine > 0.999
        assert 0.99 < report[name].r2 < 1.0
        assert report[name].rmse == pytest.approx(0.5, rel=0.15)
        assert report[name].unit == "value"
    assert "R^2 = 0.99" in str(report["yaw"])


def test_fit_axes_on_unrelated_measurement_reports_low_r2() -> None:
    space, latents, _, _, _ = _planted(2, samples=400)
    unrelated = torch.randn(400, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    _, report = space.fit_axes(latents, {"blink": unrelated})
    assert report["blink"].r2 < 0.1


def test_fit_axes_keeps_other_named_axes_and_replaces_same_names() -> None:
    space, latents, measurements, _, _ = _planted(3)
    named = space.with_axes([Axis.basis(0, 6, name="yaw"), Axis.basis(1, 6, name="roll")])
    calibrated, _ = named.fit_axes(latents, {"yaw": measurements["yaw"]})
    assert list(calibrated.axes) == ["roll", "yaw"]
    assert calibrated.axis("roll") == named.axis("roll")
    assert calibrated.axis("yaw") != named.axis("yaw")


def test_fit_axes_works_in_float32() -> None:
    space, latents, measurements, slopes, _ = _planted(4)
    calibrated, report = space.to(dtype=torch.float32).fit_axes(latents.float(), {"yaw": measurements["yaw"].float()})
    assert float(calibrated.axis("yaw").vector() @ slopes["yaw"] / slopes["yaw"].norm()) > 1 - 1e-6
    assert report["yaw"].r2 > 1 - 1e-9


def test_degenerate_fits_raise_clear_errors() -> None:
    space, latents, measurements, _, _ = _planted(6)
    yaw = measurements["yaw"]
    with pytest.raises(EditError, match=r"at least M \+ 2 = 8 samples.*got 7"):
        space.fit_axes(latents[:7], {"yaw": yaw[:7]})
    with pytest.raises(EditError, match="'yaw' is constant"):
        space.fit_axes(latents, {"yaw": torch.full_like(yaw, 4.0)})
    with pytest.raises(NonFiniteError, match="NaN or infinite"):
        space.fit_axes(latents, {"yaw": torch.where(torch.arange(120) == 3, math.nan, yaw)})
    with pytest.raises(NonFiniteError):
        space.fit_axes(torch.where(torch.arange(24) == 3, math.inf, latents), {"yaw": yaw})
    flat = space.compose(torch.randn(120, 2, dtype=torch.float64) @ torch.eye(2, 6, dtype=torch.float64))
    with pytest.raises(EditError, match="only 2 of the 6 basis directions"):
        space.fit_axes(flat, {"yaw": yaw})
    with pytest.raises(ShapeError, match=r"has shape \(119,\).*leading shape \(120,\)"):
        space.fit_axes(latents, {"yaw": yaw[:-1]})
    with pytest.raises(ShapeError, match="last dimension 24"):
        space.fit_axes(latents[:, :-1], {"yaw": yaw})
    with pytest.raises(ShapeError, match=r"\(N, 24\) or \(B, T, 24\)"):
        space.fit_axes(latents[0], {"yaw": yaw[0]})
    with pytest.raises(EditError, match="at least one measurement"):
        space.fit_axes(latents, {})
    with pytest.raises(EditError, match="reserved for a basis direction"):
        space.fit_axes(latents, {"d1": yaw})
    with pytest.raises(EditError, match=r"units given for \['pitch'\]"):
        space.fit_axes(latents, {"yaw": yaw}, units={"pitch": "deg"})
    with pytest.raises(EditError, match="name: String should match pattern"):
        space.fit_axes(latents, {"head yaw": yaw})


def test_fit_axes_does_not_modify_inputs() -> None:
    space, latents, measurements, _, _ = _planted(7)
    before = latents.clone(), measurements["yaw"].clone()
    space.fit_axes(latents, measurements)
    assert torch.equal(latents, before[0])
    assert torch.equal(measurements["yaw"], before[1])


@given(seed=st.integers(0, 10_000))
def test_inverse_fit_follows_how_noisy_readings_move(seed: int) -> None:
    """Coefficients that read a quantity with noise: c = g y + noise (the noise correlated across coefficients).
    The inverse fit recovers the direction and length of g; least squares leans on the noise and does not; both
    are consistent (moving x * scale * u changes the reading by x)."""
    generator = torch.Generator().manual_seed(seed)
    rank, dim, samples = 6, 24, 4000
    space = MotionSpace.random(dim=dim, rank=rank, seed=seed, dtype=torch.float64)
    yaw = torch.rand(samples, generator=generator, dtype=torch.float64) * 50 - 25
    movement = torch.zeros(rank, dtype=torch.float64)
    movement[0] = 1 / 25  # one coefficient reads the quantity, as a supervised renderer's does
    mixing = torch.randn(rank, rank, generator=generator, dtype=torch.float64) * 0.1
    noise = torch.randn(samples, rank, generator=generator, dtype=torch.float64) @ mixing
    coefficients = yaw[:, None] * movement + noise
    latents = coefficients @ space.basis.T
    inverse, _ = space.fit_axes(latents, {"yaw": yaw}, method="inverse")
    regression, _ = space.fit_axes(latents, {"yaw": yaw})
    axis = inverse.axis("yaw")
    assert float(axis.vector() @ movement / movement.norm()) > 0.99
    assert axis.scale == pytest.approx(float(movement.norm()), rel=0.05)
    assert float(regression.axis("yaw").vector() @ movement / movement.norm()) < float(axis.vector()[0])
    for calibrated in (inverse, regression):
        fitted = calibrated.axis("yaw")
        base = coefficients[:5]
        moved = base + 7.0 * fitted.scale * fitted.vector()
        torch.testing.assert_close(fitted.read(moved) - fitted.read(base), torch.full((5,), 7.0, dtype=torch.float64))


def test_unknown_fit_method_is_refused() -> None:
    space, latents, measurements, _, _ = _planted(0)
    with pytest.raises(EditError, match="unknown fit method 'ridge'"):
        space.fit_axes(latents, measurements, method="ridge")  # type: ignore[arg-type]
