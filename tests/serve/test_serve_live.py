"""Live sessions over the WebSocket: frames stamped with audio time, controls, errors, limits, slow clients, memory."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy.signal import resample_poly
from starlette.websockets import WebSocketDisconnect

from motionkit.pipeline import Pipeline
from motionkit.serve.config import ServeConfig
from motionkit.serve.portraits import PortraitStore
from motionkit.serve.sessions import LiveConnection
from tests.serve.live_client import Received, collect, pcm16_chunks, start_message

CLIENT_RATE = 48000
"""Browsers capture at 48 kHz; the service resamples to the model's 16 kHz."""
FPS = 25


@pytest.fixture(scope="module")
def speech_48k(speech: np.ndarray) -> np.ndarray:
    return resample_poly(speech[: 2 * 16000], 3, 1).astype(np.float32)  # 2 s


def run_session(app: TestClient, chunks: list[bytes], controls: dict[int, list[str]] | None = None) -> Received:
    """Start, send the chunks (and each control text before chunk k), end, and collect until the socket closes."""
    with app.websocket_connect("/v1/live") as socket:
        socket.send_text(start_message(CLIENT_RATE, portrait="synthetic-face"))
        for k, chunk in enumerate(chunks):
            for text in (controls or {}).get(k, []):
                socket.send_text(text)
            socket.send_bytes(chunk)
        socket.send_text('{"type": "end"}')
        return collect(socket)


def test_a_session_streams_every_frame_stamped_with_its_audio_time(
    client: Callable[..., TestClient], speech_48k: np.ndarray
) -> None:
    received = run_session(client(send_queue_frames=1000), pcm16_chunks(speech_48k, CLIENT_RATE))
    ready, done = received.messages[0], received.of_type("done")[0]
    assert ready == {
        "type": "ready",
        "fps": 25.0,
        "sample_rate": 16000,
        "width": 64,
        "height": 64,
        "frame_format": "jpeg",
        "send_queue_frames": 1000,
    }
    assert [index for index, _, _ in received.frames] == list(range(2 * FPS))
    assert [time for _, time, _ in received.frames] == pytest.approx([i / FPS for i in range(2 * FPS)])
    assert received.images().shape == (2 * FPS, 64, 64, 3)
    assert done["frames_made"] == done["frames_sent"] == 2 * FPS
    assert done["frames_dropped"] == 0
    assert done["audio_seconds"] == pytest.approx(2.0, abs=1e-3)
    assert done["latency_ms"]["p50"] > 0
    assert received.close_code == 1000
    assert not received.of_type("error")


def test_a_nod_takes_effect_from_the_next_frame(client: Callable[..., TestClient], speech_48k: np.ndarray) -> None:
    app = client(send_queue_frames=1000)
    chunks = pcm16_chunks(speech_48k, CLIENT_RATE)
    plain = run_session(app, chunks)
    nodding = run_session(app, chunks, {40: [json.dumps({"type": "nod", "amplitude": 8, "duration": 1.0})]})
    (applied,) = nodding.of_type("applied")
    start = applied["from_frame"]
    assert applied == {"type": "applied", "control": "nod", "from_frame": start, "time": start / FPS}
    assert 0 < start < 2 * FPS - FPS // 2
    plain_images, nodding_images = plain.images(), nodding.images()
    # the same seed and pushes give the same frames up to the nod, then the head moves
    np.testing.assert_array_equal(plain_images[:start], nodding_images[:start])
    change = np.abs(plain_images[start:].astype(float) - nodding_images[start:].astype(float)).mean(axis=(1, 2, 3))
    assert change.max() > 2.0, change


