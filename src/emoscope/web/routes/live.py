"""Live frames over a WebSocket, analysed in memory and never stored."""
import base64
import json
import time

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from ...settings import StreamSettings
from ..state import State
from ..uploads import decode_upload

router = APIRouter()


@router.websocket("/ws/live")
async def live(socket: WebSocket, state: State, detect_every: int = StreamSettings.detect_every):
    """Live frames: send ``{"image": "data:image/jpeg;base64,..."}`` (or raw JPEG bytes), get the
    frame's JSON back with its frame number, time (seconds since the first frame) and track IDs.
    Send the next frame when the answer arrives. ``?detect_every=N`` runs the detector on every
    N-th frame and follows the faces in between."""
    await socket.accept()
    if detect_every < 1:
        await socket.close(code=1008, reason="detect_every must be at least 1")
        return
    step = state.analyzer.open_stream(StreamSettings(detect_every=detect_every))
    first_frame_at = None
    try:
        while True:
            message = await socket.receive()
            if message.get("type") == "websocket.disconnect":
                break
            started = time.perf_counter()
            try:
                frame = await run_in_threadpool(decode_upload, frame_bytes(message, state.settings.max_image_bytes))
            except (ValueError, HTTPException) as problem:
                await socket.send_json({"error": str(getattr(problem, "detail", problem))})
                continue
            if first_frame_at is None:
                first_frame_at = started
            result = await run_in_threadpool(state.process, step, frame, started - first_frame_at)
            body = result.to_dict()
            body["timings_ms"]["server"] = round((time.perf_counter() - started) * 1e3, 2)
            await socket.send_json(body)
    except WebSocketDisconnect:
        pass


def frame_bytes(message: dict, limit: int) -> bytes:
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
