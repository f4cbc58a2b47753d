"""FlowSampler.sample / stream: FLOAT's windowed loop, seeded noise, chunking invariance, stats, errors."""

from __future__ import annotations

import doctest
import itertools
import math

import pydantic
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from motionkit.config import GuidanceConfig
from motionkit.errors import ConfigError, NonFiniteError, ShapeError
from motionkit.flow import FlowSampler, SeededNoise, VectorFieldInputs, float_fixed_noise, sampler
from motionkit.flow.solvers import SOLVERS
from motionkit.testing.tolerances import assert_rounding_close
from motionkit.types import Conditions, MotionTrack


def float_reference_loop(model, audio, emotion, source, noise, nfe=10, audio_scale=2.0, emotion_scale=1.0):
    """FLOAT.sample written out as the spec describes it (section 10.4), with a clip-level emotion (B, 1, E)."""
    cfg = model.config
    L, Lc = cfg.window, cfg.context
    B, T, _ = audio.shape
    grid = torch.linspace(0, 1, nfe)
    prev_x = torch.zeros(B, Lc, cfg.motion_dim)
    prev_wa = torch.zeros(B, Lc, cfg.audio_dim)
    windows = []
    for k in range(math.ceil(T / L)):
        wa = audio[:, k * L : (k + 1) * L]
        if wa.shape[1] < L:
            wa = torch.cat([wa, wa[:, -1:].repeat(1, L - wa.shape[1], 1)], dim=1)
        x = noise[k]
        for i in range(nfe - 1):
            out = model(
                x.repeat(3, 1, 1),
                grid[i],
                VectorFieldInputs(
                    wa=torch.cat([torch.zeros_like(wa), wa, wa]),
                    wr=source.repeat(3, 1),
                    we=torch.cat([torch.zeros_like(emotion), emotion, torch.zeros_like(emotion)]),
                    prev_x=prev_x.repeat(3, 1, 1),
                    prev_wa=prev_wa.repeat(3, 1, 1),
                ),
            )
            v_u, v_ae, v_a = out.chunk(3)
            v = v_u + audio_scale * (v_a - v_u) + emotion_scale * (v_ae - v_a)
            x = x + (grid[i + 1] - grid[i]) * v[:, Lc:]
        windows.append(x)
        prev_x = x[:, -Lc:]
        prev_wa = wa[:, -Lc:]
    return torch.cat(windows, dim=1)[:, :T]


def _noise(config, frames, batch=1, seed=0):
    windows = math.ceil(frames / config.window)
    g = torch.Generator().manual_seed(seed)
    return torch.randn(windows, batch, config.window, config.motion_dim, generator=g)


@pytest.mark.parametrize("frames", [1, 10, 14, 23, 30])
def test_matches_floats_loop(tiny_sampler, tiny_config, make_conditions, sample_depth, frames):
    conditions = make_conditions(tiny_config, frames)
    emotion = conditions.emotion[:, :1]
    constant = Conditions(conditions.audio, emotion.expand(1, frames, -1))
    source = torch.randn(1, tiny_config.motion_dim, generator=torch.Generator().manual_seed(5))
    noise = _noise(tiny_config, frames)
    track = tiny_sampler.sample(constant, source, noise=noise)
    with torch.no_grad():
        expected = float_reference_loop(tiny_sampler, conditions.audio, emotion, source, noise)
    assert_rounding_close(track.latents, expected, depth=sample_depth())  # batched windows vs FLOAT's one at a time
    assert isinstance(track, MotionTrack)
    assert track.frames == frames
    assert torch.equal(track.source, source)
    assert track.fps == conditions.fps
    stats = tiny_sampler.last_stats
    assert stats.windows == math.ceil(frames / tiny_config.window)
    assert stats.model_calls == 9 * stats.windows
    assert stats.rows_per_call == 3
    assert stats.seed is None


