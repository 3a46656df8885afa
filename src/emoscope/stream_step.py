"""One step of a stream, the same for video files, cameras, screens, the live socket and batch:
a frame in, its :class:`FrameResult` out, with track IDs and smoothed probabilities.

The step runs detect -> crop -> classify -> track -> smooth on arrays and builds the Face
objects once, at the end. With ``detect_every`` N > 1 the detector runs on every N-th frame
(and after a scene cut); in between, faces are followed along their tracks and still classified.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from .appearance import SceneCuts, face_looks
from .settings import StreamSettings
from .tracking import ProbabilitySmoother, Tracker
from .types import Detections, FrameResult

if TYPE_CHECKING:
    from .pipeline import Analyzer


class StreamStep:
    """The state of one stream (tracks, smoothing, the last frame's look); not shared between streams."""

    def __init__(self, analyzer: "Analyzer", settings: StreamSettings = StreamSettings(), fps: float = 30.0):
        if settings.smooth < 1 or settings.detect_every < 1:
            raise ValueError("smooth and detect_every must be at least 1")
        self.analyzer = analyzer
        self.settings = settings
        self.fps = fps
        self.frames = 0
        self.tracker = Tracker(settings)
        self.smoother = ProbabilitySmoother(settings.smooth)
        self.scene_cuts = SceneCuts(settings.scene_cut)
        self._last: Detections = Detections.empty()
        self._last_ids = np.zeros(0, np.int64)

    def process(self, image: np.ndarray, timestamp: float | None = None, index: int | None = None) -> FrameResult:
        """Analyse the next frame (BGR). ``index`` defaults to the count of frames processed so
        far, ``timestamp`` (seconds) to ``index / fps``."""
        index = self.frames if index is None else index
        timestamp = index / self.fps if timestamp is None else timestamp
        started = time.perf_counter()
        cut = self.scene_cuts.is_cut(image)
        detect = cut or self.frames % self.settings.detect_every == 0
        self.frames += 1
        if detect:
            detections = self.analyzer.detector.detect(image)
        else:
            ids, boxes = self.tracker.coast()
            detections = self._followed(ids, boxes)
        detected = time.perf_counter()
        crops = self.analyzer.crops(image, detections)
        cropped = time.perf_counter()
        raw = self.analyzer.classifier.predict(crops)
        classified = time.perf_counter()
        if detect:
            ids = self.tracker.update(detections.boxes, face_looks(image, detections.boxes), cut)
        smoothed = self.smoother.update(ids, raw)
        self.smoother.forget(self.tracker.live_ids)
        self._last, self._last_ids = detections, ids
        tracked = time.perf_counter()
        timings = {"detect": (detected - started) * 1e3, "align": (cropped - detected) * 1e3,
                   "classify": (classified - cropped) * 1e3, "track": (tracked - classified) * 1e3,
                   "total": (tracked - started) * 1e3}
        faces = self.analyzer.faces(detections, smoothed, ids, raw)
        return FrameResult(None, image.shape[1], image.shape[0], faces, timings, index=index, timestamp=timestamp,
                           image=image)

    def _followed(self, ids: np.ndarray, boxes: np.ndarray) -> Detections:
        """Detections for faces followed between detector runs: their tracks' boxes, with the last
        landmarks moved along with the box and the last score."""
        position = {track_id: i for i, track_id in enumerate(self._last_ids.tolist())}
        rows = [position[i] for i in ids.tolist()]
        scores = self._last.scores[rows]
        landmarks = None
        if self._last.landmarks is not None:
            shift = boxes[:, :2] - self._last.boxes[rows, :2]
            landmarks = self._last.landmarks[rows] + shift[:, None, :]
        return Detections(boxes, scores, landmarks)
