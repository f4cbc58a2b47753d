"""The service's settings: one frozen configuration, every default documented once here."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from motionkit.config._base import FrozenConfig

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts only this machine can reach: the service may bind them without a token."""
TOKEN_ENV = "MOTIONKIT_SERVE_TOKEN"
"""Environment variable read for the access token when ``--token`` is not given."""
MEBIBYTE = 1 << 20


class ServeConfig(FrozenConfig):
    """Limits and settings of ``motionkit serve`` (:func:`motionkit.serve.create_app`).

    Sizes are bytes, times seconds. The defaults suit one CPU or GPU worker process; every limit is enforced with
    a clear error (HTTP 413/429/503, or an ``error`` message on the socket).
    """

    host: str = Field(default="127.0.0.1", description="Interface to bind; others than loopback need a token.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port (0: any free port).")
    token: str | None = Field(
        default=None, min_length=16, description="Access token every request must carry (None: no token)."
    )
    max_sessions: int = Field(default=4, ge=1, description="Live sessions open at once; more are refused.")
    max_queued_jobs: int = Field(default=8, ge=1, description="Jobs waiting or running; more get HTTP 429.")
    kept_jobs: int = Field(default=32, ge=1, description="Finished jobs kept (with their videos) for download.")
    max_upload_bytes: int = Field(default=20 * MEBIBYTE, ge=1, description="Largest uploaded portrait or speech file.")
    max_job_seconds: float = Field(default=600.0, gt=0, description="Longest speech a job accepts.")
    max_message_bytes: int = Field(
        default=1 * MEBIBYTE, ge=1024, description="Largest WebSocket message (audio chunk or control)."
    )
    max_buffered_audio: float = Field(
        default=10.0, gt=0, description="Audio received but not yet processed before a session is closed as overloaded."
    )
    send_queue_frames: int = Field(
        default=8, ge=1, description="Frames waiting for a slow client; older ones are dropped (and counted)."
    )
    stats_interval: float = Field(default=1.0, gt=0, description="Seconds between stats messages on a live socket.")
    jpeg_quality: int = Field(default=80, ge=10, le=95, description="Default JPEG quality of live frames.")
    max_portraits: int = Field(default=64, ge=1, description="Uploaded portraits kept for live sessions (oldest go).")
    live_max_side: int = Field(
        default=320,
        ge=16,
        description="Longest side a live session draws a portrait at, for a model that draws the whole photo at its "
        "own size (the photo family): a larger portrait is shrunk to it, and a session's LiveConfig.max_side can only "
        "lower it. On a 2-core CPU one session of the photo model keeps real time at 320 (real-time factor 0.67, p95 "
        "latency 217 ms) and at 384 with less margin (0.74), and falls behind with the 512 x 600 demo photo (1.12; "
        "docs/serve.md); raise it on a faster machine. A learned renderer draws its face crop at its own size.",
    )
    job_max_side: int = Field(
        default=2048,
        ge=16,
        description="Longest side a video job draws a portrait at, for a model that draws the whole photo (as "
        "live_max_side): a phone photo of 12 megapixels would take about a minute of a 2-core CPU per second of "
        "video; a job's max_side can only lower it.",
    )
    work_dir: Path | None = Field(default=None, description="Where job files live (None: a temporary folder).")
