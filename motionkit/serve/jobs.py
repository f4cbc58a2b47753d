"""HTTP jobs: portrait + speech + options -> an MP4, queued, one at a time per worker process.

A job lives on the server, not in the request that submitted it: the client may disconnect and come back for its
progress and video. The queue is bounded (:class:`QueueFullError` when ``max_queued_jobs`` are waiting or running);
finished jobs are kept, newest :attr:`ServeConfig.kept_jobs`, and the oldest are deleted with their files. Files are
named by the server (``<work>/jobs/<32 hex id>/``), never by the client.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from motionkit.config import GuidanceConfig
from motionkit.config._base import FrozenConfig
from motionkit.errors import MotionkitError
from motionkit.face.crop import fit_portrait
from motionkit.io.video import DEFAULT_CRF, DEFAULT_PRESET, MAX_CRF, X264Preset
from motionkit.pipeline import Pipeline
from motionkit.serve.portraits import drawn_side
from motionkit.serve.protocol import _emotion
from motionkit.space import EditProgram

JOB_ID_PATTERN = "^[0-9a-f]{32}$"
"""Job ids are ``uuid4().hex``; routes accept nothing else."""
JobState = Literal["queued", "running", "done", "failed", "cancelled"]
FINISHED: tuple[JobState, ...] = ("done", "failed", "cancelled")


class JobOptions(FrozenConfig):
    """What ``motionkit generate`` takes besides its files, as JSON (the ``options`` form field of POST /v1/jobs).

    Example: ``{"emotion": "happy", "seed": 0, "edits": {"edits": [{"kind": "oscillate", "axis": "pitch",
    "amplitude": 8, "frequency": 1.5, "end": 2}]}}``.
    """

    emotion: str | dict[str, Any] | None = Field(
        default=None, description="Label, 'predicted' or a specification (default: the model's)."
    )
    seed: int = Field(default=0, description="Noise seed: the same seed gives the same video.")
    nfe: int | None = Field(default=None, ge=2, description="ODE time-grid points (default: the model's).")
    solver: str | None = Field(default=None, description="ODE solver (default: the model's).")
    guidance: GuidanceConfig | None = Field(default=None, description="Audio/emotion guidance (default: the model's).")
    edits: EditProgram | None = Field(default=None, description="Edit program applied to the motion.")
    crop: bool = Field(default=True, description="Detect and crop the face (False: the whole image).")
    max_side: int | None = Field(
        default=None,
        ge=16,
        description="Shrink the portrait first so that its longer side is at most this many pixels (a model that "
        "draws the whole photo makes the video at that size); the server's job_max_side bounds it.",
    )
    crf: int = Field(default=DEFAULT_CRF, ge=0, le=MAX_CRF, description="x264 quality.")
    x264_preset: X264Preset = Field(default=DEFAULT_PRESET, description="x264 speed preset.")

    @field_validator("emotion")
    @classmethod
    def _check_emotion(cls, value: object) -> object:
        return _emotion(value)


class QueueFullError(MotionkitError):
    """The job queue is full (HTTP 429)."""


class JobCancelledError(Exception):
    """Raised inside a running job's progress callback once the job is cancelled."""


@dataclass
class Job:
    """One job's state, as GET /v1/jobs/{id} reports it (:meth:`summary`)."""

    id: str
    folder: Path
    portrait: Path
    audio: Path
    options: JobOptions
    state: JobState = "queued"
    stage: str = "queued"
    done: int = 0
    total: int = 0
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    cancel_requested: bool = False

    @property
    def video(self) -> Path:
        return self.folder / "video.mp4"

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "progress": {"stage": self.stage, "done": self.done, "total": self.total},
            "error": self.error,
            "created": self.created,
            "finished": self.finished,
            "video": f"/v1/jobs/{self.id}/video" if self.state == "done" else None,
        }


