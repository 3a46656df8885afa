"""[web] extra: the FastAPI app behind `emoscope serve` (REST API, live WebSocket, pages), and the
class view as one offline HTML file (class_page.py). FastAPI is imported with the app only, so the
class page needs no more than the core."""
__all__ = ["WebSettings", "create_app"]


def __getattr__(name: str):
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
