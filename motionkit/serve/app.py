"""The ASGI application of ``motionkit serve``: the page, the job API, live sessions, and the guards around them.

Routes (OpenAPI schema at ``/openapi.json``; no Swagger page, which would load its scripts from a CDN)::

    GET    /                       the web page (plain HTML + JavaScript from this package; no CDN, works offline)
    GET    /static/{name}          the page's files (a fixed list)
    GET    /v1/info                model, presets, limits
    POST   /v1/portraits           upload a portrait for live sessions -> {"id"}
    POST   /v1/jobs                portrait + speech + options -> job (202); 429 when the queue is full
    GET    /v1/jobs/{id}           state and progress
    GET    /v1/jobs/{id}/video     the MP4 once done
    DELETE /v1/jobs/{id}           cancel
    WS     /v1/live                a live session (motionkit.serve.protocol)

Guards, outermost first: the token (:mod:`motionkit.serve.security`), the request-body limit (413 before a large
upload is read), then each route's own checks.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile, WebSocket
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from motionkit._version import __version__
from motionkit.errors import AudioError, MotionkitError
from motionkit.pipeline import Pipeline
from motionkit.serve.config import ServeConfig
from motionkit.serve.jobs import JOB_ID_PATTERN, Job, JobOptions, JobQueue, QueueFullError
from motionkit.serve.portraits import PortraitStore, default_preset, drawn_side
from motionkit.serve.protocol import ProtocolError, describe
from motionkit.serve.security import COOKIE, presented_token, token_ok
from motionkit.serve.sessions import CLOSE_POLICY, CLOSE_TRY_LATER, LiveConnection
from motionkit.types import EMOTION_LABELS

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
FORM_OVERHEAD = 64 * 1024
"""Bytes a multipart request may hold beyond its files (boundaries, headers, the options JSON)."""
UPLOAD_CHUNK = 1 << 16
HTTP_ERRORS = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 409: "not_ready", 413: "too_large"}
"""The ``error`` tag of each HTTP error status (the ``message`` says the rest)."""
JobId = Annotated[str, PathParam(pattern=JOB_ID_PATTERN, description="The id POST /v1/jobs returned.")]


def static_files() -> dict[str, Path]:
    """The page's files by name: the only files GET /static serves."""
    folder = Path(str(resources.files("motionkit.serve").joinpath("static")))
    return {path.name: path for path in folder.iterdir() if path.suffix in STATIC_TYPES}


