"""Where the web pages' files are: served by the app, inlined by the class page."""
from pathlib import Path

STATIC = Path(__file__).parent / "static"
