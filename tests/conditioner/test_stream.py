"""Streaming conditions: frame bookkeeping, exactness where it is possible, emotion while streaming, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from motionkit import Conditioner, Conditions
from motionkit.conditioner import (
    EmotionKeyframe,
    KeyframeEmotion,
    LabelEmotion,
    PredictedEmotion,
    WaveformStats,
)
from motionkit.conditioner.emotion import onehot
from motionkit.config import ConditionerConfig, MelEncoderConfig
from motionkit.errors import AudioError, ConfigError, ShapeError
from motionkit.io.audio import normalize_waveform
from motionkit.testing.tolerances import assert_rounding_close, layers_depth

MakeConditioner = Callable[..., Conditioner]
Speech = Callable[..., np.ndarray]
MEL = ConditionerConfig(encoder="mel", audio_dim=12, mel=MelEncoderConfig(n_mels=20, channels=16, layers=3))


def split(signal: np.ndarray, sizes: list[int]) -> Iterator[np.ndarray]:
    """Cut ``signal`` into chunks of the given sizes, cycling through them."""
    start, index = 0, 0
    while start < signal.size:
        yield signal[start : start + sizes[index % len(sizes)]]
        start += sizes[index % len(sizes)]
        index += 1


def collect(parts: Iterator[Conditions]) -> Conditions:
    return Conditions.concat(list(parts))


def test_streamed_frames_add_up_to_the_whole_clip(make_conditioner: MakeConditioner, speech: Speech) -> None:
    conditioner = make_conditioner()
    clip = speech(20500)  # 32.03 frames -> 33 frames, the last one padded
    parts = list(conditioner.stream(split(clip, [1000, 333, 2900]), emotion="happy", context_frames=8))
    assert sum(p.frames for p in parts) == 33 == conditioner.frames_for(clip.size)
    for part in parts:
        assert part.audio.shape[2] == 16
        assert torch.equal(part.emotion, onehot("happy").expand(1, part.frames, 7))


def test_wav2vec2_stream_is_exact_when_it_sees_the_whole_clip(
    make_conditioner: MakeConditioner, speech: Speech
) -> None:
    """With lookahead beyond the clip, the only emission encodes the whole clip: FLOAT's features."""
    conditioner = make_conditioner()
    clip = speech(15000)
    with torch.no_grad():
        whole = conditioner(clip, emotion="sad")
    parts = list(
        conditioner.stream(
            split(clip, [4000]), emotion="sad", stats=WaveformStats.of(clip), context_frames=0, lookahead_frames=100
        )
    )
    assert len(parts) == 1
    # the clip's own statistics and every frame in one pass: rounding only (the model's layers, the clip's sums)
    assert_rounding_close(parts[0].audio, whole.audio, depth=layers_depth(conditioner) + 3 * clip.size)


def test_wav2vec2_stream_with_limited_context_is_an_approximation(
    make_conditioner: MakeConditioner, speech: Speech
) -> None:
    conditioner = make_conditioner()
    clip = speech(32000)
    stats = WaveformStats.of(clip)
    with torch.no_grad():
        whole = conditioner(clip, emotion="sad").audio
    streamed = collect(conditioner.stream(split(clip, [3200]), "sad", stats=stats, context_frames=10)).audio
    assert streamed.shape == whole.shape
    error = float((streamed - whole).norm() / whole.norm())
    assert 1e-4 < error < 1.0


@pytest.mark.parametrize("sizes", [[640], [1000, 77, 5000], [20000]])
def test_mel_stream_is_exact_with_enough_context(speech: Speech, sizes: list[int]) -> None:
    torch.manual_seed(0)
    conditioner = Conditioner(MEL)
    clip = speech(20000)
    with torch.no_grad():
        whole = conditioner(clip, emotion="happy").audio
    context = MEL.mel.receptive_field_frames + 1
    parts = conditioner.stream(split(clip, sizes), "happy", stats=WaveformStats.of(clip), context_frames=context)
    # context covers the mel encoder's receptive field: the same frames from the same samples, chunked
    assert_rounding_close(collect(parts).audio, whole, depth=layers_depth(conditioner) + 3 * clip.size)


def test_running_statistics_converge_to_the_clip(speech: Speech) -> None:
    """One chunk holding the whole clip: the running statistics are the clip's."""
    torch.manual_seed(0)
    conditioner = Conditioner(MEL)
    clip = speech(12800)
    with torch.no_grad():
        whole = conditioner(clip, emotion="happy").audio
    streamed = collect(conditioner.stream([clip], "happy", context_frames=20)).audio
    depth = layers_depth(conditioner) + 3 * clip.size
    assert_rounding_close(streamed, whole, depth=depth)
    stats = WaveformStats.of(clip)
    expected = torch.from_numpy(normalize_waveform(clip))
    # running moments vs numpy's mean and variance of the same samples, then (x - mean) / std
    assert_rounding_close(torch.from_numpy(stats.normalize(clip, 1e-7)), expected, depth=3 * clip.size + 2)


def test_emission_timing_respects_lookahead_and_minimum(make_conditioner: MakeConditioner, speech: Speech) -> None:
    conditioner = make_conditioner()
    clip = speech(16000)
    pulled = [0]

    def chunks() -> Iterator[np.ndarray]:
        for chunk in split(clip, [500]):
            pulled[0] += chunk.size
            yield chunk

    emitted = 0
    sizes = []
    for part in conditioner.stream(chunks(), "happy", lookahead_frames=3, min_new_frames=4, context_frames=5):
        emitted += part.frames
        sizes.append(part.frames)
        if emitted < 25:  # before the end of the stream
            assert emitted <= pulled[0] // 640 - 3
    assert emitted == 25
    assert all(size >= 4 for size in sizes[:-1])


