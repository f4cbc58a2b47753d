"""The live WebSocket protocol: the client's messages (typed, validated), the server's, and the binary frames.

Client -> server: one ``start`` text message, then binary audio chunks in the declared encoding (any size, any
time) and text control messages (:data:`ControlMessage`) at any time, and ``end`` to finish. Server -> client:
``ready``, binary frames (:func:`pack_frame`: a 16-byte header and one JPEG), ``applied`` (a control took
effect from a frame), ``stats``, ``error`` and ``done``. Every message type, with an example, is in docs/serve.md.
"""

from __future__ import annotations

import json
import struct
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, Field, TypeAdapter, ValidationError, field_validator

from motionkit.conditioner.emotion import parse_emotion
from motionkit.config._base import FrozenConfig
from motionkit.config.live import LiveConfig
from motionkit.errors import MotionkitError
from motionkit.space import EditProgram

FRAME_MAGIC = b"MKF1"
FRAME_HEADER = struct.Struct("<4sId")
"""Binary frame header: magic ``MKF1``, frame index (uint32), audio time in seconds (float64), little-endian."""
ENCODINGS: dict[str, np.dtype[Any]] = {"s16": np.dtype("<i2"), "f32": np.dtype("<f4")}
"""Audio chunk encodings: 16-bit signed PCM and 32-bit float, little-endian, channels interleaved."""
PCM16_SCALE = 32768.0
MAX_SAMPLE_RATE = 384_000
MIN_SAMPLE_RATE = 8_000
MAX_CHANNELS = 8

ErrorCode = Literal[
    "bad_json",
    "bad_message",
    "unknown_type",
    "too_large",
    "bad_audio",
    "not_started",
    "already_started",
    "bad_portrait",
    "session_limit",
    "overloaded",
    "unauthorized",
    "internal",
]
"""What went wrong, for programs; the message says it for people."""


