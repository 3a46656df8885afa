"""Video jobs: upload a video, follow the job, fetch its files, delete it. A token sees only the jobs it made."""
from pathlib import Path

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from ...errors import EmoScopeError
from ...io.video import VideoFileSource
from ..jobs import VideoJob
from ..security import owner_of
from ..state import State, WebState
from ..uploads import save_limited

router = APIRouter()


@router.post("/api/videos", status_code=202)
async def create_video_job(request: Request, state: State, video: UploadFile = File(...), every: int = 1):
    if every < 1:
        raise HTTPException(422, "every must be at least 1")
    job = state.jobs.new(video.filename)
    try:
        await run_in_threadpool(save_limited, video.file, job.upload, state.settings.max_video_bytes)
        await run_in_threadpool(lambda: VideoFileSource(job.upload).close())  # by content: FFmpeg finds a video
    except HTTPException:
        state.jobs.delete(job)
        raise
    except EmoScopeError as error:
        state.jobs.delete(job)
        raise HTTPException(415, str(error).replace(str(job.upload), job.filename)) from None
    job.owner = owner_of(request)
    state.jobs.add(job)
    state.start(job, every)
    return job.to_dict()


def find_job(state: WebState, job_id: str, request: Request) -> VideoJob:
    job = state.jobs.get(job_id)
    if job is None or job.owner != owner_of(request):  # another token's job does not exist for this one
        raise HTTPException(404, "no such job")
    return job


@router.get("/api/videos")
def list_jobs(request: Request, state: State):
    return {"jobs": [job.to_dict() for job in state.jobs.all() if job.owner == owner_of(request)]}


@router.get("/api/videos/{job_id}")
def get_job(job_id: str, request: Request, state: State):
    return find_job(state, job_id, request).to_dict()


@router.get("/api/videos/{job_id}/{name}")
def job_file(job_id: str, name: str, request: Request, state: State):
    job = find_job(state, job_id, request)
    if name not in VideoJob.FILES:  # a fixed list: no path from the request reaches the file system
        raise HTTPException(404, "no such file")
    path = job.folder / name
    if job.status != "done" or not path.exists():
        raise HTTPException(404, "not ready")
    return FileResponse(path, media_type=VideoJob.FILES[name], filename=f"{Path(job.filename).stem}-{name}")


@router.delete("/api/videos/{job_id}")
def remove_job(job_id: str, request: Request, state: State):
    job = find_job(state, job_id, request)
    if job.status == "running":
        raise HTTPException(409, "the job is running; delete it when it has finished")
    state.jobs.delete(job)
    return {"deleted": job_id}
