"""FlowSampler.live: sliding windows with a bounded lookahead (motionkit.flow.live)."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from motionkit.errors import ConfigError, ShapeError
from motionkit.flow.live import LiveMotion
from motionkit.flow.windows import pad_to_window
from motionkit.types import Conditions


def _run(session: LiveMotion, chunks: list[Conditions]) -> tuple[torch.Tensor, list[int]]:
    """Push every chunk, finish; the concatenated motion and the frames emitted after each call."""
    parts, counts = [], []
    for chunk in chunks:
        out = session.push(chunk)
        parts += out
        counts.append(sum(p.shape[1] for p in out))
    tail = session.finish()
    parts += tail
    counts.append(sum(p.shape[1] for p in tail))
    return torch.cat(parts, dim=1), counts


def _cut(conditions: Conditions, cuts: list[int]) -> list[Conditions]:
    bounds = sorted({0, conditions.frames, *(c for c in cuts if 0 < c < conditions.frames)})
    return [conditions.slice(a, b) for a, b in itertools.pairwise(bounds)]


@given(frames=st.integers(1, 40), cuts=st.lists(st.integers(1, 39), max_size=5))
@settings(max_examples=25, deadline=None)
def test_whole_window_chunks_without_lookahead_equal_offline_sampling(
    tiny_sampler, tiny_config, make_conditions, frames, cuts
):
    conditions = make_conditions(tiny_config, frames, seed=frames)
    source = torch.randn(1, tiny_config.motion_dim, generator=torch.Generator().manual_seed(frames))
    offline = tiny_sampler.sample(conditions, source, seed=5, nfe=4).latents
    session = tiny_sampler.live(source, chunk_frames=tiny_config.window, lookahead_frames=0, seed=5, nfe=4)
    live, _ = _run(session, _cut(conditions, cuts))
    assert torch.equal(live, offline)


@given(
    chunk=st.integers(1, 6),
    lookahead=st.integers(0, 4),
    cuts=st.lists(st.integers(1, 29), max_size=6),
)
@settings(max_examples=25, deadline=None)
def test_output_does_not_depend_on_how_conditions_are_pushed(
    tiny_sampler, tiny_config, make_conditions, chunk, lookahead, cuts
):
    conditions = make_conditions(tiny_config, 30, seed=2)
    source = torch.randn(1, tiny_config.motion_dim)
    options = {"chunk_frames": chunk, "lookahead_frames": lookahead, "seed": 3, "nfe": 3}
    whole, _ = _run(tiny_sampler.live(source, **options), [conditions])
    pieces, _ = _run(tiny_sampler.live(source, **options), _cut(conditions, cuts))
    assert whole.shape == (1, 30, tiny_config.motion_dim)
    assert torch.equal(pieces, whole)


def test_frames_are_emitted_once_their_lookahead_has_arrived(tiny_sampler, tiny_config, make_conditions):
    chunk, lookahead = 3, 2
    conditions = make_conditions(tiny_config, 17)
    session = tiny_sampler.live(torch.zeros(1, tiny_config.motion_dim), chunk_frames=chunk, lookahead_frames=lookahead)
    _, counts = _run(session, [conditions.slice(t, t + 1) for t in range(17)])
    # After frame t has arrived, the chunks whose window [e, e + c + A) lies within frames 0 .. t are out.
    expected_total = [max(0, (t + 1 - lookahead) // chunk * chunk) for t in range(17)]
    assert list(itertools.accumulate(counts[:-1])) == expected_total
    assert sum(counts) == 17
    assert session.windows == -(-17 // chunk)


def test_each_chunk_is_the_start_of_a_window_after_the_emitted_context(tiny_sampler, tiny_config, make_conditions):
    """Written out: window k starts at frame kc, sees c + A real frames padded to L, the last L' emitted frames."""
    c, A, L, Lc = 4, 3, tiny_config.window, tiny_config.context
    conditions = make_conditions(tiny_config, 13, seed=4)
    source = torch.randn(1, tiny_config.motion_dim)
    live, _ = _run(tiny_sampler.live(source, chunk_frames=c, lookahead_frames=A, seed=9, nfe=3), [conditions])
    one_window = tiny_sampler.live(source, chunk_frames=L, lookahead_frames=0, seed=9, nfe=3)
    # The second chunk (frames 4..7): context = frames 0..3 (zeros before them), audio 4..10 padded.
    context = one_window.context
    context.advance(live[:, :c], conditions.audio[:, :c], conditions.emotion[:, :c])
    wa = pad_to_window(conditions.audio[:, c : 2 * c + A], L)
    we = pad_to_window(conditions.emotion[:, c : 2 * c + A], L)
    with torch.no_grad():
        window = one_window.sampler.sample(context, wa, we, first_frame=c)
    assert context.prev_x.shape[1] == Lc
    torch.testing.assert_close(live[:, c : 2 * c], window[:, :c], rtol=0, atol=0)


