"""Video jobs of the web app: each in its own folder under one private root, with an
unguessable ID; deleted with their files on request or once past the retention time."""
from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path


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
