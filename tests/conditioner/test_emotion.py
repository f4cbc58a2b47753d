"""Emotion specifications: parsing, intensity semantics, mixtures, keyframes, sliding windows, broadcasting."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from motionkit.conditioner import (
    EmotionKeyframe,
    EmotionSpec,
    KeyframeEmotion,
    LabelEmotion,
    MixtureEmotion,
    PredictedEmotion,
    SlidingEmotion,
    parse_emotion,
)
from motionkit.conditioner.emotion import (
    broadcast_weights,
    onehot,
    piecewise_linear,
    sliding_prediction,
    static_weights,
    with_intensity,
)
from motionkit.errors import ConfigError, ShapeError
from motionkit.types import EMOTION_LABELS

NEUTRAL = onehot("neutral")


def test_shorthands() -> None:
    assert parse_emotion(None) is None
    assert parse_emotion("Happy") == LabelEmotion(label="happy")
    assert parse_emotion(("sad", 0.25)) == LabelEmotion(label="sad", intensity=0.25)
    assert parse_emotion("S2E") == PredictedEmotion()
    assert parse_emotion("predicted") == PredictedEmotion()
    assert parse_emotion({"kind": "mixture", "weights": {"happy": 1, "surprise": 1}}) == MixtureEmotion(
        weights={"happy": 1.0, "surprise": 1.0}
    )
    weights = torch.rand(7)
    assert parse_emotion(weights) is weights
    spec = SlidingEmotion(window_seconds=1.0)
    assert parse_emotion(spec) is spec


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("joyful", "invalid emotion 'joyful'.*Labels: angry, disgust"),
        (("happy", 1.5), "intensity"),
        ({"kind": "mixture", "weights": {"happy": -1.0}}, "non-negative"),
        ({"kind": "mixture", "weights": {}}, "positive sum"),
        ({"kind": "wobble"}, "invalid emotion"),
        (3, "unsupported emotion"),
    ],
)
def test_invalid_emotions(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_emotion(value)  # type: ignore[arg-type]


def test_keyframes_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        KeyframeEmotion(
            keyframes=(
                EmotionKeyframe(time=1.0, emotion=LabelEmotion(label="sad")),
                EmotionKeyframe(time=1.0, emotion=LabelEmotion(label="happy")),
            )
        )


def test_specifications_round_trip_through_json() -> None:
    spec = KeyframeEmotion(
        keyframes=(
            EmotionKeyframe(time=0.0, emotion=PredictedEmotion(intensity=0.5)),
            EmotionKeyframe(time=2.5, emotion=MixtureEmotion(weights={"fear": 2.0, "sad": 1.0})),
        )
    )
    adapter: TypeAdapter[EmotionSpec] = TypeAdapter(EmotionSpec)
    assert parse_emotion(json.loads(adapter.dump_json(spec))) == spec


@given(st.sampled_from(EMOTION_LABELS), st.floats(0.0, 1.0))
def test_intensity_blends_towards_neutral(label: str, intensity: float) -> None:
    weights = static_weights(LabelEmotion(label=label, intensity=intensity), batch=2)
    expected = intensity * onehot(label) + (1 - intensity) * NEUTRAL
    assert weights.shape == (2, 7)
    torch.testing.assert_close(weights, expected.expand(2, -1))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))
    assert bool((weights >= 0).all())


def test_intensity_extremes() -> None:
    assert torch.equal(static_weights(LabelEmotion(label="angry", intensity=0.0), 1)[0], NEUTRAL)
    assert torch.equal(static_weights(LabelEmotion(label="angry"), 1)[0], onehot("angry"))
    probs = torch.softmax(torch.randn(3, 7), -1)
    torch.testing.assert_close(with_intensity(probs, 0.5), 0.5 * probs + 0.5 * NEUTRAL)


def test_mixture_is_normalised() -> None:
    weights = static_weights(MixtureEmotion(weights={"happy": 3.0, "surprise": 1.0}, intensity=0.5), 1)[0]
    expected = 0.5 * (0.75 * onehot("happy") + 0.25 * onehot("surprise")) + 0.5 * NEUTRAL
    torch.testing.assert_close(weights, expected)


def test_piecewise_linear() -> None:
    values = torch.tensor([[[0.0, 10.0]], [[1.0, 20.0]], [[3.0, 20.0]]])  # (K=3, B=1, E=2)
    knots = torch.tensor([2.0, 4.0, 8.0])
    out = piecewise_linear(torch.arange(10), knots, values)
    assert out.shape == (1, 10, 2)
    assert out[0, :, 0].tolist() == pytest.approx([0, 0, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3])
    assert out[0, :, 1].tolist() == pytest.approx([10, 10, 10, 15, 20, 20, 20, 20, 20, 20])
    single = piecewise_linear(torch.arange(4), torch.tensor([1.0]), values[:1])
    assert torch.equal(single, values[0][:, None].expand(1, 4, 2))


def fake_predict(waveform: torch.Tensor) -> torch.Tensor:
    """A stand-in classifier whose output reveals the window it saw: softmax of the window's mean sample."""
    mean = waveform.mean(dim=1, keepdim=True)
    return torch.softmax(torch.cat([mean * k for k in range(7)], dim=1), dim=1)


