"""Helpers of the live-session tests: stream speech through a socket and collect what comes back."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from PIL import Image

from motionkit.serve.protocol import unpack_frame

PCM16_MAX = 32767
CHUNK_SECONDS = 0.02


class Socket(Protocol):
    def send_text(self, data: str) -> None: ...
    def send_bytes(self, data: bytes) -> None: ...
    def receive(self) -> Any: ...


@dataclass
class Received:
    """Frames ``(index, audio_time, jpeg)`` and text messages of a session, and how the socket closed."""

    frames: list[tuple[int, float, bytes]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def images(self) -> np.ndarray:
        return np.stack([np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")) for _, _, jpeg in self.frames])


def pcm16_chunks(samples: np.ndarray, rate: int, seconds: float = CHUNK_SECONDS) -> list[bytes]:
    pcm = (np.clip(samples, -1.0, 1.0) * PCM16_MAX).astype("<i2")
    step = round(rate * seconds)
    return [pcm[i : i + step].tobytes() for i in range(0, len(pcm), step)]


def start_message(rate: int, **fields: Any) -> str:
    return json.dumps({"type": "start", "audio": {"encoding": "s16", "sample_rate": rate}, **fields})


def collect(socket: Socket) -> Received:
    """Everything until the socket closes."""
    received = Received()
    while True:
        message = socket.receive()
        if message["type"] == "websocket.close":
            received.close_code = message.get("code")
            return received
        if message.get("bytes") is not None:
            received.frames.append(unpack_frame(message["bytes"]))
        elif message.get("text") is not None:
            received.messages.append(json.loads(message["text"]))