def test_the_emotion_changes_live_from_the_next_chunk(
    client: Callable[..., TestClient], speech_48k: np.ndarray
) -> None:
    app = client(send_queue_frames=1000)
    chunks = pcm16_chunks(speech_48k, CLIENT_RATE)
    plain = run_session(app, chunks)
    controls = {40: ['{"type": "emotion", "emotion": "joy"}', '{"type": "emotion", "emotion": "happy"}']}
    changed = run_session(app, chunks, controls)
    (refused,) = changed.of_type("error")  # the unknown label is refused at once; the session goes on
    assert refused["code"] == "bad_message"
    assert "invalid emotion 'joy'" in refused["message"]
    assert not refused["fatal"]
    (applied,) = changed.of_type("applied")
    start = applied["from_frame"]
    assert applied == {"type": "applied", "control": "emotion", "from_frame": start, "time": start / FPS}
    assert 0 < start < 2 * FPS - FPS // 2
    plain_images, changed_images = plain.images(), changed.images()
    np.testing.assert_array_equal(plain_images[:start], changed_images[:start])
    assert not np.array_equal(plain_images[start:], changed_images[start:])
    assert changed.of_type("done")[0]["frames_sent"] == 2 * FPS


def test_bad_messages_get_clear_errors_and_the_session_goes_on(
    client: Callable[..., TestClient], speech_48k: np.ndarray
) -> None:
    limit = 4096
    chunks = pcm16_chunks(speech_48k[: CLIENT_RATE // 2], CLIENT_RATE)
    bad = [
        "{not json",
        '{"type": "dance"}',
        '{"type": "nod", "amplitude": "big"}',
        '{"type": "turn", "angle": 500}',
        '{"type": "edits", "program": {"edits": [{"kind": "offset", "axis": "jaw", "value": 1}]}}',
        start_message(CLIENT_RATE),
    ]
    with client(max_message_bytes=limit, send_queue_frames=1000).websocket_connect("/v1/live") as socket:
        socket.send_bytes(chunks[0])  # before start
        socket.send_text(start_message(CLIENT_RATE, portrait="synthetic-face"))
        for text in bad:
            socket.send_text(text)
        socket.send_bytes(b"\0" * 3)  # not a whole 16-bit sample
        socket.send_bytes(b"\0" * (limit + 2))  # over the size limit
        for chunk in chunks:
            socket.send_bytes(chunk)
        socket.send_text('{"type": "end"}')
        received = collect(socket)
    errors = received.of_type("error")
    # the edits name an axis the model lacks: found when the session applies them, after the other replies
    (edits,) = [e for e in errors if "cannot apply 'edits'" in e["message"]]
    assert "'jaw'" in edits["message"]
    assert [e["code"] for e in errors if e is not edits] == [
        "not_started",
        "bad_json",
        "unknown_type",
        "bad_message",
        "bad_message",
        "already_started",
        "bad_audio",
        "too_large",
    ]
    assert not any(e["fatal"] for e in errors)
    assert f"over the limit of {limit}" in errors[-1 if errors[-1] is not edits else -2]["message"]
    assert len(received.frames) == math.ceil(FPS / 2)  # the session went on (a partial last frame counts)
    assert received.of_type("done")
    assert received.close_code == 1000


def test_an_unknown_portrait_closes_the_session_with_a_reason(client: Callable[..., TestClient]) -> None:
    with client().websocket_connect("/v1/live") as socket:
        socket.send_text(start_message(CLIENT_RATE, portrait="mona-lisa"))
        received = collect(socket)
    (error,) = received.of_type("error")
    assert error["code"] == "bad_portrait"
    assert error["fatal"]
    assert "unknown portrait 'mona-lisa'" in error["message"]
    assert received.close_code == 1008


def test_sessions_above_the_limit_are_refused(client: Callable[..., TestClient]) -> None:
    app = client(max_sessions=1)
    with app.websocket_connect("/v1/live") as first:
        first.send_text(start_message(CLIENT_RATE))
        assert first.receive_json()["type"] == "ready"
        with app.websocket_connect("/v1/live") as second:
            refused = collect(second)
        (error,) = refused.of_type("error")
        assert error["code"] == "session_limit"
        assert "all 1 live sessions are in use" in error["message"]
        assert refused.close_code == 1013
        assert app.get("/v1/info").json()["limits"]["open_sessions"] == 1
        first.send_text('{"type": "end"}')
        assert collect(first).close_code == 1000
    assert app.get("/v1/info").json()["limits"]["open_sessions"] == 0


def test_with_a_token_a_socket_without_it_is_closed(client: Callable[..., TestClient]) -> None:
    token = "k" * 20
    app = client(token=token)
    with pytest.raises(WebSocketDisconnect) as refused, app.websocket_connect("/v1/live") as socket:
        socket.receive()
    assert refused.value.code == 1008
    with app.websocket_connect(f"/v1/live?token={token}") as socket:
        socket.send_text(start_message(CLIENT_RATE))
        assert socket.receive_json()["type"] == "ready"
        socket.send_text('{"type": "end"}')
        assert collect(socket).close_code == 1000


class SlowSocket:
    """A client that reads nothing until told to (sends block), as a stalled browser tab does."""

    def __init__(self, incoming: list[dict[str, Any]]) -> None:
        self.incoming = incoming
        self.reading = asyncio.Event()
        self.frames = 0
        self.texts: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.incoming:
            return self.incoming.pop(0)
        await asyncio.Event().wait()  # the client says nothing more
        raise AssertionError("unreachable")

    async def send_json(self, data: dict[str, Any]) -> None:
        self.texts.append(data)

    async def send_bytes(self, data: bytes) -> None:
        await self.reading.wait()
        self.frames += 1

    async def close(self, code: int = 1000) -> None:
        self.reading.set()


def test_a_slow_client_gets_frames_dropped_and_counted(
    pipeline: Pipeline, speech_48k: np.ndarray, tmp_path_factory: pytest.TempPathFactory
) -> None:
    queue = 3
    incoming = [{"type": "websocket.receive", "text": start_message(CLIENT_RATE, portrait="synthetic-face")}]
    incoming += [{"type": "websocket.receive", "bytes": c} for c in pcm16_chunks(speech_48k, CLIENT_RATE)]
    incoming.append({"type": "websocket.receive", "text": '{"type": "end"}'})
    socket = SlowSocket(incoming)

    async def main() -> None:
        with ThreadPoolExecutor(1) as pool:
            portraits = PortraitStore(tmp_path_factory.mktemp("portraits"), 4, "synthetic-face")
            config = ServeConfig(send_queue_frames=queue, stats_interval=60.0)
            connection = LiveConnection(socket, pipeline, config, portraits, pool)  # type: ignore[arg-type]
            serving = asyncio.create_task(connection.serve())
            while connection.counters.frames_made < 2 * FPS:  # all frames made while the client reads nothing
                await asyncio.sleep(0.05)
            socket.reading.set()
            await serving

    asyncio.run(main())
    done = next(m for m in socket.texts if m["type"] == "done")
    assert done["frames_made"] == 2 * FPS
    # at most the queue and the one frame being sent when the client stalled reached it; the rest were dropped
    assert socket.frames <= queue + 1
    assert done["frames_dropped"] == 2 * FPS - socket.frames


def test_the_session_takes_its_live_settings_from_start(client: Callable[..., TestClient], speech: np.ndarray) -> None:
    app = client(send_queue_frames=1000)
    with app.websocket_connect("/v1/live") as socket:
        live = {"chunk_frames": 5, "lookahead_frames": 0}
        socket.send_text(start_message(16000, portrait="synthetic-face", live=live))
        assert socket.receive_json()["type"] == "ready"
        for chunk in pcm16_chunks(speech[:16000], 16000):
            socket.send_bytes(chunk)
        socket.send_text('{"type": "end"}')
        received = collect(socket)
    assert [index for index, _, _ in received.frames] == list(range(FPS))
    with app.websocket_connect("/v1/live") as socket:
        socket.send_text(start_message(16000, portrait="synthetic-face", live={"chunk_frames": 10_000}))
        refused = collect(socket)
    (error,) = refused.of_type("error")
    assert error["fatal"]
    assert error["message"].startswith("cannot start the session: ")
    assert refused.close_code == 1008
