"""Pipeline.live on a tiny random model: offline equivalence, determinism, timing, edits, drift and bad input."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from motionkit import EditProgram, LiveConfig, LiveFrame, LiveSession, Pipeline
from motionkit.errors import AudioError, ConfigError, EditError, SessionError, ShapeError
from motionkit.pipeline.live import live_window
from motionkit.protocols import EncodedPortrait
from motionkit.space.edits import Offset, Oscillate
from motionkit.testing.signals import speech_like

pytestmark = pytest.mark.usefixtures("one_thread")

PUSH = 320
"""Samples per push: 20 ms at 16 kHz, as a microphone or a TTS stream delivers them."""


@pytest.fixture(scope="module")
def source(pipeline: Pipeline, portrait: Path) -> EncodedPortrait:
    return pipeline.encode_portrait(portrait, crop=False)


@pytest.fixture(scope="module")
def waveform() -> np.ndarray:
    return speech_like(1.3)


def _feed(session: LiveSession, samples: np.ndarray, push: int = PUSH) -> tuple[list[LiveFrame], list[int]]:
    """Push ``samples`` in pieces of ``push``, then finish; the frames and the count returned by every call."""
    frames, counts = [], []
    for start in range(0, samples.size, push):
        out = session.push_audio(samples[start : start + push])
        frames += out
        counts.append(len(out))
    tail = session.finish()
    return frames + tail, [*counts, len(tail)]


def _images(frames: list[LiveFrame]) -> np.ndarray:
    return np.stack([f.image for f in frames])


def test_whole_windows_without_lookahead_reproduce_offline_generation(
    pipeline: Pipeline, source: EncodedPortrait, waveform: np.ndarray
) -> None:
    """With the whole clip pushed at once and no prior level the normalisation is the clip's, and chunks of a whole
    window with no lookahead are offline sampling: the frames are the offline video's (the mel encoder is exact
    with context)."""
    window = pipeline.sampler.window
    config = LiveConfig(
        chunk_frames=window,
        lookahead_frames=0,
        audio_context_frames=40,
        prior_rms=None,
        window_margin_frames=None,
        nfe=None,  # the model's time grid, as offline
    )
    with pipeline.live(source, config=config, seed=4, emotion="neutral") as session:
        frames, _ = _feed(session, waveform, push=waveform.size)
    offline = np.stack(list(pipeline.generate(source, waveform, "neutral", seed=4).frames()))
    assert len(frames) == len(offline) == math.ceil(waveform.size / 640)
    # float64 running sums against numpy's mean/var: the normalised samples may differ in their last bit
    assert np.abs(_images(frames).astype(int) - offline.astype(int)).max() <= 1


def test_sessions_are_deterministic(pipeline: Pipeline, source: EncodedPortrait, waveform: np.ndarray) -> None:
    runs = []
    for _ in range(2):
        with pipeline.live(source, seed=1, emotion="neutral") as session:
            runs.append(_images(_feed(session, waveform)[0]))
    assert np.array_equal(runs[0], runs[1])
    with pipeline.live(source, seed=2, emotion="neutral") as session:
        assert not np.array_equal(_images(_feed(session, waveform)[0]), runs[0])


def test_frames_follow_the_audio_in_order_with_their_timing(
    pipeline: Pipeline, source: EncodedPortrait, waveform: np.ndarray
) -> None:
    config = LiveConfig(chunk_frames=3, lookahead_frames=2)
    with pipeline.live(source, config=config, emotion="neutral") as session:
        assert session.sample_rate == 16000
        assert session.fps == 25.0
        assert session.frame_size == (64, 64)
        frames, counts = _feed(session, waveform)
        assert session.frames_emitted == len(frames)
    assert [f.index for f in frames] == list(range(math.ceil(waveform.size / 640)))
    for frame in frames:
        assert frame.image.shape == (64, 64, 3)
        assert frame.image.dtype == np.uint8
        assert frame.audio_time == pytest.approx(frame.index / 25.0)
        assert frame.audio_ready_at <= frame.ready_at
        assert frame.latency == frame.ready_at - frame.audio_ready_at
    # A frame comes out with the push that completes the audio of its chunk and lookahead, never later.
    emitted = np.cumsum(counts[:-1])
    received = np.minimum(np.arange(1, len(emitted) + 1) * PUSH, waveform.size)
    complete = received // 640
    assert np.array_equal(emitted, np.maximum(0, (complete - 2) // 3 * 3))


def test_no_drift_over_a_long_session(pipeline: Pipeline, source: EncodedPortrait) -> None:
    """A minute of audio in 20 ms pushes (3000 pushes): after every push exactly the frames whose chunk and
    lookahead have arrived are out, each stamped with the time of the push that completed its own audio, so the
    delay in frames never grows."""
    seconds, config = 60.0, LiveConfig(chunk_frames=2, lookahead_frames=1, nfe=2)
    audio = np.tile(speech_like(2.0), int(seconds / 2.0))
    calls: list[tuple[float, float]] = []  # (perf_counter before, after) of each push
    with pipeline.live(source, config=config, emotion="neutral") as session:
        emitted = 0
        for start in range(0, audio.size, PUSH):
            before = time.perf_counter()
            frames = session.push_audio(audio[start : start + PUSH])
            calls.append((before, time.perf_counter()))
            complete = (start + PUSH) // 640
            assert emitted + len(frames) == max(0, (complete - 1) // 2 * 2)
            for frame in frames:
                assert frame.index == emitted
                # frame i's audio ends with push 2i + 1 (two 20 ms pushes per 40 ms frame)
                completed_by = calls[2 * frame.index + 1]
                assert completed_by[0] <= frame.audio_ready_at <= completed_by[1]
                emitted += 1
        assert len(session.finish()) == round(seconds * 25) - emitted
        assert session.frames_emitted == round(seconds * 25)


def test_edits_take_effect_from_the_next_frame(
    pipeline: Pipeline, source: EncodedPortrait, waveform: np.ndarray
) -> None:
    config = LiveConfig(chunk_frames=2, lookahead_frames=1)
    with pipeline.live(source, config=config, seed=3, emotion="neutral") as plain:
        reference = _images(_feed(plain, waveform)[0])

    def switched(program: EditProgram) -> tuple[np.ndarray, int]:
        """Frames of a session that gets ``program`` once 8 frames are out (the same 20 ms pushes)."""
        with pipeline.live(source, config=config, seed=3, emotion="neutral") as session:
            before: list[LiveFrame] = []
            position = 0
            while len(before) < 8:
                before += session.push_audio(waveform[position : position + PUSH])
                position += PUSH
            session.apply_edits(program)
            after, _ = _feed(session, waveform[position:])
        return _images(before + after), len(before)

    nod = Oscillate.nod(amplitude=20.0, frequency=1.5)
    edited, switch = switched(EditProgram(edits=(nod,)))
    assert np.array_equal(edited[:switch], reference[:switch])
    assert not np.array_equal(edited[switch], reference[switch])
    # Edit times are session times: a nod that starts at the switch, given from the first frame, is the same.
    late = EditProgram(edits=(Oscillate.nod(amplitude=20.0, frequency=1.5, start=switch / 25.0),))
    with pipeline.live(source, config=config, seed=3, emotion="neutral", edits=late) as session:
        from_start = _images(_feed(session, waveform)[0])
    assert np.array_equal(switched(late)[0], from_start)


def test_edits_see_session_time(pipeline: Pipeline, source: EncodedPortrait, waveform: np.ndarray) -> None:
    """An offset that starts at 0.4 s changes the frames from index 10 on, however the frames were chunked."""
    program = EditProgram(edits=(Offset(axis="pitch", value=15.0, start=0.4),))
    config = LiveConfig(chunk_frames=3, lookahead_frames=0)
    with pipeline.live(source, config=config, seed=0, emotion="neutral") as plain:
        reference = _images(_feed(plain, waveform)[0])
    with pipeline.live(source, config=config, seed=0, emotion="neutral", edits=program) as session:
        edited = _images(_feed(session, waveform)[0])
    assert np.array_equal(edited[:10], reference[:10])
    assert all(not np.array_equal(edited[i], reference[i]) for i in range(10, len(edited)))


def test_bad_audio_is_refused_and_changes_nothing(pipeline: Pipeline, source: EncodedPortrait) -> None:
    with pipeline.live(source, emotion="neutral") as session:
        with pytest.raises(AudioError, match="float samples"):
            session.push_audio(np.zeros(320, dtype=np.int16))
        with pytest.raises(ShapeError, match="1-D mono"):
            session.push_audio(np.zeros((2, 320), dtype=np.float32))
        with pytest.raises(AudioError, match="NaN or infinite"):
            session.push_audio(np.full(320, np.nan, dtype=np.float32))
        with pytest.raises(AudioError, match="numpy arrays"):
            session.push_audio([0.0] * 320)  # type: ignore[arg-type]
        assert session.push_audio(np.zeros(0, dtype=np.float32)) == []
        assert session.frames_emitted == 0
        assert len(session.finish()) == 0  # nothing valid was pushed


def test_a_finished_or_closed_session_refuses_audio(pipeline: Pipeline, source: EncodedPortrait) -> None:
    session = pipeline.live(source, emotion="neutral")
    early = session.push_audio(speech_like(0.2))
    assert len(early) + len(session.finish()) == 5
    assert session.finish() == []
    with pytest.raises(SessionError, match="finished"):
        session.push_audio(speech_like(0.1))
    session.close()
    session.close()  # idempotent
    with pytest.raises(SessionError, match="closed"):
        session.push_audio(speech_like(0.1))
    with pytest.raises(SessionError, match="closed"):
        session.apply_edits(None)
    with pytest.raises(SessionError, match="closed"):
        session.finish()


def test_bad_settings_and_edits_are_refused(pipeline: Pipeline, source: EncodedPortrait) -> None:
    window = pipeline.sampler.window
    with pytest.raises(ConfigError, match="exceeds the window"):
        pipeline.live(source, config=LiveConfig(chunk_frames=window, lookahead_frames=1), emotion="neutral")
    assert live_window(LiveConfig(chunk_frames=3, lookahead_frames=1, window_margin_frames=4), window) == 8
    assert live_window(LiveConfig(chunk_frames=3, lookahead_frames=1, window_margin_frames=40), window) == window
    assert live_window(LiveConfig(window_margin_frames=None), window) is None
    with pytest.raises(ConfigError, match="LiveConfig"):
        pipeline.live(source, config={"chunk_frames": 2}, emotion="neutral")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="seed"):
        pipeline.live(source, seed=-1, emotion="neutral")
    with pipeline.live(source, emotion="neutral") as session:
        with pytest.raises(EditError, match="EditProgram"):
            session.apply_edits('{"edits": []}')  # type: ignore[arg-type]
        with pytest.raises(EditError, match="roll"):
            session.apply_edits(EditProgram(edits=(Offset(axis="roll", value=1.0),)))


def test_the_emotion_changes_from_the_next_chunk(pipeline: Pipeline, source: EncodedPortrait) -> None:
    """``set_emotion`` mid-session: the frames already out are unchanged, every frame sampled afterwards has the
    new emotion (without lookahead, so that no window before the switch saw a frame after it: the same as a session
    whose emotion switches there by keyframes); an invalid emotion is refused with a clear error and changes
    nothing."""
    waveform = speech_like(1.0)
    config = LiveConfig(chunk_frames=3, lookahead_frames=0)

    def run(change: str | None) -> tuple[np.ndarray, int]:
        with pipeline.live(source, config=config, seed=3, emotion="neutral") as session:
            before: list[LiveFrame] = []
            position = 0
            while len(before) < 9:
                before += session.push_audio(waveform[position : position + PUSH])
                position += PUSH
            with pytest.raises(ConfigError, match="invalid emotion 'joy'"):
                session.set_emotion("joy")
            if change is not None:
                session.set_emotion(change)
            after, _ = _feed(session, waveform[position:])
        return _images(before + after), len(before)

    reference, switch = run(None)
    happy, _ = run("happy")
    assert np.array_equal(happy[:switch], reference[:switch])
    assert not np.array_equal(happy[switch], reference[switch])
    assert np.array_equal(run("neutral")[0], reference)  # the refused emotion left the session as it was
    # a session that was happy from the switch on by keyframes (held, no blend) gives the same frames
    neutral, happy_label = {"kind": "label", "label": "neutral"}, {"kind": "label", "label": "happy"}
    keyed = {
        "kind": "keyframes",
        "keyframes": [
            {"time": (switch - 0.5) / 25.0, "emotion": neutral},
            {"time": switch / 25.0, "emotion": happy_label},
        ],
    }
    with pipeline.live(source, config=config, seed=3, emotion=keyed) as session:
        frames, _ = _feed(session, waveform)
    assert np.array_equal(_images(frames), happy)
    session = pipeline.live(source, emotion="neutral")
    session.finish()
    with pytest.raises(SessionError, match="finished"):
        session.set_emotion("happy")
