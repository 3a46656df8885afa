"""Where benchmarks find the shared research data (EMOSCOPE_DATA, EMOSCOPE_MODELS)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMOSCOPE_DATA", ROOT.parent / "shared" / "data"))
MODELS = Path(os.environ.get("EMOSCOPE_MODELS", ROOT.parent / "shared" / "models"))
os.environ.setdefault("EMOSCOPE_MODELS", str(MODELS))


def require(path: Path) -> Path:
    if not path.exists():
        sys.exit(f"skipped: {path} not found (set EMOSCOPE_DATA / EMOSCOPE_MODELS to the shared data)")
    return path
