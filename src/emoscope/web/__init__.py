"""[web] extra: the FastAPI app behind `emoscope serve`, its REST API and (later) its pages."""
from .app import WebSettings, create_app

__all__ = ["WebSettings", "create_app"]
