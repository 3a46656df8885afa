"""The one app object behind `emoscope serve` and the tests: REST API and live WebSocket.

Errors are JSON ``{"error": message}`` with a 4xx status, never a stack trace. Uploads are
checked by content (decoded), not by name, and limited in size. Video jobs have unguessable IDs,
run one at a time in the background, and are deleted with their files on request or after the
retention time. Live frames are analysed in memory and never stored.
"""
from __future__ import annotations

import base64
import json
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import cv2
import numpy as np
from fastapi import FastAPI, File, HTTPException, Request, UploadFile, WebSocket, WebSocketDisconnect
import fastapi_offline
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import EmoScopeError, InputError
from ..detection import WholeImageDetector
from ..io.images import decode_image
from ..pipeline import Analyzer
from ..render import draw_faces
from ..settings import StreamSettings, WebSettings
from ..sinks import ClassViewFile, Sink, StreamInfo, SummaryFile, TimelineFile, VideoRecord
from ..types import FrameResult
from . import STATIC
from .jobs import JobStore, VideoJob
from .security import MULTIPART_SLACK, Guard, owner_of


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


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def decode_upload(data: bytes) -> np.ndarray:
    """Upload bytes -> BGR image, by content; HTTP 415 when they are not an image."""
    try:
        return decode_image(data)
    except InputError:
        raise HTTPException(415, "the upload is not a readable image") from None


