"""Photos: one image in, the CLI's JSON out."""
import base64

import cv2
from fastapi import APIRouter, File, UploadFile
from starlette.concurrency import run_in_threadpool

from ...render import draw_faces
from ..state import State
from ..uploads import decode_upload, read_limited

router = APIRouter()


@router.post("/api/analyze")
async def analyze(state: State, image: UploadFile = File(..., description="a photo"), annotated: bool = False,
                  crop: bool = False):
    """The same JSON as the CLI for one image; ``annotated=true`` adds the annotated image as a PNG data URL;
    ``crop=true`` takes the photo as one face crop (no detection)."""
    picture = await run_in_threadpool(decode_upload, await read_limited(image, state.settings.max_image_bytes))
    result = await run_in_threadpool(state.analyze, picture, image.filename, crop)
    body = result.to_dict()
    if annotated:
        ok, png = await run_in_threadpool(cv2.imencode, ".png", draw_faces(picture, result.faces))
        body["annotated_image"] = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()
    return body
