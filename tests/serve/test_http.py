"""The HTTP side of ``motionkit serve``: the page, jobs, uploads, limits, the token (in-process ASGI client)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from motionkit.errors import ConfigError
from motionkit.io.video import read_video
from motionkit.serve.app import static_files
from motionkit.serve.security import COOKIE, check_binding

JOB_TIMEOUT = 300.0
"""Seconds a one-second job may take on a busy shared CPU (about 2 s when the machine is idle)."""
TOKEN = "t" * 24
NOD = {"edits": [{"kind": "oscillate", "axis": "pitch", "amplitude": 8, "frequency": 1.5, "end": 1.0}]}


def submit(client: TestClient, audio: Path, options: dict[str, Any] | None = None, **form: str) -> Any:
    with audio.open("rb") as file:
        files = {"audio": ("speech.wav", file, "audio/wav")}
        return client.post("/v1/jobs", files=files, data={"options": json.dumps(options or {}), **form})


def wait(client: TestClient, job_id: str, states: tuple[str, ...] = ("done", "failed", "cancelled")) -> Any:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not reach {states} in {JOB_TIMEOUT} s: {job}")


def test_the_page_and_its_files_are_served_without_any_other_site(client: Callable[..., TestClient]) -> None:
    app = client()
    page = app.get("/")
    assert page.status_code == 200
    assert '<script src="/static/app.js"></script>' in page.text
    for name, path in static_files().items():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), f"{name} loads from another site"
        for referenced in re.findall(r"/static/([\w.-]+)", text):
            assert referenced in static_files(), f"{name} refers to a missing file {referenced}"
        served = app.get(f"/static/{name}")
        assert served.status_code == 200
        assert served.content == path.read_bytes()
    assert app.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert app.get("/docs").status_code == 404  # FastAPI's Swagger page would load scripts from a CDN


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/%2e%2e%2fapp.py",
        "/static/..%2F..%2Fpyproject.toml",
        "/static/__init__.py",
        "/v1/jobs/..%2F..%2Fetc%2Fpasswd/video",
        "/v1/jobs/../../etc/passwd",
        "/v1/jobs/0123456789abcdef0123456789abcdef/video",
    ],
)
def test_no_path_reaches_a_file_the_server_did_not_make(client: Callable[..., TestClient], path: str) -> None:
    response = client().get(path)
    assert response.status_code in (404, 422), (path, response.status_code, response.text)
    assert "root:" not in response.text
    assert "[project]" not in response.text


def test_openapi_schema_lists_the_api(client: Callable[..., TestClient]) -> None:
    schema = client().get("/openapi.json").json()
    assert {"/v1/info", "/v1/portraits", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/video"} <= set(
        schema["paths"]
    )
    assert set(schema["paths"]["/v1/jobs/{job_id}"]) == {"get", "delete"}


def test_a_job_makes_the_video_and_survives_its_client(
    client: Callable[..., TestClient], speech_file: Callable[[float], Path], tmp_path: Path
) -> None:
    app = client()
    response = submit(app, speech_file(1.0), {"seed": 3, "edits": NOD}, portrait="synthetic-face")
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["state"] in ("queued", "running")
    # the submitting request is over; the job goes on and another client reads it
    job = wait(app, job["id"])
    assert job["state"] == "done", job
    assert job["progress"]["stage"] == "done"
    video = app.get(job["video"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    path = tmp_path / "job.mp4"
    path.write_bytes(video.content)
    frames, fps, audio = read_video(path)
    assert fps == 25.0
    assert frames.shape == (25, 64, 64, 3)
    assert audio is not None
    assert abs(len(audio) / 16000 - 1.0) < 0.05


def test_job_input_errors_are_clear(
    client: Callable[..., TestClient], speech_file: Callable[[float], Path], tmp_path: Path
) -> None:
    app = client()
    bad_options = submit(app, speech_file(1.0), {"seed": "x"})
    assert bad_options.status_code == 400
    assert "invalid options: seed: Input should be a valid integer" in bad_options.json()["message"]
    unknown = submit(app, speech_file(1.0), {"emotion": "joy"})
    assert unknown.status_code == 400
    assert "invalid emotion 'joy'" in unknown.json()["message"]
    no_portrait = submit(app, speech_file(1.0), portrait="mona-lisa")
    assert no_portrait.status_code == 400
    assert "unknown portrait 'mona-lisa'" in no_portrait.json()["message"]
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are notes, not speech")
    refused = submit(app, not_audio)
    assert refused.status_code == 400
    assert refused.json()["error"] == "AudioError"


def test_the_queue_is_bounded_and_jobs_cancel(
    client: Callable[..., TestClient], speech_file: Callable[[float], Path]
) -> None:
    app = client(max_queued_jobs=1)
    first = submit(app, speech_file(4.0), portrait="synthetic-face").json()
    full = submit(app, speech_file(1.0))
    assert full.status_code == 429
    assert full.headers["retry-after"]
    assert "queue is full (1 jobs queued or running)" in full.json()["message"]
    cancelled = app.delete(f"/v1/jobs/{first['id']}")
    assert cancelled.status_code == 200
    assert wait(app, first["id"])["state"] == "cancelled"
    assert app.get(f"/v1/jobs/{first['id']}/video").status_code == 409
    assert submit(app, speech_file(1.0)).status_code == 202


def test_uploads_over_the_limit_are_refused(client: Callable[..., TestClient], tmp_path: Path) -> None:
    limit = 50_000
    app = client(max_upload_bytes=limit)
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (limit + 1))
    with big.open("rb") as file:
        response = app.post("/v1/portraits", files={"image": ("big.png", file, "image/png")})
    assert response.status_code == 413
    assert response.json() == {
        "error": "too_large",
        "message": f"the image file is larger than {limit} bytes; send a smaller one.",
    }
    big.write_bytes(b"\0" * (4 * limit))  # the whole request is over its limit: refused before it is read
    response = submit(app, big)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert f"files may be {limit} bytes each" in response.json()["message"]


def test_portrait_uploads_must_be_images(client: Callable[..., TestClient], tmp_path: Path) -> None:
    from motionkit.assets import demo_portrait_path

    app = client()
    with demo_portrait_path().open("rb") as file:
        uploaded = app.post("/v1/portraits", files={"image": ("face.png", file, "image/png")})
    assert uploaded.status_code == 201
    assert re.fullmatch(r"[0-9a-f]{32}", uploaded.json()["id"])
    response = app.post("/v1/portraits", files={"image": ("face.png", b"not an image", "image/png")})
    assert response.status_code == 400
    assert response.json()["error"] == "ImageError"


def test_with_a_token_every_request_must_carry_it(client: Callable[..., TestClient]) -> None:
    app = client(token=TOKEN)
    refused = app.get("/v1/info")
    assert refused.status_code == 401
    assert "needs its token" in refused.json()["message"]
    assert app.get("/v1/info", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert app.get("/v1/info", headers={"Authorization": "Bearer " + "x" * 24}).status_code == 401
    assert app.get("/static/app.js").status_code == 401
    page = app.get(f"/?token={TOKEN}")
    assert page.status_code == 200
    assert page.cookies.get(COOKIE) == TOKEN
    assert app.get("/static/app.js").status_code == 200  # the page's cookie now goes with every request


def test_binding_beyond_this_machine_needs_a_token() -> None:
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", TOKEN)
    with pytest.raises(ConfigError, match=r"refusing to serve on 0\.0\.0\.0: .* pass --token TOKEN"):
        check_binding("0.0.0.0", None)
    with pytest.raises(ConfigError, match=r"refusing to serve on 192\.168\.1\.5"):
        check_binding("192.168.1.5", "")