def test_sliding_windows_are_interpolated_at_frame_centres() -> None:
    waveform = torch.linspace(0, 1, 8000)[None].repeat(2, 1)
    waveform[1] *= -1
    frames, spf, window, hop = 13, 640, 2000, 1000
    out = sliding_prediction(fake_predict, waveform, frames, spf, window, hop)
    assert out.shape == (2, frames, 7)
    starts = [0, 1000, 2000, 3000, 4000, 5000, 6000]  # the last window ends exactly at the clip's end
    centres = torch.tensor([s + window / 2 for s in starts])
    values = torch.stack([fake_predict(waveform[:, s : s + window]) for s in starts])
    expected = piecewise_linear((torch.arange(frames) + 0.5) * spf, centres, values)
    torch.testing.assert_close(out, expected)
    # Frame 0's centre (320) lies before the first window centre (1000): it takes the first window's label.
    torch.testing.assert_close(out[:, 0], values[0])


def test_sliding_adds_a_window_ending_at_the_clip_end() -> None:
    calls: list[tuple[int, int]] = []
    waveform = torch.arange(7000.0)[None]

    def record(w: torch.Tensor) -> torch.Tensor:
        calls.append((int(w[0, 0]), int(w[0, -1]) + 1))
        return fake_predict(w)

    sliding_prediction(record, waveform, 11, 640, 3000, 1500)
    assert calls == [(0, 3000), (1500, 4500), (3000, 6000), (4000, 7000)]


def test_sliding_on_a_short_clip_is_the_whole_clip_prediction() -> None:
    waveform = torch.randn(1, 1500)
    out = sliding_prediction(fake_predict, waveform, 3, 640, 2000, 500)
    torch.testing.assert_close(out, fake_predict(waveform)[:, None].expand(1, 3, 7))


def test_broadcast_weights() -> None:
    weights = torch.rand(7)
    assert torch.equal(broadcast_weights(weights, 2, 5), weights.expand(2, 5, 7))
    per_clip = torch.rand(2, 7)
    assert torch.equal(broadcast_weights(per_clip, 2, 3)[:, 1], per_clip)
    per_frame = torch.rand(1, 4, 7)
    assert torch.equal(broadcast_weights(per_frame, 3, 4), per_frame.expand(3, 4, 7))
    with pytest.raises(ShapeError, match=r"expected \(7,\), \(2, 7\) or \(2, 5, 7\)"):
        broadcast_weights(torch.rand(3, 7), 2, 5)
    with pytest.raises(ShapeError, match="last dimension 7"):
        broadcast_weights(torch.rand(2, 6), 2, 5)