def test_sessions_are_deterministic_and_seeded(tiny_sampler, tiny_config, make_conditions):
    conditions = make_conditions(tiny_config, 12)
    source = torch.zeros(1, tiny_config.motion_dim)
    runs = [
        _run(tiny_sampler.live(source, chunk_frames=2, lookahead_frames=1, seed=s), [conditions])[0] for s in (1, 1, 2)
    ]
    assert torch.equal(runs[0], runs[1])
    assert not torch.allclose(runs[0], runs[2])


@pytest.mark.parametrize(
    ("chunk", "lookahead", "message"),
    [
        (0, 0, "chunk_frames must be an integer >= 1"),
        (2, -1, "lookahead_frames must be an integer >= 0"),
        (2.0, 0, "chunk_frames must be an integer"),
        (20, 20, "exceeds the window of 10 frames"),
    ],
)
def test_bad_sizes_are_refused(tiny_sampler, tiny_config, chunk, lookahead, message):
    with pytest.raises(ConfigError, match=message):
        tiny_sampler.live(torch.zeros(1, tiny_config.motion_dim), chunk_frames=chunk, lookahead_frames=lookahead)


def test_bad_conditions_are_refused(tiny_sampler, tiny_config, make_conditions):
    session = tiny_sampler.live(torch.zeros(1, tiny_config.motion_dim), chunk_frames=2, lookahead_frames=1)
    wrong = Conditions(torch.zeros(1, 3, tiny_config.audio_dim + 1), torch.full((1, 3, 7), 1 / 7))
    with pytest.raises(ShapeError, match="audio"):
        session.push(wrong)
    session.push(make_conditions(tiny_config, 2))
    with pytest.raises(ShapeError, match="one frame rate"):
        session.push(Conditions(torch.zeros(1, 1, tiny_config.audio_dim), torch.full((1, 1, 7), 1 / 7), fps=30.0))


def test_partial_windows_sample_the_first_positions_of_a_window(tiny_sampler, tiny_config, make_conditions):
    """window_frames W < L: each chunk comes from a window of L' + W tokens (the first positions of the table)."""
    c, A, W = 2, 1, 5
    conditions = make_conditions(tiny_config, 7, seed=6)
    source = torch.randn(1, tiny_config.motion_dim)
    options = {"chunk_frames": c, "lookahead_frames": A, "seed": 2, "nfe": 3}
    partial, _ = _run(tiny_sampler.live(source, window_frames=W, **options), [conditions])
    whole, _ = _run(tiny_sampler.live(source, **options), [conditions])
    assert partial.shape == whole.shape
    assert not torch.allclose(partial, whole)  # the padded frames past the lookahead still count a little
    reference = tiny_sampler.live(source, chunk_frames=W, lookahead_frames=0, window_frames=W, seed=2, nfe=3)
    with torch.no_grad():
        first = reference.sampler.sample(
            reference.context,
            pad_to_window(conditions.audio[:, : c + A], W),
            pad_to_window(conditions.emotion[:, : c + A], W),
            first_frame=0,
        )
    assert first.shape == (1, W, tiny_config.motion_dim)
    torch.testing.assert_close(partial[:, :c], first[:, :c], rtol=0, atol=0)
    with pytest.raises(ConfigError, match="window_frames"):
        tiny_sampler.live(source, window_frames=tiny_config.window + 1, chunk_frames=1, lookahead_frames=0)
    with pytest.raises(ConfigError, match="exceeds the window of 2"):
        tiny_sampler.live(source, window_frames=2, chunk_frames=2, lookahead_frames=1)


def test_a_new_emotion_for_the_pending_frames_shapes_the_next_chunk(tiny_sampler, tiny_config, make_conditions):
    """Replacing the pending frames' emotion is the same as having received them with it: a session whose
    emotion changes at the first frame not yet sampled equals one given that emotion from there on (without
    lookahead, so that no window before the change saw a frame after it)."""
    conditions = make_conditions(tiny_config, 24, seed=6)
    other = make_conditions(tiny_config, 24, seed=7).emotion
    source = torch.randn(1, tiny_config.motion_dim)
    options = {"chunk_frames": 4, "lookahead_frames": 0, "seed": 1, "nfe": 3}
    session = tiny_sampler.live(source, **options)
    first = session.push(conditions.slice(0, 10))
    out = session.frames_out
    assert (out, session.pending_frames) == (8, 2)
    session.replace_pending_emotion(other[:, out:10])
    changed, _ = _run(session, [Conditions(conditions.audio[:, 10:], other[:, 10:], conditions.fps)])
    mixed = torch.cat([conditions.emotion[:, :out], other[:, out:]], dim=1)
    reference, _ = _run(tiny_sampler.live(source, **options), [Conditions(conditions.audio, mixed, conditions.fps)])
    assert torch.equal(torch.cat([*first, changed], dim=1), reference)
    with pytest.raises(ShapeError, match="pending frames' emotion"):
        session.replace_pending_emotion(other[:, :3])
