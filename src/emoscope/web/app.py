"""The one app object behind `emoscope serve` and the tests: create_app builds the state the routes
share (state.py), puts the Guard (security.py) in front and includes the routers (routes/).

Errors are JSON ``{"error": message}`` with a 4xx status, never a stack trace. Uploads are
checked by content (decoded), not by name, and limited in size. Video jobs have unguessable IDs,
run one at a time in the background, and are deleted with their files on request or after the
retention time. Live frames are analysed in memory and never stored.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..pipeline import Analyzer
from ..settings import WebSettings
from .assets import STATIC
from .routes import images, info, live, pages, videos
from .security import MULTIPART_SLACK, Guard
from .state import WebState


def create_app(analyzer: Analyzer | None = None, settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    app = FastAPI(title="EmoScope", version=__version__, lifespan=_lifespan, docs_url=None, redoc_url=None,
                  exception_handlers=ERROR_HANDLERS,
                  description="Faces and the probability of each emotion on them, for photos, videos and live frames.")
    app.state.web = WebState(analyzer or Analyzer(), settings)
    app.add_middleware(Guard, tokens=settings.tokens,
                       body_limits={"/api/analyze": settings.max_image_bytes + MULTIPART_SLACK,
                                    "/api/videos": settings.max_video_bytes + MULTIPART_SLACK})
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Swagger UI 5 (OpenAPI 3.1, which FastAPI writes), as files shipped in the fastapi-offline package.
    app.mount("/swagger", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"), name="swagger")
    for routes in (pages, info, images, videos, live):
        app.include_router(routes.router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI):
    # A finally: uvicorn skips the lifespan's shutdown on a second Ctrl-C and only cancels it, and the running
    # video job must still end.
    try:
        yield
    finally:
        app.state.web.close()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _http_error(_request: Request, exc: StarletteHTTPException):
    return _error(exc.status_code, str(exc.detail))


async def _validation_error(_request: Request, exc: RequestValidationError):
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return _error(422, f"{where}: {first.get('msg', 'invalid request')}")


async def _unexpected_error(_request: Request, _exc: Exception):
    return _error(500, "internal error")


ERROR_HANDLERS = {StarletteHTTPException: _http_error, RequestValidationError: _validation_error,
                  Exception: _unexpected_error}
