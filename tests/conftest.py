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


def make_clip(path, example_image, frames=24, fps=12, audio=False):
    """A video made here: the example face panning across a 320x240 frame; optionally a 440 Hz tone as audio."""
    av = pytest.importorskip("av")
    face = cv2.resize(example_image, (240, 240))
    container = av.open(str(path), "w", options={"movflags": "+faststart"})  # header first: survives a cut
    video = container.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
    video.options = {"g": "6"}  # a keyframe every 6 frames, so a cut file still has whole groups
    tone = None
    if audio:
        tone = container.add_stream("aac", rate=16000)
        tone.layout = "mono"
    for i in range(frames):
        canvas = np.random.default_rng(i).integers(40, 90, (240, 320, 3), dtype=np.uint8)
        x = 10 + i
        canvas[:, x:x + 240] = face
        for packet in video.encode(av.VideoFrame.from_ndarray(canvas, format="bgr24")):
            container.mux(packet)
    for packet in video.encode():
        container.mux(packet)
    if tone is not None:
        samples = (np.sin(np.arange(16000 * frames // fps) * 2 * np.pi * 440 / 16000) * 8000).astype(np.int16)
        for start in range(0, len(samples), 1024):
            chunk = av.AudioFrame.from_ndarray(samples[None, start:start + 1024], format="s16", layout="mono")
            chunk.sample_rate = 16000
            for packet in tone.encode(chunk):
                container.mux(packet)
        for packet in tone.encode():
            container.mux(packet)
    container.close()
    return path