@given(
    frames=st.integers(1, 36),
    cuts=st.lists(st.integers(1, 35), max_size=6),
)
def test_stream_equals_sample_for_any_chunking(tiny_sampler, tiny_config, make_conditions, frames, cuts):
    conditions = make_conditions(tiny_config, frames, seed=frames)
    source = torch.randn(1, tiny_config.motion_dim)
    bounds = sorted({0, frames, *(c for c in cuts if c < frames)})
    chunks = [conditions.slice(a, b) for a, b in itertools.pairwise(bounds)]
    whole = tiny_sampler.sample(conditions, source, seed=11, nfe=4)
    parts = list(tiny_sampler.stream(chunks, source, seed=11, nfe=4))
    assert torch.equal(torch.cat([p.latents for p in parts], dim=1), whole.latents)
    L = tiny_config.window
    assert [p.frames for p in parts] == [L] * (frames // L) + ([frames % L] if frames % L else [])
    assert tiny_sampler.last_stats.frames == frames


def test_seed_gives_same_motion_and_prefix_consistency(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 25)
    source = torch.randn(1, tiny_config.motion_dim)
    first = tiny_sampler.sample(conditions, source, seed=3).latents
    assert torch.equal(tiny_sampler.sample(conditions, source, seed=3).latents, first)
    assert not torch.allclose(tiny_sampler.sample(conditions, source, seed=4).latents, first)
    # A window depends only on its own frames and the ones before it: a longer clip keeps the full windows.
    longer = tiny_sampler.sample(
        Conditions.concat([conditions, make_conditions(tiny_config, 9, seed=8)]), source, seed=3
    )
    assert torch.equal(longer.latents[:, :20], first[:, :20])


def test_seeded_noise_is_per_frame(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 20)
    source = torch.randn(1, tiny_config.motion_dim)
    noise = [SeededNoise(6).window(k, 10 * k, (1, 10, tiny_config.motion_dim), source) for k in range(2)]
    assert torch.equal(
        tiny_sampler.sample(conditions, source, seed=6).latents,
        tiny_sampler.sample(conditions, source, noise=noise).latents,
    )


def test_default_seed_comes_from_torch_and_is_reported(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 12)
    source = torch.randn(1, tiny_config.motion_dim)
    torch.manual_seed(123)
    first = tiny_sampler.sample(conditions, source).latents
    seed = tiny_sampler.last_stats.seed
    torch.manual_seed(123)
    assert torch.equal(tiny_sampler.sample(conditions, source).latents, first)
    assert torch.equal(tiny_sampler.sample(conditions, source, seed=seed).latents, first)


def test_fixed_noise_reused_for_every_window(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 27)
    source = torch.randn(1, tiny_config.motion_dim)
    fixed = float_fixed_noise(15, 1, tiny_config.window, tiny_config.motion_dim)
    reused = tiny_sampler.sample(conditions, source, noise=fixed).latents
    assert torch.equal(tiny_sampler.sample(conditions, source, noise=[fixed] * 3).latents, reused)


def test_per_frame_emotion_only_affects_its_window_onwards(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 30)
    source = torch.randn(1, tiny_config.motion_dim)
    base = tiny_sampler.sample(conditions, source, seed=1).latents
    emotion = conditions.emotion.clone()
    emotion[:, 25] = torch.eye(7)[3]
    changed = tiny_sampler.sample(Conditions(conditions.audio, emotion), source, seed=1).latents
    assert torch.equal(changed[:, :20], base[:, :20])
    assert not torch.allclose(changed[:, 20:], base[:, 20:])


def test_batch_rows_are_independent(tiny_sampler, tiny_config, make_conditions, sample_depth):
    conditions = make_conditions(tiny_config, 13, batch=2)
    source = torch.randn(2, tiny_config.motion_dim)
    noise = _noise(tiny_config, 13, batch=2)
    both = tiny_sampler.sample(conditions, source, noise=noise).latents
    for b in range(2):
        single = tiny_sampler.sample(conditions_row(conditions, b), source[b : b + 1], noise=noise[:, b : b + 1])
        assert_rounding_close(single.latents, both[b : b + 1], depth=sample_depth())  # other GEMM blockings
    assert tiny_sampler.last_stats.rows_per_call == 3


def conditions_row(conditions: Conditions, b: int) -> Conditions:
    return Conditions(conditions.audio[b : b + 1], conditions.emotion[b : b + 1], conditions.fps)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_solvers_and_counts(tiny_sampler, tiny_config, make_conditions, solver):
    conditions = make_conditions(tiny_config, 15)
    source = torch.randn(1, tiny_config.motion_dim)
    track = tiny_sampler.sample(conditions, source, seed=0, nfe=5, solver=solver)
    assert torch.isfinite(track.latents).all()
    stats = tiny_sampler.last_stats
    assert stats.solver == solver
    assert stats.time_grid_points == 5
    assert stats.model_calls == 2 * 4 * SOLVERS[solver].evaluations_per_step


def test_guidance_scales_per_call(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 10)
    source = torch.randn(1, tiny_config.motion_dim)
    plain = tiny_sampler.sample(conditions, source, seed=0, guidance=GuidanceConfig(audio_scale=1, emotion_scale=1))
    assert tiny_sampler.last_stats.rows_per_call == 1
    assert tiny_sampler.last_stats.model_calls == 9
    guided = tiny_sampler.sample(conditions, source, seed=0)
    assert tiny_sampler.last_stats.rows_per_call == 3
    assert not torch.allclose(plain.latents, guided.latents)


def test_custom_time_grid(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 12)
    source = torch.randn(1, tiny_config.motion_dim)
    by_nfe = tiny_sampler.sample(conditions, source, seed=2, nfe=6).latents
    by_grid = tiny_sampler.sample(conditions, source, seed=2, time_grid=torch.linspace(0, 1, 6)).latents
    assert torch.equal(by_nfe, by_grid)
    skewed = tiny_sampler.sample(conditions, source, seed=2, time_grid=torch.tensor([0.0, 0.5, 0.8, 0.95, 1.0]))
    assert tiny_sampler.last_stats.model_calls == 2 * 4
    assert not torch.allclose(skewed.latents, by_nfe)


def test_inputs_untouched_and_no_graph(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 12)
    source = torch.randn(1, tiny_config.motion_dim, requires_grad=True)
    noise = _noise(tiny_config, 12)
    copies = (conditions.audio.clone(), conditions.emotion.clone(), source.detach().clone(), noise.clone())
    track = tiny_sampler.sample(conditions, source, noise=noise)
    assert not track.latents.requires_grad
    for original, copy in zip((conditions.audio, conditions.emotion, source, noise), copies):
        assert torch.equal(original, copy)


def test_stream_does_not_leak_no_grad(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 25)
    stream = tiny_sampler.stream([conditions.slice(0, 12), conditions.slice(12)], torch.randn(1, 32), seed=0)
    next(stream)
    assert torch.is_grad_enabled()
    rest = list(stream)
    assert len(rest) == 2
    stats = tiny_sampler.last_stats
    assert stats.frames == 25
    assert stats.windows == 3
    assert 0 < stats.first_window_seconds <= stats.seconds


def test_docstring_example():
    result = doctest.testmod(sampler)
    assert result.attempted > 0
    assert result.failed == 0


def test_errors(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 12)
    source = torch.randn(1, tiny_config.motion_dim)
    with pytest.raises(ConfigError, match="either nfe"):
        tiny_sampler.sample(conditions, source, nfe=5, time_grid=torch.linspace(0, 1, 5))
    with pytest.raises(ConfigError, match="either seed or noise"):
        tiny_sampler.sample(conditions, source, seed=1, noise=_noise(tiny_config, 12))
    with pytest.raises(ShapeError, match="noise has 1 windows but the clip needs 2"):
        tiny_sampler.sample(conditions, source, noise=_noise(tiny_config, 5))
    with pytest.raises(ShapeError, match=r"source_motion must have last dimension 32"):
        tiny_sampler.sample(conditions, torch.randn(1, 16))
    with pytest.raises(NonFiniteError, match="source_motion contains NaN"):
        tiny_sampler.sample(conditions, torch.full((1, 32), float("nan")))
    with pytest.raises(ShapeError, match="conditions have batch 1 but source_motion has batch 2"):
        tiny_sampler.sample(conditions, torch.randn(2, 32))
    with pytest.raises(ShapeError, match=r"audio \(B, T, 32\) and emotion \(B, T, 7\)"):
        tiny_sampler.sample(Conditions(torch.randn(1, 5, 16), torch.rand(1, 5, 7)), source)
    with pytest.raises(ConfigError, match="unknown solver"):
        tiny_sampler.sample(conditions, source, solver="dopri5")
    with pytest.raises(ConfigError, match="GuidanceConfig"):
        tiny_sampler.sample(conditions, source, guidance=(2.0, 1.0))
    with pytest.raises(ShapeError, match=r"must be a motionkit\.Conditions"):
        tiny_sampler.sample(conditions.audio, source)
    with pytest.raises(ShapeError, match="conditions have no frames"):
        tiny_sampler.sample(conditions.slice(0, 0), source, noise=_noise(tiny_config, 12))
    with pytest.raises(pydantic.ValidationError, match="finite number"):
        GuidanceConfig(audio_scale=float("nan"))
    with pytest.raises(ShapeError, match="no condition frames"):
        list(tiny_sampler.stream([], source, seed=0))
    with pytest.raises(ShapeError, match="share one frame rate"):
        list(tiny_sampler.stream([conditions, Conditions(conditions.audio, conditions.emotion, fps=30.0)], source))


def test_new_sampler_defaults_and_zero_field(tiny_config, make_conditions):
    """An untrained sampler is the zero field: Euler leaves the initial noise unchanged."""
    fresh = FlowSampler(tiny_config)
    conditions = make_conditions(tiny_config, 10)
    noise = _noise(tiny_config, 10)
    assert torch.equal(fresh.sample(conditions, torch.zeros(1, 32), noise=noise).latents, noise[0])
    assert fresh.last_stats.model_calls == tiny_config.nfe - 1