class JobQueue:
    """Bounded FIFO of jobs run one at a time in ``executor`` (see the module docstring).

    Args:
        pipeline: the model that makes the videos.
        work: folder under which each job gets ``jobs/<id>/``.
        max_queued: jobs queued or running at once.
        kept: finished jobs kept for download.
        executor: where the (blocking) generation runs.
        max_side: the longest side a model that draws the whole photo draws a job's portrait at
            (:attr:`ServeConfig.job_max_side`).
    """

    def __init__(
        self, pipeline: Pipeline, work: Path, max_queued: int, kept: int, executor: Executor, max_side: int
    ) -> None:
        self.pipeline, self.max_queued, self.kept, self.executor = pipeline, max_queued, kept, executor
        self.max_side = max_side
        self.root = work / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.pending: asyncio.Queue[Job] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop taking jobs; a running job stops at its next progress step (the server is shutting down)."""
        for job in self.jobs.values():
            self.cancel(job)
        if self.worker is not None:
            self.worker.cancel()
            await asyncio.gather(self.worker, return_exceptions=True)

    def active(self) -> int:
        return sum(job.state in ("queued", "running") for job in self.jobs.values())

    def new_job_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (created) folder, where the caller writes the uploads before :meth:`submit`."""
        if self.active() >= self.max_queued:
            raise QueueFullError(f"the job queue is full ({self.max_queued} jobs queued or running); retry later.")
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir()
        return job_id, folder

    def submit(self, job: Job) -> Job:
        if self.active() >= self.max_queued:
            shutil.rmtree(job.folder, ignore_errors=True)
            raise QueueFullError(f"the job queue is full ({self.max_queued} jobs queued or running); retry later.")
        self.jobs[job.id] = job
        self.pending.put_nowait(job)
        self._forget_old()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def cancel(self, job: Job) -> None:
        """Cancel a queued job at once, a running one at its next progress report; finished ones stay as they are."""
        if job.state == "queued":
            self._finish(job, "cancelled")
        elif job.state == "running":
            job.cancel_requested = True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            job = await self.pending.get()
            if job.state != "queued":
                continue
            job.state = "running"
            try:
                await loop.run_in_executor(self.executor, self._generate, job)
            except JobCancelledError:
                self._finish(job, "cancelled")
            except MotionkitError as error:
                self._finish(job, "failed", str(error))
            except Exception as error:  # a bug: reported in the job, the service goes on
                self._finish(job, "failed", f"internal error ({type(error).__name__}: {error})")
            else:
                self._finish(job, "done")

    def _generate(self, job: Job) -> None:
        options = job.options
        emotion = options.emotion
        if emotion is None and self.pipeline.default_emotion == "neutral":
            emotion = "neutral"
        progress = self._progress(job)
        side = drawn_side(self.pipeline, options.max_side, self.max_side)
        portrait, box = fit_portrait(job.portrait, side)
        video = self.pipeline.generate(
            portrait,
            job.audio,
            emotion,
            seed=options.seed,
            nfe=options.nfe,
            solver=options.solver,
            guidance=options.guidance,
            edits=options.edits,
            crop=options.crop,
            box=box,
            progress=progress,
        )
        video.save(job.video, crf=options.crf, preset=options.x264_preset, overwrite=True, progress=progress)

    @staticmethod
    def _progress(job: Job) -> Callable[[str, int, int], None]:
        def report(stage: str, done: int, total: int) -> None:
            if job.cancel_requested:
                raise JobCancelledError
            job.stage, job.done, job.total = stage, done, total

        return report

    def _finish(self, job: Job, state: JobState, error: str | None = None) -> None:
        job.state, job.error, job.finished = state, error, time.time()
        job.stage = state
        if state != "done":
            shutil.rmtree(job.folder, ignore_errors=True)

    def _forget_old(self) -> None:
        finished = [job for job in self.jobs.values() if job.state in FINISHED]
        for job in finished[: max(len(finished) - self.kept, 0)]:
            del self.jobs[job.id]
            shutil.rmtree(job.folder, ignore_errors=True)
