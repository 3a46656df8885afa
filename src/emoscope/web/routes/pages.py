"""The pages, as HTML files of the package (their scripts and styles are under /static). The API docs
are a page like the others, from local files (offline, no inline script)."""
from fastapi import APIRouter
from fastapi.responses import FileResponse

from ..assets import STATIC

PAGES = {"/": "photo.html", "/video": "video.html", "/live": "live.html", "/class": "class.html",
         "/docs": "docs.html"}

router = APIRouter()


def _page(name: str):
    def serve_page():
        return FileResponse(STATIC / name, media_type="text/html")

    return serve_page


for path, page in PAGES.items():
    router.add_api_route(path, _page(page), include_in_schema=False)
