"""Shared fixtures. Real data comes from EMOSCOPE_DATA (default ../shared/data) and the YuNet
model from EMOSCOPE_MODELS (default ../shared/models); tests that need them skip when absent."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("EMOSCOPE_DATA", ROOT.parent / "shared" / "data"))
MODELS = Path(os.environ.get("EMOSCOPE_MODELS", ROOT.parent / "shared" / "models"))
EXAMPLE = ROOT / "examples" / "astronaut.png"
YUNET = MODELS / "yunet" / "face_detection_yunet_2023mar.onnx"


@pytest.fixture(autouse=True)
def _isolated_model_search(monkeypatch, tmp_path_factory):
    """Keep the user's cache out of tests; expose the shared model folder when present."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    if MODELS.is_dir():
        monkeypatch.setenv("EMOSCOPE_MODELS", str(MODELS))
    else:
        monkeypatch.delenv("EMOSCOPE_MODELS", raising=False)


@pytest.fixture
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA} (set EMOSCOPE_DATA)")
    return DATA


@pytest.fixture
def yunet_path() -> Path:
    if not YUNET.is_file():
        pytest.skip(f"YuNet model not found at {YUNET} (set EMOSCOPE_MODELS)")
    return YUNET


@pytest.fixture(scope="session")
def example_image() -> np.ndarray:
    return cv2.imread(str(EXAMPLE))


@pytest.fixture(scope="session")
def analyzer_haar():
    from emoscope import Analyzer

    return Analyzer("haar")
