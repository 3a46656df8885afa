"""Video jobs of the web app: each in its own folder under one private root, with an
unguessable ID; run by :func:`run_job` into its files; deleted with them on request or once past
the retention time."""
from __future__ import annotations

import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EmoScopeError
from ..pipeline import Analyzer
from ..sinks import ClassViewFile, Sink, StreamInfo, SummaryFile, TimelineFile, VideoRecord
from ..streaming import stream_video_file
from ..types import FrameResult


@dataclass
class VideoJob:
    id: str
    filename: str
    folder: Path
    created: float = field(default_factory=time.time)
    status: str = "queued"          # queued | running | done | failed
    frames_done: int = 0
    frames_total: int | None = None
    error: str | None = None
    owner: str | None = None        # the id of the token that made it (web.security); None on an open server

    FILES = {"annotated.mp4": "video/mp4", "timeline.csv": "text/csv", "summary.json": "application/json",
             "class.json": "application/json"}

    @property
    def upload(self) -> Path:
        """The uploaded video, kept only until it is processed."""
        return self.folder / "upload"

    def to_dict(self) -> dict:
        progress = (self.frames_done / self.frames_total) if self.frames_total else None
        return {"id": self.id, "filename": self.filename, "status": self.status, "frames_done": self.frames_done,
                "frames_total": self.frames_total, "progress": None if progress is None else round(min(progress, 1), 4),
                "error": self.error, "created": self.created,
                "files": {name: f"/api/videos/{self.id}/{name}" for name in self.FILES
                          if (self.folder / name).exists()} if self.status == "done" else {}}


class JobStore:
    """The jobs of one app; every lookup first drops the jobs past ``retention_seconds``."""

    def __init__(self, root: Path, retention_seconds: float):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.retention_seconds = retention_seconds
        self._jobs: dict[str, VideoJob] = {}

    def new(self, filename: str | None) -> VideoJob:
        """A job with an empty folder, not yet listed (see :meth:`add`)."""
        self.expire()
        job_id = secrets.token_urlsafe(16)
        job = VideoJob(job_id, Path(filename or "video").name, self.root / job_id)
        job.folder.mkdir()
        return job

    def add(self, job: VideoJob) -> None:
        self._jobs[job.id] = job

    def get(self, job_id: str) -> VideoJob | None:
        self.expire()
        return self._jobs.get(job_id)

    def all(self) -> list[VideoJob]:
        self.expire()
        return sorted(self._jobs.values(), key=lambda j: j.created)

    def delete(self, job: VideoJob) -> None:
        self._jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def expire(self) -> None:
        now = time.time()
        for job in [j for j in self._jobs.values()
                    if now - j.created > self.retention_seconds and j.status != "running"]:
            self.delete(job)


class ServerStopping(Exception):
    """Ends a video job when the server stops."""


class JobProgress(Sink):
    """A video job's frames to do and done, as its stream runs; ends the job when the server stops."""

    def __init__(self, job: VideoJob, stopping: threading.Event):
        self.job = job
        self.stopping = stopping

    def open(self, stream: StreamInfo) -> "JobProgress":
        self.job.frames_total = stream.frames
        return super().open(stream)

    def add(self, _result: FrameResult) -> None:
        if self.stopping.is_set():
            raise ServerStopping("the server stopped before the video was processed")
        self.job.frames_done += 1


def run_job(job: VideoJob, analyzer: Analyzer, stopping: threading.Event, every: int) -> None:
    """Process the job's upload into its files (every ``every``-th frame); the job says how it ended."""
    job.status = "running"
    try:
        sinks = [JobProgress(job, stopping), VideoRecord(job.folder / "annotated.mp4"),
                 TimelineFile(job.folder / "timeline.csv"), SummaryFile(job.folder / "summary.json"),
                 ClassViewFile(job.folder / "class.json")]
        summary = stream_video_file(job.upload, analyzer, sinks, every=every, title=job.filename)
        job.status = "done" if job.frames_done else "failed"
        job.error = summary.stopped_at
    except (EmoScopeError, ServerStopping) as error:
        job.status, job.error = "failed", str(error)
    except Exception:  # keep the server alive; the job says it failed
        job.status, job.error = "failed", "internal error while processing the video"
    finally:
        job.upload.unlink(missing_ok=True)  # the upload is not kept once processed
