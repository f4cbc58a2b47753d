"""Parsing the live protocol's messages: every malformed, mistyped or unknown message gets a clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionkit.serve.protocol import (
    AudioFormat,
    Nod,
    ProtocolError,
    SetEdits,
    Start,
    Toggle,
    decode_audio,
    pack_frame,
    parse_message,
    unpack_frame,
)


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("{not json", "bad_json", "not JSON"),
        ("[1, 2]", "bad_json", "must be a JSON object, got list"),
        ('{"amplitude": 3}', "unknown_type", "unknown message type None"),
        ('{"type": "dance"}', "unknown_type", "unknown message type 'dance'; use one of start, nod"),
        ('{"type": "nod", "amplitude": "big"}', "bad_message", "invalid 'nod' message: amplitude: Input should be"),
        ('{"type": "nod", "amplitude": 90}', "bad_message", "amplitude: Input should be less than or equal to 45"),
        ('{"type": "nod", "speed": 2}', "bad_message", "speed: Extra inputs are not permitted"),
        ('{"type": "still_head", "on": "maybe"}', "bad_message", "on: Input should be a valid boolean"),
        ('{"type": "start", "emotion": "joy"}', "bad_message", "emotion: invalid emotion 'joy'"),
        ('{"type": "start", "audio": {"sample_rate": 100}}', "bad_message", "audio.sample_rate: Input should be"),
        ('{"type": "start", "audio": {"encoding": "mp3"}}', "bad_message", "audio.encoding: Input should be 's16'"),
        ('{"type": "start", "live": {"chunk_frames": 0}}', "bad_message", "live.chunk_frames: Input should be greater"),
        (
            '{"type": "edits", "program": {"edits": [{"kind": "wiggle"}]}}',
            "bad_message",
            "program: invalid EditProgram",
        ),
    ],
)
def test_bad_messages_name_the_problem(text: str, code: str, words: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(text)
    assert caught.value.code == code
    assert words in str(caught.value)
    assert caught.value.to_message() == {"type": "error", "code": code, "message": str(caught.value), "fatal": False}


def test_messages_parse_to_their_models() -> None:
    start = parse_message(json.dumps({"type": "start", "portrait": "grace-hopper", "emotion": "happy", "seed": 3}))
    assert isinstance(start, Start)
    assert start.emotion == {"kind": "label", "label": "happy", "intensity": 1.0}
    assert start.audio == AudioFormat()
    assert parse_message('{"type": "nod"}') == Nod()
    assert parse_message('{"type": "lip_only", "on": false}') == Toggle(type="lip_only", on=False)
    program = {"edits": [{"kind": "offset", "axis": "yaw", "value": 10}]}
    edits = parse_message(json.dumps({"type": "edits", "program": program}))
    assert isinstance(edits, SetEdits)
    assert edits.program.edits[0].kind == "offset"


def test_pcm16_and_float_chunks_decode_to_mono_float() -> None:
    pcm = np.array([[16384, -16384], [32767, -32768]], dtype="<i2")  # two stereo samples
    out = decode_audio(pcm.tobytes(), AudioFormat(encoding="s16", channels=2))
    np.testing.assert_allclose(out, [0.0, -0.5 / 32768.0])
    floats = np.array([0.25, -1.0, 0.5], dtype="<f4")
    np.testing.assert_array_equal(decode_audio(floats.tobytes(), AudioFormat(encoding="f32")), floats)


def test_broken_audio_chunks_are_refused() -> None:
    with pytest.raises(ProtocolError, match="7 bytes is not a whole number of s16 samples of 2 channel"):
        decode_audio(b"\0" * 7, AudioFormat(encoding="s16", channels=2))
    with pytest.raises(ProtocolError, match="NaN or infinite"):
        decode_audio(np.array([0.0, np.nan], dtype="<f4").tobytes(), AudioFormat())


def test_frame_messages_round_trip() -> None:
    message = pack_frame(41, 1.64, b"\xff\xd8jpeg")
    assert message[:4] == b"MKF1"
    assert unpack_frame(message) == (41, 1.64, b"\xff\xd8jpeg")
    with pytest.raises(ProtocolError, match="not a motionkit frame"):
        unpack_frame(b"XXXX" + message[4:])
