"""What the routes of one app share: its analyzer, settings and video jobs. create_app builds one
:class:`WebState`; a route (or the WebSocket) asks for it with a parameter typed :data:`State`."""
from __future__ import annotations

import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import Depends
from starlette.requests import HTTPConnection

from ..detection import WholeImageDetector
from ..pipeline import Analyzer
from ..settings import WebSettings
from ..stream_step import StreamStep
from ..types import FrameResult, ImageResult
from .jobs import JobStore, VideoJob, run_job


class WebState:
    def __init__(self, analyzer: Analyzer, settings: WebSettings):
        self.analyzer = analyzer
        # Both emotion models now, not on the first photo or live frame: a broken install fails at start, and the
        # event loop (the live socket opens its stream there) never waits for a model to load.
        analyzer.load_models()
        self.settings = settings
        # One photo or live frame at a time through the analyzer's own detector (OpenCV's networks are not safe
        # to share between threads); a video job's stream detects with detectors of its own (StreamEngine).
        self._lock = threading.Lock()
        self._whole_image = WholeImageDetector(analyzer.detector.settings)
        self.jobs = JobStore(Path(settings.jobs_dir or tempfile.mkdtemp(prefix="emoscope-jobs-")),
                             settings.retention_seconds)
        self._video_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emoscope-video")
        # The worker's thread is not a daemon: the process waits for it at exit. So a stopping server ends the
        # running job at its next frame (see close).
        self._stopping = threading.Event()

    def analyze(self, picture: np.ndarray, name: str | None, crop: bool = False) -> ImageResult:
        """One photo; ``crop``: the photo is one face crop (no detection)."""
        with self._lock:
            return self.analyzer.analyze_array(picture, name, self._whole_image if crop else None)

    def process(self, step: StreamStep, frame: np.ndarray, timestamp: float) -> FrameResult:
        with self._lock:
            return step.process(frame, timestamp)

    def start(self, job: VideoJob, every: int) -> None:
        """Queue a video job; jobs run one at a time, in the background."""
        self._video_worker.submit(run_job, job, self.analyzer, self._stopping, every)

    def close(self) -> None:
        """The server stops: the running job ends at its next frame, queued ones never start, and a jobs
        folder of our own goes with its files."""
        self._stopping.set()
        self._video_worker.shutdown(wait=False, cancel_futures=True)
        if self.settings.jobs_dir is None:
            shutil.rmtree(self.jobs.root, ignore_errors=True)


async def web_state(connection: HTTPConnection) -> WebState:
    """The app's WebState, for a request or a WebSocket (async: no thread-pool hop to find it)."""
    return connection.app.state.web


State = Annotated[WebState, Depends(web_state)]
