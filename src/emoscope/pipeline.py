"""The whole job in one place: image -> detect -> crop/align -> classify -> ImageResult."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .classification import EmotionClassifier
from .detection import DetectorSettings, create_detector
from .errors import EmoScopeError
from .io.images import load_image
from .tracking import FaceTracks
from .types import Detections, Face, Frame, FrameResult, ImageResult


class Analyzer:
    """Finds every face in an image and the probability of each emotion on it.

    ``detector``: ``auto`` (YuNet where its model is found, else Haar), ``yunet`` or ``haar``.
    ``model``: an EmoScope ONNX emotion model; the bundled one when None.
    Arrays passed to :meth:`analyze` are read as OpenCV's BGR (gray and BGRA too).
    """

    def __init__(self, detector: str = "auto", model: str | Path | None = None, *, detector_model=None,
                 threads: int = 2, min_face: int = 20, score_threshold: float = 0.8, max_side: int = 1280):
        settings = DetectorSettings(score_threshold=score_threshold, min_face=min_face, max_side=max_side)
        self.detector = create_detector(detector, detector_model, settings)
        self.classifier = EmotionClassifier(model, threads=threads)
        if threads:
            import cv2

            cv2.setNumThreads(threads)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.classifier.labels

    def analyze_array(self, image: np.ndarray, path: str | None = None) -> ImageResult:
        started = time.perf_counter()
        detections = self.detector.detect(image)
        result = self._classify(image, detections, started)
        result.path = path
        return result

    def _classify(self, image: np.ndarray, detections: Detections, started: float) -> ImageResult:
        """Crop and classify the given faces; the timings count from ``started``."""
        detected = time.perf_counter()
        landmarks = detections.landmarks
        crops = [self.classifier.crop(image, box, None if landmarks is None else landmarks[i])
                 for i, box in enumerate(detections.boxes)]
        cropped = time.perf_counter()
        probabilities = self.classifier.predict(crops)
        classified = time.perf_counter()
        faces = [
            Face(box=tuple(detections.boxes[i].tolist()), score=float(detections.scores[i]),
                 probabilities=dict(zip(self.labels, probabilities[i].tolist())),
                 landmarks=None if landmarks is None else [tuple(p) for p in landmarks[i].tolist()])
            for i in range(len(detections))
        ]
        timings = {"detect": (detected - started) * 1e3, "align": (cropped - detected) * 1e3,
                   "classify": (classified - cropped) * 1e3, "total": (classified - started) * 1e3}
        return ImageResult(None, image.shape[1], image.shape[0], faces, timings)

    def analyze(self, source) -> ImageResult:
        """Every face in one image: a path, a numpy array (BGR) or a PIL image."""
        image, path = load_image(source)
        return self.analyze_array(image, path)

    def analyze_many(self, sources: Iterable, on_error: str = "report") -> Iterator[ImageResult]:
        """Analyse images one by one. A bad input yields a result with ``error`` set (``report``)
        or raises (``raise``); the others go on."""
        for source in sources:
            try:
                yield self.analyze(source)
            except EmoScopeError as error:
                if on_error == "raise":
                    raise
                yield ImageResult(str(source) if isinstance(source, (str, Path)) else None, 0, 0, error=str(error))

    def stream(self, frames: Iterable, fps: float = 30.0, smooth: int = 5, max_missed: int = 30,
               detect_every: int = 1) -> Iterator[FrameResult]:
        """Analyse consecutive frames — :class:`Frame` objects (from ``emoscope.io`` sources) or BGR
        arrays, timed by ``fps`` — one at a time. Each face gets a stable ``track_id`` and
        probabilities smoothed over about ``smooth`` frames; this frame's own stay in ``raw_probabilities``.

        ``detect_every`` N > 1 runs the detector on every N-th frame only; in between, the faces
        are followed along their tracks' motion and still classified every frame."""
        tracks = FaceTracks(self.labels, smooth, max_missed)
        previous: dict[int, Face] = {}
        for position, item in enumerate(frames):
            frame = item if isinstance(item, Frame) else Frame(position, position / fps, item)
            started = time.perf_counter()
            if position % detect_every == 0:
                result = self._classify(frame.image, self.detector.detect(frame.image), started)
                tracks.track(result)
            else:
                ids, boxes = tracks.tracker.coast()
                result = self._classify(frame.image, _followed(boxes, ids, previous), started)
                tracks.label(result, ids)
            previous = {face.track_id: face for face in result.faces}
            yield FrameResult(None, result.width, result.height, result.faces, result.timings_ms,
                              index=frame.index, timestamp=frame.timestamp, image=frame.image)


def _followed(boxes: np.ndarray, ids: np.ndarray, previous: dict[int, Face]) -> Detections:
    """Detections for faces followed between detector runs: their tracks' boxes, with the
    last landmarks moved along with the box and the last detector score."""
    scores = np.array([previous[i].score if i in previous else 0.0 for i in ids.tolist()], np.float32)
    landmarks = None
    if all(i in previous and previous[i].landmarks is not None for i in ids.tolist()):
        landmarks = np.array([np.asarray(previous[i].landmarks) + (box[:2] - np.asarray(previous[i].box[:2]))
                              for i, box in zip(ids.tolist(), boxes)], np.float32).reshape(-1, 5, 2)
    return Detections(boxes, scores, landmarks)