class Guard:
    """ASGI middleware: the token on every HTTP request and WebSocket, and the request-body limit."""

    def __init__(self, app: ASGIApp, config: ServeConfig) -> None:
        self.app, self.config = app, config
        self.body_limit = 2 * config.max_upload_bytes + FORM_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        cookies = dict(part.strip().split("=", 1) for part in headers.get("cookie", "").split(";") if "=" in part)
        if not token_ok(self.config.token, presented_token(headers, query, cookies)):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": CLOSE_POLICY, "reason": "missing or wrong token"})
                return
            response = JSONResponse(
                {
                    "error": "unauthorized",
                    "message": "this server needs its token: send 'Authorization: Bearer "
                    "TOKEN', or open the page as /?token=TOKEN.",
                },
                status_code=401,
            )
            await response(scope, receive, send)
            return
        if scope["type"] == "http":
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.body_limit:
                await self._too_large(scope, receive, send)
                return
            receive = self._counting(receive)
        try:
            await self.app(scope, receive, send)
        except _BodyTooLargeError:
            await self._too_large(scope, receive, send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.body_limit:
                raise _BodyTooLargeError
            return message

        return counted

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.config.max_upload_bytes
        await JSONResponse(
            {"error": "too_large", "message": f"the request is too large: files may be {limit} bytes each."},
            status_code=413,
        )(scope, receive, send)


class _BodyTooLargeError(Exception):
    pass


def create_app(pipeline: Pipeline, config: ServeConfig | None = None) -> FastAPI:
    """The service for ``pipeline`` (see the module docstring); run it with uvicorn (``motionkit serve``)."""
    config = config or ServeConfig()
    page = static_files()
    state: dict[str, Any] = {"sessions": 0}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with tempfile.TemporaryDirectory(prefix="motionkit-serve-") as scratch:
            work = config.work_dir or Path(scratch)
            live_pool = ThreadPoolExecutor(max_workers=config.max_sessions, thread_name_prefix="motionkit-live")
            job_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="motionkit-job")
            state["portraits"] = PortraitStore(
                work / "portraits",
                config.max_portraits,
                default_preset(pipeline),
                cached_side=drawn_side(pipeline, None, config.live_max_side),
            )
            state["jobs"] = jobs = JobQueue(
                pipeline, work, config.max_queued_jobs, config.kept_jobs, job_pool, max_side=config.job_max_side
            )
            state["live_pool"] = live_pool
            jobs.start()
            try:
                yield
            finally:
                await jobs.stop()
                live_pool.shutdown(wait=True)
                job_pool.shutdown(wait=True, cancel_futures=True)

    app = FastAPI(
        title="motionkit",
        version=__version__,
        description="Talking heads from a portrait and speech: live sessions over WebSocket and video jobs.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's Swagger and ReDoc pages load their scripts from a CDN: the service works offline
        redoc_url=None,
    )
    app.add_middleware(Guard, config=config)

    @app.exception_handler(MotionkitError)
    async def motionkit_error(request: Request, error: MotionkitError) -> JSONResponse:
        if isinstance(error, QueueFullError):
            return JSONResponse({"error": "queue_full", "message": str(error)}, 429, headers={"Retry-After": "10"})
        return JSONResponse({"error": type(error).__name__, "message": str(error)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        tag = HTTP_ERRORS.get(error.status_code, "error")
        return JSONResponse({"error": tag, "message": error.detail}, error.status_code, headers=error.headers)

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        response = HTMLResponse(page["index.html"].read_text(encoding="utf-8"))
        if config.token is not None and request.query_params.get("token"):
            response.set_cookie(COOKIE, config.token, httponly=True, samesite="strict")
        return response

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in page:
            raise HTTPException(404, f"no file {name!r} here")
        return FileResponse(page[name], media_type=STATIC_TYPES[page[name].suffix])

    @app.get("/v1/info")
    async def info() -> dict[str, Any]:
        """The model, the portrait presets and the limits."""
        return {
            "version": __version__,
            "model": pipeline.manifest.get("name") or (pipeline.config.family if pipeline.config else None),
            "sample_rate": pipeline.sample_rate,
            "fps": float(pipeline.conditioner.fps),
            "presets": state["portraits"].presets,
            "emotions": list(EMOTION_LABELS),
            "limits": {
                "max_sessions": config.max_sessions,
                "open_sessions": state["sessions"],
                "max_queued_jobs": config.max_queued_jobs,
                "max_upload_bytes": config.max_upload_bytes,
                "max_message_bytes": config.max_message_bytes,
                "max_job_seconds": config.max_job_seconds,
            },
        }

    @app.post("/v1/portraits", status_code=201)
    async def upload_portrait(image: Annotated[UploadFile, File(description="A portrait image.")]) -> dict[str, str]:
        """Store a portrait for live sessions; ``start.portrait`` names it by the returned id."""
        data = await read_upload(image, "image", config.max_upload_bytes)
        return {"id": state["portraits"].add(data)}

    @app.post("/v1/jobs", status_code=202)
    async def submit_job(
        audio: Annotated[UploadFile, File(description="Speech (WAV, FLAC, MP3, M4A, ...).")],
        image: Annotated[UploadFile | None, File(description="The portrait (or give `portrait`).")] = None,
        portrait: Annotated[str, Form(description="A preset or uploaded portrait id, when no image.")] = "",
        options: Annotated[str, Form(description="JobOptions as JSON.")] = "{}",
    ) -> dict[str, Any]:
        """Queue a video: returns the job (poll GET /v1/jobs/{id}, then download its video)."""
        try:
            parsed = JobOptions.model_validate_json(options)
        except ValidationError as exc:
            raise ProtocolError("bad_message", f"invalid options: {describe(exc, skip=0)}") from None
        jobs: JobQueue = state["jobs"]
        job_id, folder = jobs.new_job_folder()
        try:
            audio_path = folder / "speech"
            audio_path.write_bytes(await read_upload(audio, "audio", config.max_upload_bytes))
            if image is not None:
                portrait_path = folder / "portrait"
                portrait_path.write_bytes(await read_upload(image, "image", config.max_upload_bytes))
            else:
                portrait_path = state["portraits"].resolve(portrait)
            await asyncio.get_running_loop().run_in_executor(None, check_audio_length, audio_path, config, pipeline)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        job = jobs.submit(Job(id=job_id, folder=folder, portrait=portrait_path, audio=audio_path, options=parsed))
        return job.summary()

    def find(job_id: str) -> Job:
        job = state["jobs"].get(job_id)
        if job is None:
            raise HTTPException(
                404, f"no job {job_id}; finished jobs are kept until {config.kept_jobs} newer ones end."
            )
        return job

    @app.get("/v1/jobs/{job_id}")
    async def job_status(job_id: JobId) -> dict[str, Any]:
        """State (queued, running, done, failed, cancelled) and progress of a job."""
        return find(job_id).summary()

    @app.get("/v1/jobs/{job_id}/video", response_class=FileResponse)
    async def job_video(job_id: JobId) -> FileResponse:
        """The finished job's MP4."""
        job = find(job_id)
        if job.state != "done":
            raise HTTPException(409, f"job {job_id} is {job.state}; its video exists once it is done.")
        return FileResponse(job.video, media_type="video/mp4", filename=f"motionkit-{job_id}.mp4")

    @app.delete("/v1/jobs/{job_id}")
    async def cancel_job(job_id: JobId) -> dict[str, Any]:
        """Cancel a queued or running job (a running one stops at its next progress step)."""
        job = find(job_id)
        state["jobs"].cancel(job)
        return job.summary()

    @app.websocket("/v1/live")
    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        if state["sessions"] >= config.max_sessions:
            error = ProtocolError(
                "session_limit",
                f"all {config.max_sessions} live sessions are in use; retry later or use another server.",
                fatal=True,
            )
            await websocket.send_json(error.to_message())
            await websocket.close(CLOSE_TRY_LATER)
            return
        state["sessions"] += 1
        try:
            connection = LiveConnection(websocket, pipeline, config, state["portraits"], state["live_pool"])
            await connection.serve()
        finally:
            state["sessions"] -= 1

    return app


async def read_upload(upload: UploadFile, what: str, limit: int) -> bytes:
    """An uploaded file's bytes; HTTP 413 as soon as it passes ``limit``."""
    chunks, size = [], 0
    while chunk := await upload.read(UPLOAD_CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the {what} file is larger than {limit} bytes; send a smaller one.")
        chunks.append(chunk)
    if not size:
        raise HTTPException(400, f"the {what} file is empty.")
    return b"".join(chunks)


def check_audio_length(path: Path, config: ServeConfig, pipeline: Pipeline) -> None:
    """Refuse speech longer than ``max_job_seconds`` (and unreadable audio) before queueing the job."""
    waveform = pipeline.load_audio(path)
    seconds = len(waveform) / pipeline.sample_rate
    if seconds > config.max_job_seconds:
        raise AudioError(f"the speech lasts {seconds:.0f} s; a job may take at most {config.max_job_seconds:g} s.")