def create_app(analyzer: Analyzer | None = None, settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    analyzer = analyzer or Analyzer()
    # One photo or live frame at a time through the analyzer's own detector (OpenCV's networks are not safe
    # to share between threads); a video job's stream detects with detectors of its own (StreamEngine).
    lock = threading.Lock()
    jobs_dir = Path(settings.jobs_dir or tempfile.mkdtemp(prefix="emoscope-jobs-"))
    jobs = JobStore(jobs_dir, settings.retention_seconds)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emoscope-video")
    # The executor's thread is not a daemon: the process waits for it at exit. So a stopping server ends the
    # running job at its next frame, also when uvicorn skips the lifespan's shutdown (a second Ctrl-C) and
    # only cancels the lifespan: hence the finally.
    stopping = threading.Event()

    @asynccontextmanager
    async def lifespan(_app):
        try:
            yield
        finally:
            stopping.set()
            executor.shutdown(wait=False, cancel_futures=True)
            if settings.jobs_dir is None:
                shutil.rmtree(jobs_dir, ignore_errors=True)

    app = FastAPI(title="EmoScope", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Faces and the probability of each emotion on them, for photos, videos and live frames.")
    app.add_middleware(Guard, tokens=settings.tokens,
                       body_limits={"/api/analyze": settings.max_image_bytes + MULTIPART_SLACK,
                                    "/api/videos": settings.max_video_bytes + MULTIPART_SLACK})
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Swagger UI 5 (OpenAPI 3.1, which FastAPI writes), as files shipped in the fastapi-offline package.
    app.mount("/swagger", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="swagger")

    # The API docs are a page like the others, from local files (offline, no inline script).
    for route, page in (("/", "photo.html"), ("/video", "video.html"), ("/live", "live.html"), ("/class", "class.html"), ("/docs", "docs.html")):
        app.add_api_route(route, _page(page), include_in_schema=False)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def unexpected_error(_request: Request, exc: Exception):
        return _error(500, "internal error")

    whole_image = WholeImageDetector(analyzer.detector.settings)

    def analyze_locked(picture: np.ndarray, name: str | None, crop: bool = False):
        with lock:
            return analyzer.analyze_array(picture, name, whole_image if crop else None)

    def process_locked(step, frame: np.ndarray, timestamp: float):
        with lock:
            return step.process(frame, timestamp)

    async def read_limited(upload: UploadFile, limit: int) -> bytes:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise too_large(limit)
        return data

    @app.get("/health")
    async def health():  # on the event loop: answers without waiting for a thread-pool thread
        return {"status": "ok", "version": __version__}

    @app.get("/api/models")
    def models():
        info = analyzer.classifier.info
        return {"emotion_model": {"file": analyzer.classifier.path.name, **info.metadata},
                "detector": analyzer.detector.name}

    @app.post("/api/analyze")
    async def analyze(image: UploadFile = File(..., description="a photo"), annotated: bool = False,
                      crop: bool = False):
        """The same JSON as the CLI for one image; ``annotated=true`` adds the annotated image as a PNG data URL;
        ``crop=true`` takes the photo as one face crop (no detection)."""
        picture = await run_in_threadpool(decode_upload, await read_limited(image, settings.max_image_bytes))
        result = await run_in_threadpool(analyze_locked, picture, image.filename, crop)
        body = result.to_dict()
        if annotated:
            ok, png = await run_in_threadpool(cv2.imencode, ".png", draw_faces(picture, result.faces))
            body["annotated_image"] = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()
        return body

    def run_job(job: VideoJob, every: int) -> None:
        from ..streaming import stream_video_file

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

    @app.post("/api/videos", status_code=202)
    async def create_video_job(request: Request, video: UploadFile = File(...), every: int = 1):
        if every < 1:
            raise HTTPException(422, "every must be at least 1")
        from ..io.video import VideoFileSource

        job = jobs.new(video.filename)
        try:
            await run_in_threadpool(save_limited, video.file, job.upload, settings.max_video_bytes)
            await run_in_threadpool(lambda: VideoFileSource(job.upload).close())  # by content: FFmpeg finds a video
        except HTTPException:
            jobs.delete(job)
            raise
        except EmoScopeError as error:
            jobs.delete(job)
            raise HTTPException(415, str(error).replace(str(job.upload), job.filename)) from None
        job.owner = owner_of(request)
        jobs.add(job)
        executor.submit(run_job, job, every)
        return job.to_dict()

    def find_job(job_id: str, request: Request) -> VideoJob:
        job = jobs.get(job_id)
        if job is None or job.owner != owner_of(request):  # another token's job does not exist for this one
            raise HTTPException(404, "no such job")
        return job

    @app.get("/api/videos")
    def list_jobs(request: Request):
        return {"jobs": [job.to_dict() for job in jobs.all() if job.owner == owner_of(request)]}

    @app.get("/api/videos/{job_id}")
    def get_job(job_id: str, request: Request):
        return find_job(job_id, request).to_dict()

    @app.get("/api/videos/{job_id}/{name}")
    def job_file(job_id: str, name: str, request: Request):
        job = find_job(job_id, request)
        if name not in VideoJob.FILES:  # a fixed list: no path from the request reaches the file system
            raise HTTPException(404, "no such file")
        path = job.folder / name
        if job.status != "done" or not path.exists():
            raise HTTPException(404, "not ready")
        return FileResponse(path, media_type=VideoJob.FILES[name], filename=f"{Path(job.filename).stem}-{name}")

    @app.delete("/api/videos/{job_id}")
    def remove_job(job_id: str, request: Request):
        job = find_job(job_id, request)
        if job.status == "running":
            raise HTTPException(409, "the job is running; delete it when it has finished")
        jobs.delete(job)
        return {"deleted": job_id}

    @app.websocket("/ws/live")
    async def live(socket: WebSocket, detect_every: int = StreamSettings.detect_every):
        """Live frames: send ``{"image": "data:image/jpeg;base64,..."}`` (or raw JPEG bytes), get the
        frame's JSON back with its frame number, time (seconds since the first frame) and track IDs.
        Send the next frame when the answer arrives. ``?detect_every=N`` runs the detector on every
        N-th frame and follows the faces in between."""
        await socket.accept()
        if detect_every < 1:
            await socket.close(code=1008, reason="detect_every must be at least 1")
            return
        step = analyzer.open_stream(StreamSettings(detect_every=detect_every))
        first_frame_at = None
        try:
            while True:
                message = await socket.receive()
                if message.get("type") == "websocket.disconnect":
                    break
                started = time.perf_counter()
                try:
                    frame = await run_in_threadpool(decode_upload, _frame_bytes(message, settings.max_image_bytes))
                except (ValueError, HTTPException) as problem:
                    await socket.send_json({"error": str(getattr(problem, "detail", problem))})
                    continue
                if first_frame_at is None:
                    first_frame_at = started
                result = await run_in_threadpool(process_locked, step, frame, started - first_frame_at)
                body = result.to_dict()
                body["timings_ms"]["server"] = round((time.perf_counter() - started) * 1e3, 2)
                await socket.send_json(body)
        except WebSocketDisconnect:
            pass

    return app


def _page(name: str):
    def serve_page():
        return FileResponse(STATIC / name, media_type="text/html")

    return serve_page


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the upload is larger than {limit / 2**20:g} MB")


def save_limited(source, target: Path, limit: int) -> None:
    """Copy an upload to ``target`` a chunk at a time (never whole in memory); 413 past ``limit`` bytes."""
    written = 0
    with open(target, "wb") as out:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise too_large(limit)
            out.write(chunk)


def _frame_bytes(message: dict, limit: int) -> bytes:
    """The image bytes of a live message: binary, or JSON ``{"image": data URL or base64}``."""
    data = message.get("bytes")
    if data is None:
        try:
            payload = json.loads(message.get("text") or "")
            text = payload["image"]
            data = base64.b64decode(text.split(",", 1)[-1], validate=True)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ValueError("a frame is JSON {\"image\": \"data:image/jpeg;base64,...\"} or JPEG/PNG bytes") from None
    if len(data) > limit:
        raise ValueError("the frame is too large")
    return data
