"""Initial noise: counter-based seeded noise per (seed, frame, row), explicit noise, FLOAT's fixed noise."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.errors import ConfigError, ShapeError
from motionkit.flow import ExplicitNoise, SeededNoise, float_fixed_noise, frame_noise


@given(start=st.integers(0, 40), count=st.integers(1, 8))
def test_frame_noise_depends_only_on_seed_and_frame(start, count):
    whole = frame_noise(7, range(50), batch=1, dim=16)
    part = frame_noise(7, range(start, start + count), batch=1, dim=16)
    assert torch.equal(part, whole[:, start : start + count])


def test_rows_and_seeds():
    two = frame_noise(3, range(4), batch=2, dim=32)
    one = frame_noise(3, range(4), batch=1, dim=32)
    assert torch.equal(two[:1], one)
    assert not torch.allclose(two[0], two[1])
    assert not torch.allclose(frame_noise(4, range(4), batch=1, dim=32), one)
    assert torch.equal(frame_noise(3, range(4), batch=1, dim=32), one)


def test_frames_differ_and_are_standard_normal():
    noise = frame_noise(0, range(200), batch=1, dim=512)
    assert noise.dtype == torch.float32
    assert abs(noise.mean().item()) < 0.01
    assert abs(noise.std().item() - 1) < 0.01
    flat = noise[0]
    correlation = torch.corrcoef(flat[:50])
    off_diagonal = correlation - torch.eye(50)
    assert off_diagonal.abs().max() < 0.25


def test_dtype_and_device():
    noise = frame_noise(1, [5], batch=1, dim=8, dtype=torch.float64, device="cpu")
    assert noise.dtype == torch.float64
    assert torch.equal(noise.float(), frame_noise(1, [5], batch=1, dim=8))


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_bad_seed(seed):
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        SeededNoise(seed)


def test_seeded_source_windows():
    source = SeededNoise(9)
    like = torch.zeros(1)
    window = source.window(2, 20, (2, 10, 8), like)
    assert torch.equal(window, frame_noise(9, range(20, 30), batch=2, dim=8))


def test_float_fixed_noise_is_one_seeded_randn():
    expected = torch.randn((1, 50, 512), generator=torch.Generator().manual_seed(15))
    assert torch.equal(float_fixed_noise(15, 1, 50, 512), expected)


def test_explicit_noise_forms():
    like = torch.zeros(1, dtype=torch.float64)
    stacked = torch.randn(3, 1, 4, 2)
    source = ExplicitNoise(stacked, windows=3)
    for k in range(3):
        got = source.window(k, 4 * k, (1, 4, 2), like)
        assert got.dtype == torch.float64
        assert torch.equal(got.float(), stacked[k])
    listed = ExplicitNoise(list(stacked), windows=3)
    assert torch.equal(listed.window(1, 4, (1, 4, 2), like), source.window(1, 4, (1, 4, 2), like))
    repeated = ExplicitNoise(stacked[0])
    assert all(torch.equal(repeated.window(k, 4 * k, (1, 4, 2), like).float(), stacked[0]) for k in range(5))


def test_explicit_noise_errors():
    with pytest.raises(ShapeError, match="noise has 2 windows but the clip needs 3"):
        ExplicitNoise(torch.zeros(2, 1, 4, 2), windows=3)
    source = ExplicitNoise([torch.zeros(1, 4, 2)])
    with pytest.raises(ShapeError, match="window 1 is needed"):
        source.window(1, 4, (1, 4, 2), torch.zeros(1))
    with pytest.raises(ShapeError, match=r"noise for window 0 must have shape \(1, 5, 2\)"):
        source.window(0, 0, (1, 5, 2), torch.zeros(1))
    with pytest.raises(ShapeError, match="noise must have 3 or 4 dimensions"):
        ExplicitNoise(torch.zeros(4, 2))