def test_stream_emotion(make_conditioner: MakeConditioner, speech: Speech) -> None:
    conditioner = make_conditioner()
    clip = speech(24000)
    keyframes = KeyframeEmotion(
        keyframes=(
            EmotionKeyframe(time=0.2, emotion=LabelEmotion(label="happy")),
            EmotionKeyframe(time=1.0, emotion=LabelEmotion(label="angry")),
        )
    )
    with torch.no_grad():
        whole = conditioner(clip, emotion=keyframes).emotion
    streamed = collect(conditioner.stream(split(clip, [1500]), keyframes, context_frames=4)).emotion
    assert torch.equal(streamed, whole)
    # Predicted while streaming: the classifier on the trailing window (here the whole clip received so far).
    first = next(iter(conditioner.stream([clip[:3000]], PredictedEmotion(), context_frames=4)))
    assert conditioner.emotion_classifier is not None
    received = torch.from_numpy(WaveformStats.of(clip[:3000]).normalize(clip[:3000], 1e-7))[None]
    expected = conditioner.emotion_classifier(received)
    torch.testing.assert_close(first.emotion, expected[:, None].expand(1, first.frames, 7))


def test_stream_errors(make_conditioner: MakeConditioner, speech: Speech) -> None:
    conditioner = make_conditioner()
    without = make_conditioner(emotion=False)
    with pytest.raises(ShapeError, match="1-D mono samples"):
        list(conditioner.stream([np.zeros((2, 800), np.float32)], "happy"))
    with pytest.raises(AudioError, match="float samples"):
        list(conditioner.stream([np.zeros(800, np.int16)], "happy"))
    with pytest.raises(AudioError, match="NaN or infinite"):
        list(conditioner.stream([np.full(800, np.nan, np.float32)], "happy"))
    with pytest.raises(AudioError, match="ended after 0 samples"):
        list(conditioner.stream([], "happy"))
    with pytest.raises(AudioError, match="ended after 600 samples"):
        list(conditioner.stream([speech(600)], "happy"))
    # Checked when stream() is called, before any chunk is read.
    with pytest.raises(ShapeError, match=r"shape \(7,\) or \(1, 7\)"):
        conditioner.stream([], torch.rand(1, 10, 7))
    with pytest.raises(ConfigError, match="no speech-emotion classifier"):
        without.stream([], "predicted")
    with pytest.raises(ConfigError, match="context_frames must be an integer >= 0"):
        conditioner.stream([], "happy", context_frames=-1)


def test_live_pushes_emit_each_frame_once_it_is_complete_and_match_the_whole_clip(speech: Speech) -> None:
    """Conditioner.live: every push returns the frames it completes (lookahead 2), finish the rest; with fixed
    statistics and context over the receptive field the mel features are the whole clip's."""
    torch.manual_seed(0)
    conditioner = Conditioner(MEL)
    clip = speech(20300)  # 31.7 frames -> 32
    with torch.no_grad():
        whole = conditioner(clip, emotion="happy")
    context = MEL.mel.receptive_field_frames + 1
    live = conditioner.live("happy", stats=WaveformStats.of(clip), context_frames=context, lookahead_frames=2)
    parts, received = [], 0
    for chunk in split(clip, [320, 77, 1500]):
        out = live.push(chunk)
        received += chunk.size
        emitted = sum(p.frames for p in parts)
        ready = max(0, received // 640 - 2)
        assert (out.frames if out is not None else 0) == ready - emitted
        if out is not None:
            parts.append(out)
    last = live.finish()
    assert last is not None
    assert live.finish() is None
    streamed = Conditions.concat([*parts, last])
    assert streamed.frames == whole.frames == 32
    assert_rounding_close(streamed.audio, whole.audio, depth=layers_depth(conditioner) + 3 * clip.size)
    assert torch.equal(streamed.emotion, whole.emotion)


def test_live_refuses_bad_chunks_without_changing_state(speech: Speech) -> None:
    conditioner = Conditioner(MEL)
    live = conditioner.live("neutral")
    for bad, error, match in (
        (np.zeros(320, dtype=np.int16), AudioError, "float samples"),
        (np.zeros((1, 320), dtype=np.float32), ShapeError, "1-D"),
        (np.array([0.0, np.inf], dtype=np.float32), AudioError, "NaN or infinite"),
    ):
        with pytest.raises(error, match=match):
            live.push(bad)
    assert live.received == 0
    with pytest.raises(ConfigError, match="context_frames"):
        conditioner.live("neutral", context_frames=-1)


def test_a_prior_counts_as_that_much_audio_with_its_moments(speech: Speech) -> None:
    """Running statistics with a prior of the moments of ``y`` weighted ``len(y)`` samples are the statistics of
    the samples received together with ``y``."""
    conditioner = Conditioner(MEL)
    received, assumed = speech(9000, seed=1), 3.0 * speech(4000, seed=2) + 0.01
    prior = conditioner.live(
        "neutral", prior=WaveformStats.of(assumed), prior_seconds=assumed.size / 16000, context_frames=20
    )
    fixed = conditioner.live("neutral", stats=WaveformStats.of(np.concatenate([received, assumed])), context_frames=20)
    with torch.no_grad():
        a, b = prior.push(received), fixed.push(received)
    assert a is not None
    assert b is not None
    assert_rounding_close(a.audio, b.audio, depth=layers_depth(conditioner) + 3 * received.size)
    with pytest.raises(ConfigError, match="prior_samples"):
        conditioner.live("neutral", prior=WaveformStats(0.0, 0.01), prior_seconds=-1.0)
