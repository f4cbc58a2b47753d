"""The service's portraits at a live size (LiveConfig.max_side, the server's bounds): shrunk, encoded per session
unless at the server's own size."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from motionkit.assets import bundled_model_path
from motionkit.io.video import read_video
from motionkit.pipeline import Pipeline
from motionkit.serve.app import create_app
from motionkit.serve.config import ServeConfig
from motionkit.serve.portraits import PortraitStore, drawn_side
from tests.serve.test_http import JOB_TIMEOUT


def test_a_live_size_draws_the_photo_smaller_and_is_not_cached(tmp_path: Path) -> None:
    pipeline = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    store = PortraitStore(tmp_path, 4, "grace-hopper")
    full = store.encode("", pipeline)
    assert store.encode("grace-hopper", pipeline) is full  # the default preset, encoded once
    small = store.encode("", pipeline, max_side=256)
    assert pipeline.renderer.frame_shape(full) == (600, 512)
    assert pipeline.renderer.frame_shape(small) == (256, 218)
    # clients choose the size: each is encoded for its session only, so no size can fill the cache
    assert store.encode("", pipeline, max_side=256) is not small
    assert list(store.encodings) == ["grace-hopper"]


def test_the_server_bounds_the_size_a_whole_photo_is_drawn_at(tmp_path: Path, pipeline: Pipeline) -> None:
    """For the photo family the server's bound caps a session's (and a job's) side, and is the cached size; a
    learned renderer draws its own crop size, so a request passes as it is."""
    photo = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    assert photo.draws_whole_photo
    assert not pipeline.draws_whole_photo
    assert [drawn_side(photo, requested, 384) for requested in (None, 256, 1000)] == [384, 256, 384]
    assert [drawn_side(pipeline, requested, 384) for requested in (None, 256)] == [None, 256]
    store = PortraitStore(tmp_path, 4, "grace-hopper", cached_side=320)
    bounded = store.encode("", photo, max_side=320)
    assert photo.renderer.frame_shape(bounded) == (320, 273)
    assert store.encode("grace-hopper", photo, max_side=320) is bounded  # the server's size: encoded once
    assert store.encode("", photo, max_side=256) is not store.encode("", photo, max_side=256)
    assert list(store.encodings) == ["grace-hopper"]


def test_a_job_draws_the_photo_at_most_at_the_servers_side(
    tmp_path: Path, speech_file: Callable[[float], Path]
) -> None:
    photo = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    with TestClient(create_app(photo, ServeConfig(job_max_side=300))) as app, speech_file(0.5).open("rb") as audio:
        files = {"audio": ("speech.wav", audio, "audio/wav")}
        options = json.dumps({"max_side": 1000})  # a client cannot raise the bound
        response = app.post("/v1/jobs", files=files, data={"options": options, "portrait": "grace-hopper"})
        assert response.status_code == 202, response.text
        job = response.json()
        deadline = time.monotonic() + JOB_TIMEOUT
        while job["state"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.1)
            job = app.get(f"/v1/jobs/{job['id']}").json()
        assert job["state"] == "done", job
        (tmp_path / "job.mp4").write_bytes(app.get(job["video"]).content)
    frames, _, _ = read_video(tmp_path / "job.mp4")
    assert frames.shape[1:3] == (300, 256)  # Grace Hopper's 600 x 512 shrunk to the bound


def test_a_live_session_of_the_photo_family_draws_at_the_servers_side() -> None:
    photo = Pipeline.from_pretrained(bundled_model_path("photo-motion"))
    with TestClient(create_app(photo, ServeConfig(live_max_side=300))) as app:
        for live, size in ((None, (256, 300)), ({"max_side": 220}, (188, 220)), ({"max_side": 900}, (256, 300))):
            with app.websocket_connect("/v1/live") as socket:
                socket.send_json({"type": "start", "portrait": "grace-hopper", "live": live})
                ready = socket.receive_json()
                assert ready["type"] == "ready", ready
                assert (ready["width"], ready["height"]) == size


def test_a_shrunk_portrait_keeps_the_face_box_beside_its_file(tmp_path: Path, pipeline: Pipeline) -> None:
    """The synthetic-face preset's face is given by its .face.json; a session size shrinks the box with the
    image, so the learned renderer crops the same face at any size."""
    store = PortraitStore(tmp_path, 4, "synthetic-face")
    full = store.encode("synthetic-face", pipeline)
    half = store.encode("synthetic-face", pipeline, max_side=64)
    assert half.image.shape == full.image.shape  # type: ignore[attr-defined]
    difference = (half.image - full.image).abs().mean()  # type: ignore[attr-defined]
    assert float(difference) < 0.1  # the same crop, at half the source resolution
