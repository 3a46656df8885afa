"""The whole job in one place: image -> detect -> crop/align -> classify -> ImageResult; for
streams, :meth:`Analyzer.open_stream` adds track -> smooth, one frame at a time."""
from __future__ import annotations

import functools
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .classification import EmotionClassifier
from .detection import create_detector
from .engine import StreamEngine
from .errors import EmoScopeError
from .io.images import load_image
from .models import AUTO_CHOICES, AUTO_EMOTION_MODEL, emotion_model_for
from .settings import INFERENCE_THREADS, STREAM_FPS, DetectorSettings, StreamSettings
from .stream_step import StreamStep
from .types import Frame, FrameResult, ImageResult, faces_from_arrays

_DETECTOR = DetectorSettings()


class Analyzer:
    """Finds every face in an image and the probability of each emotion on it.

    ``detector``: ``auto`` or ``emoscope`` (the bundled detector), ``yunet`` (where its model is
    found), ``haar``, or ``none``/None (each image is one face crop). ``region`` (x, y, w, h)
    limits detection to that part of every image.
    ``model``: ``auto`` (the default, also None: ``accurate`` for photos, ``fast`` for a stream's frames),
    a bundled emotion model by name, ``fast`` or ``accurate``, or an EmoScope ONNX emotion model file, for both.
    Arrays passed to :meth:`analyze` are read as OpenCV's BGR (gray and BGRA too).
    """

    def __init__(self, detector: str | None = "auto", model: str | Path | None = AUTO_EMOTION_MODEL, *,
                 detector_model=None, threads: int = INFERENCE_THREADS, min_face: int = _DETECTOR.min_face,
                 score_threshold: float | None = _DETECTOR.score_threshold, max_side: int = _DETECTOR.max_side,
                 region: tuple[int, int, int, int] | None = None):
        settings = DetectorSettings(score_threshold=score_threshold, min_face=min_face, max_side=max_side)
        make_detector = functools.partial(create_detector, detector, detector_model, settings, region=region)
        self.detector = make_detector(threads=threads or 1)
        self.new_detector = functools.partial(make_detector, threads=1)   # another, for a thread of its own
        self.threads = threads
        self.model = model
        self._classifiers: dict[str | Path, EmotionClassifier] = {}
        self._loading = threading.Lock()
        if emotion_model_for(model, "photo") == emotion_model_for(model, "stream"):
            self.load_models()   # a model named is loaded now: a bad file fails here, not at the first face
        if threads:
            import cv2

            cv2.setNumThreads(threads)

    @property
    def photo_classifier(self) -> EmotionClassifier:
        """The emotion classifier of :meth:`analyze` (with ``auto``, loaded at its first photo)."""
        return self._classifier("photo")

    @property
    def stream_classifier(self) -> EmotionClassifier:
        """The emotion classifier of :meth:`stream` and :meth:`open_stream`."""
        return self._classifier("stream")

    def load_models(self, *uses: str) -> None:
        """Load the emotion models of these uses (``photo``, ``stream``; both when none is named) now rather than
        at their first face: a server does at its start."""
        for use in uses or AUTO_CHOICES:
            self._classifier(use)

    def _classifier(self, use: str) -> EmotionClassifier:
        model = emotion_model_for(self.model, use)
        with self._loading:   # one session per model, whichever thread (a server's, a stream's) asks first
            if model not in self._classifiers:
                self._classifiers[model] = EmotionClassifier(model, threads=self.threads)
            return self._classifiers[model]

    def analyze_array(self, image: np.ndarray, path: str | None = None, detector=None) -> ImageResult:
        """Every face in a BGR array, detected as a photo (see :meth:`analyze`); ``detector`` replaces the
        analyzer's own for this image (the web API passes a ``WholeImageDetector`` for a face crop)."""
        started = time.perf_counter()
        detections = (detector or self.detector).detect(image)
        detected = time.perf_counter()
        classifier = self.photo_classifier
        crops = classifier.crops(image, detections.boxes, detections.landmarks)
        cropped = time.perf_counter()
        probabilities = classifier.predict(crops)
        classified = time.perf_counter()
        timings = {"detect": (detected - started) * 1e3, "align": (cropped - detected) * 1e3,
                   "classify": (classified - cropped) * 1e3, "total": (classified - started) * 1e3}
        faces = faces_from_arrays(detections, probabilities, classifier.labels)
        return ImageResult(path, image.shape[1], image.shape[0], faces, timings)

    def analyze(self, source) -> ImageResult:
        """Every face in one image: a path, a numpy array (BGR) or a PIL image. It is detected as a
        photo (the bundled detector sees more of it than of a stream's frame); for a video's frames
        use :meth:`stream`, which keeps to the time budget per frame and follows each face."""
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

    def open_stream(self, settings: StreamSettings = StreamSettings(), fps: float = STREAM_FPS,
                    frames_before: int = 0) -> StreamStep:
        """A stream of consecutive frames: ``step.process(image, timestamp)`` gives each frame's
        :class:`FrameResult`, every face with a stable ``track_id`` and probabilities smoothed over
        time (this frame's own in ``raw_probabilities``). Frames without a timestamp are timed by ``fps``.
        ``frames_before``: frames of the stream processed elsewhere before these (a long video's segment)."""
        return StreamStep(self.detector, self.stream_classifier, settings, fps, frames_before)

    def stream(self, frames: Iterable, fps: float = STREAM_FPS, settings: StreamSettings = StreamSettings(),
               realtime: bool | None = None, frames_before: int = 0) -> Iterator[FrameResult]:
        """:meth:`open_stream` over an iterable of :class:`Frame` objects (from ``emoscope.io``
        sources) or BGR arrays, with ``threads`` threads overlapping frames
        (:class:`~emoscope.engine.StreamEngine`).
        ``realtime`` (default: the source's own ``realtime``, as a camera's) finishes each frame before
        reading the next, so that no frame waits behind those read after it. Each thread detects with a
        detector of its own from :attr:`new_detector` (the analyzer's choice and settings), never with
        :attr:`detector`, which stays free for other callers; replace both to change the detector.
        ``frames_before``: as for :meth:`open_stream`."""
        frames_in = (item if isinstance(item, Frame) else Frame(i, i / fps, item) for i, item in enumerate(frames))
        realtime = getattr(frames, "realtime", False) if realtime is None else realtime
        return self.continue_stream(self.open_stream(settings, fps, frames_before), frames_in, realtime)

    def continue_stream(self, step: StreamStep, frames: Iterable[Frame], realtime: bool = False) -> Iterator[FrameResult]:
        """:meth:`stream` through a ``step`` from :meth:`open_stream`, whose state (its tracker) the caller
        may read once the results are taken."""
        engine = StreamEngine(step, self.new_detector, max(1, self.threads or 1), ahead=0 if realtime else None)
        return engine.run(frames)
