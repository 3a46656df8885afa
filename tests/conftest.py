"""Shared fixtures. Real data comes from EMOSCOPE_DATA (default ../shared/data) and the YuNet
model from EMOSCOPE_MODELS (default ../shared/models); tests that need them skip when absent."""
from __future__ import annotations

import csv
import json
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


def elementary_stream(clip, raw):
    """``clip``'s H.264 packets as a raw elementary stream at ``raw``: no timestamps, so no keyframe can be
    placed in time (a broken index, for segment planning)."""
    import av

    with av.open(str(clip)) as source, av.open(str(raw), "w", format="h264") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    return raw


TINY_METADATA = {"labels": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"], "input_size": [48, 48],
                 "channels": 1, "color": "gray", "mean": [0.5], "std": [0.25],
                 "crop": {"margin": 0.1, "shift_y": 0.0, "align_eyes": True}, "outputs": "logits"}


def tiny_model(path, metadata=TINY_METADATA, seed=0, side=48):
    """A 7-class linear emotion model on side x side gray input (48 by default; the metadata's input_size is
    as given), built with onnx.helper (no torch needed)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    rng = np.random.default_rng(seed)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [side * side, 7],
                                rng.normal(size=side * side * 7).astype(np.float32) * 0.01)
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, side * side])
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, side, side])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 7])], [weight, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(model, str(path))
    return path


FACE_TABLE_COLUMNS = ["file", "photo", "face_id", "label", "emotion", "split", "x", "y", "w", "h"]


def face_image(box, size=40, colour=True, seed=0):
    """A size x size image, dark noise with a bright face box (x, y, w, h) in it: BGR, or gray."""
    image = np.random.default_rng(seed).integers(0, 40, (size, size, 3), dtype=np.uint8)
    x, y, w, h = (int(round(v)) for v in box)
    image[y:y + h, x:x + w] = (200, 180, 160)
    return image if colour else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def write_face_table(root, faces, size=40):
    """An ExpW-style folder: ``{split}/{folder}/{name}.jpg`` crops and ``faces.csv`` with each face box.

    ``faces``: dicts with split, folder (the class folder), name, box (x, y, w, h) and optionally emotion
    (the table's, default: the folder), colour (default True), write (False: a row whose file is missing)."""
    from emoscope.labels import EMOTIONS, canonical_label

    root = Path(root)
    rows = []
    for i, face in enumerate(faces):
        file = f"{face['split']}/{face['folder']}/{face['name']}.jpg"
        if face.get("write", True):
            (root / file).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / file), face_image(face["box"], size, face.get("colour", True), seed=i))
        emotion = face.get("emotion", face["folder"])
        label = canonical_label(emotion)
        rows.append([file, f"{face['name']}.jpg", 0, EMOTIONS.index(label) if label in EMOTIONS else -1, emotion,
                     face["split"], *face["box"]])
    with open(root / "faces.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FACE_TABLE_COLUMNS)
        writer.writerows(rows)
    return root


def patch_look(seed: int) -> np.ndarray:
    """The look (emoscope.appearance) of a random colourful patch: the same seed, the same look; another, a
    different one."""
    from emoscope.appearance import face_looks

    patch = np.random.default_rng(seed).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    return face_looks(cv2.resize(patch, (40, 40), interpolation=cv2.INTER_NEAREST), np.array([[0, 0, 40, 40]]))[0]