class ProtocolError(MotionkitError, ValueError):
    """A client message the service cannot use; sent back as an ``error`` message.

    Args:
        code: one of :data:`ErrorCode`.
        message: what was wrong and how to fix it.
        fatal: the session closes after the error (otherwise it stays usable).
    """

    def __init__(self, code: ErrorCode, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.fatal = fatal

    def to_message(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": str(self), "fatal": self.fatal}


class AudioFormat(FrozenConfig):
    """How the client's binary audio chunks are encoded. Example: ``{"encoding": "s16", "sample_rate": 48000}``."""

    encoding: Literal["s16", "f32"] = Field(default="f32", description="s16: 16-bit PCM; f32: 32-bit float.")
    sample_rate: int = Field(default=16000, ge=MIN_SAMPLE_RATE, le=MAX_SAMPLE_RATE, description="Hz; resampled.")
    channels: int = Field(default=1, ge=1, le=MAX_CHANNELS, description="Interleaved channels, mixed to mono.")

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample of every channel."""
        return ENCODINGS[self.encoding].itemsize * self.channels


def _emotion(value: object) -> object:
    """An emotion shorthand (label, ``predicted``, specification object) checked like everywhere else."""
    if value is None:
        return None
    spec = parse_emotion(value)  # type: ignore[arg-type]  # ConfigError (a ValueError) becomes a validation error
    return spec.model_dump() if isinstance(spec, BaseModel) else value


class Start(FrozenConfig):
    """Open the session. Example: ``{"type": "start", "portrait": "grace-hopper", "audio": {"encoding": "s16",
    "sample_rate": 48000}}``."""

    type: Literal["start"] = "start"
    portrait: str = Field(
        default="", description="A preset name (GET /v1/info) or the id of an uploaded portrait; empty: the default."
    )
    audio: AudioFormat = AudioFormat()
    emotion: str | dict[str, Any] | None = Field(default=None, description="Emotion label or specification.")
    seed: int = Field(default=0, ge=0, description="Noise seed of the session.")
    edits: EditProgram | None = Field(default=None, description="Edit program applied from the first frame.")
    jpeg_quality: int | None = Field(default=None, ge=10, le=95, description="JPEG quality (default: the server's).")
    live: LiveConfig | None = Field(
        default=None, description="Chunk, lookahead and solver settings of the session (default: LiveConfig())."
    )

    @field_validator("emotion")
    @classmethod
    def _check_emotion(cls, value: object) -> object:
        return _emotion(value)


class _Timed(FrozenConfig):
    duration: float = Field(default=2.0, gt=0.0, le=60.0, description="Seconds the gesture lasts.")


class Nod(_Timed):
    """Nod from the next frame: ``{"type": "nod", "amplitude": 8, "duration": 2}`` (pitch degrees, seconds)."""

    type: Literal["nod"] = "nod"
    amplitude: float = Field(default=8.0, ge=0.0, le=45.0, description="Pitch amplitude in axis units (degrees).")


class Turn(_Timed):
    """Turn the head by ``angle`` (yaw) over ``duration`` seconds and stay turned: ``{"type": "turn", "angle": 15}``;
    ``angle: 0`` turns back."""

    type: Literal["turn"] = "turn"
    angle: float = Field(default=15.0, ge=-60.0, le=60.0, description="Yaw in axis units (degrees).")
    duration: float = Field(default=1.0, gt=0.0, le=60.0, description="Seconds the turn takes.")


class Toggle(FrozenConfig):
    """Hold the head still / only move the lips, from the next frame until switched off:
    ``{"type": "still_head", "on": true}``."""

    type: Literal["still_head", "lip_only"]
    on: bool = True


class SetEdits(FrozenConfig):
    """Replace the session's edit program (times in seconds of the session's audio):
    ``{"type": "edits", "program": {"edits": [...]}}``."""

    type: Literal["edits"] = "edits"
    program: EditProgram


class SetEmotion(FrozenConfig):
    """Change the emotion from the next chunk (:meth:`motionkit.LiveSession.set_emotion`):
    ``{"type": "emotion", "emotion": "happy"}`` (a label, ``"predicted"`` or a specification object)."""

    type: Literal["emotion"] = "emotion"
    emotion: str | dict[str, Any] = Field(description="Emotion label or specification.")

    @field_validator("emotion")
    @classmethod
    def _check_emotion(cls, value: object) -> object:
        return _emotion(value)


class End(FrozenConfig):
    """No more audio: the remaining frames are sent, then ``done``, then the socket closes."""

    type: Literal["end"] = "end"


ControlMessage = Annotated[Nod | Turn | Toggle | SetEdits | SetEmotion | End | Start, Field(discriminator="type")]
"""Every text message a client may send."""
MESSAGE_TYPES = ("start", "nod", "turn", "still_head", "lip_only", "edits", "emotion", "end")
_ADAPTER: TypeAdapter[ControlMessage] = TypeAdapter(ControlMessage)


def parse_message(text: str) -> Nod | Turn | Toggle | SetEdits | SetEmotion | End | Start:
    """A client's text message, validated.

    Raises:
        ProtocolError: not JSON (``bad_json``), no or an unknown ``type`` (``unknown_type``), or a field that is
            missing, mistyped or out of range (``bad_message``, naming the field).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            "bad_json", f"a text message must be a JSON object; this one is not JSON ({exc})."
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", f"a text message must be a JSON object, got {type(data).__name__}.")
    kind = data.get("type")
    if kind not in MESSAGE_TYPES:
        raise ProtocolError(
            "unknown_type", f"unknown message type {kind!r}; use one of {', '.join(MESSAGE_TYPES)} (docs/serve.md)."
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError("bad_message", f"invalid {kind!r} message: {describe(exc)}") from None


def describe(exc: ValidationError, skip: int = 1) -> str:
    """The first problem of a validation error as ``field: what is wrong`` (``skip``: leading location parts left
    out, such as a message's type, the tag a union is validated under)."""
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ())[skip:])
    message = str(error.get("msg", "")).removeprefix("Value error, ").rstrip(".")
    return f"{where}: {message}." if where else f"{message}."


def decode_audio(data: bytes, audio: AudioFormat) -> np.ndarray:
    """A binary chunk as mono float32 samples in ``[-1, 1]`` (channels averaged).

    Raises:
        ProtocolError: a length that is not a whole number of samples, or non-finite float samples (``bad_audio``).
    """
    if len(data) % audio.frame_bytes:
        raise ProtocolError(
            "bad_audio",
            f"an audio chunk of {len(data)} bytes is not a whole number of {audio.encoding} samples of "
            f"{audio.channels} channel(s) ({audio.frame_bytes} bytes each); send whole samples.",
        )
    samples = np.frombuffer(data, dtype=ENCODINGS[audio.encoding]).astype(np.float32)
    if audio.encoding == "s16":
        samples /= PCM16_SCALE
    elif not np.isfinite(samples).all():
        raise ProtocolError("bad_audio", "the audio chunk holds NaN or infinite samples; send finite floats.")
    return samples.reshape(-1, audio.channels).mean(axis=1) if audio.channels > 1 else samples


def pack_frame(index: int, audio_time: float, jpeg: bytes) -> bytes:
    """A binary frame message: :data:`FRAME_HEADER` then the JPEG bytes."""
    return FRAME_HEADER.pack(FRAME_MAGIC, index, audio_time) + jpeg


def unpack_frame(message: bytes) -> tuple[int, float, bytes]:
    """``(index, audio_time, jpeg)`` of a binary frame message (for clients and tests)."""
    magic, index, audio_time = FRAME_HEADER.unpack_from(message)
    if magic != FRAME_MAGIC:
        raise ProtocolError("bad_message", f"not a motionkit frame message (magic {magic!r}).")
    return index, audio_time, message[FRAME_HEADER.size :]
