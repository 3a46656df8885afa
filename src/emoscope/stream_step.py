"""One step of a stream, the same for video files, cameras, screens, the live socket and batch:
a frame in, its :class:`FrameResult` out, with track IDs and smoothed probabilities.

The step runs detect -> crop -> classify -> track -> smooth on arrays and builds the Face
objects once, at the end. With ``detect_every`` N > 1 the detector runs on every N-th frame
(and after a scene cut); in between, faces are followed along their tracks and still classified.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .appearance import SceneCuts, face_looks
from .classification import EmotionClassifier
from .detection.base import FaceDetector
from .settings import STREAM_FPS, StreamSettings
from .tracking import ProbabilitySmoother, Tracker, iou_matrix
from .types import Detections, FrameResult, faces_from_arrays

DETECTION_SCALES = (0.25, 0.375, 0.5, 0.75)   # few sizes: the detector re-plans its input for each new size


@dataclass
class FrameWork:
    """One frame on its way through the step's stages; see :class:`StreamStep`."""

    image: np.ndarray
    index: int
    timestamp: float
    ordinal: int                       # frames of this stream before it
    cut: bool
    detect: bool                       # planned when the frame came in
    scale: float                       # shrink the detector's copy by this much
    timings: dict[str, float] = field(default_factory=dict)
    detections: Detections | None = None
    looks: np.ndarray | None = None
    ids: np.ndarray | None = None
    live_ids: list[int] | None = None
    raw: np.ndarray | None = None


class StreamStep:
    """The state of one stream (tracks, smoothing, the last frame's look); not shared between streams.

    :meth:`process` runs six stages: :meth:`begin` (scene cut; detect this frame?), :meth:`plan`
    (the detection's scale), :meth:`detect`, :meth:`locate` (tracks), :meth:`classify` and
    :meth:`finish` (smoothing, the result). ``begin``, ``plan``, ``locate`` and ``finish`` change the
    stream's state and must see the frames in order; ``detect`` and ``classify`` need no state, so
    :class:`~emoscope.engine.StreamEngine` runs them on worker threads, overlapping frames.

    The step owns the parts it runs: ``detector`` (used wherever no thread's own is passed) and
    ``classifier``, which crops each face as its model asks (levelled by the landmarks) and classifies it.

    Detection frames are every ``detect_every``-th and each scene cut. They run on a copy shrunk
    so that the smallest face of the last detection keeps ``detect_face_px`` pixels, and at full
    size at the start, after a cut, once in every stretch of ``full_detect_every`` frames (new faces smaller
    than the known ones) and again at once when a shrunk copy loses a tracked face.

    ``frames_before``: frames of the stream processed elsewhere before the first one given here (a
    segment of a long video, :mod:`emoscope.segments`), so that the detection frames are those a run
    from the start picks.
    """

    def __init__(self, detector: FaceDetector, classifier: EmotionClassifier,
                 settings: StreamSettings = StreamSettings(), fps: float = STREAM_FPS, frames_before: int = 0):
        if settings.smooth < 1 or settings.detect_every < 1:
            raise ValueError("smooth and detect_every must be at least 1")
        self.detector = detector
        self.classifier = classifier
        self.settings = settings
        self.fps = fps
        self.frames = frames_before
        self.tracker = Tracker(settings)
        self.smoother = ProbabilitySmoother(settings.smooth)
        self.scene_cuts = SceneCuts(settings.scene_cut)
        self._last: Detections = Detections.empty()
        self._last_ids = np.zeros(0, np.int64)
        self._last_full = frames_before - settings.full_detect_every   # frame count at the last full-size detection
        self._smallest_face: float | None = None        # of the last detection, in pixels

    def process(self, image: np.ndarray, timestamp: float | None = None, index: int | None = None) -> FrameResult:
        """Analyse the next frame (BGR). ``index`` defaults to the count of frames processed so
        far, ``timestamp`` (seconds) to ``index / fps``."""
        work = self.begin(image, timestamp, index)
        if work.detect:
            self.plan(work)
            self.detect(work)
        self.locate(work)
        self.classify(work)
        return self.finish(work)

    def begin(self, image: np.ndarray, timestamp: float | None = None, index: int | None = None) -> FrameWork:
        """The next frame comes in: is it a scene cut, is it a detection frame."""
        started = time.perf_counter()
        index = self.frames if index is None else index
        timestamp = index / self.fps if timestamp is None else timestamp
        cut = self.scene_cuts.is_cut(image)
        detect = cut or self.frames % self.settings.detect_every == 0
        work = FrameWork(image, index, timestamp, self.frames, cut, detect, scale=1.0)
        self.frames += 1
        _add_time(work, "track", started)  # the scene-cut check serves the tracker
        return work

    def plan(self, work: FrameWork) -> None:
        """The scale of a detection frame's copy: the largest step of DETECTION_SCALES that still keeps
        the smallest known face at ``detect_face_px``, or 1 where a full-size detection is due. Call
        it right after :meth:`begin`, once every earlier frame is located (it reads their faces)."""
        face_px, full_every = self.settings.detect_face_px, self.settings.full_detect_every
        # full size once in every stretch of full_every frames counted from the stream's start, so that a
        # long video's segment detects at full size on the frames a whole run does
        if (work.cut or face_px is None or self._smallest_face is None
                or work.ordinal // full_every > self._last_full // full_every):
            work.scale = 1.0
        else:
            work.scale = min((s for s in DETECTION_SCALES if s * self._smallest_face >= face_px), default=1.0)
        if work.scale == 1.0:
            self._last_full = work.ordinal

    def detect(self, work: FrameWork, detector=None) -> None:
        """Faces and their looks on a frame planned for detection (any thread; ``detector``
        defaults to the step's own)."""
        started = time.perf_counter()
        work.detections = (detector or self.detector).detect(work.image, work.scale, stream=True)
        work.looks = face_looks(work.image, work.detections.boxes)
        _add_time(work, "detect", started)

    def locate(self, work: FrameWork, detector=None) -> None:
        """Track IDs for a detected frame; for the others, the faces followed along their tracks.
        ``detector``: for a detection done again at full size (default: the step's own)."""
        started = time.perf_counter()
        if work.detect:
            if work.scale < 1.0 and self._loses_tracks(work.detections):
                work.scale = 1.0
                self.detect(work, detector)
                self._last_full = work.ordinal
            work.ids = self.tracker.update(work.detections.boxes, work.looks, work.cut, work.ordinal)
            sizes = np.minimum(work.detections.boxes[:, 2], work.detections.boxes[:, 3])
            self._smallest_face = float(sizes.min()) if len(sizes) else None
        else:
            work.ids, boxes = self.tracker.coast()
            work.detections = self._followed(work.ids, boxes)
        work.live_ids = self.tracker.live_ids
        self._last, self._last_ids = work.detections, work.ids
        _add_time(work, "track", started)

    def _loses_tracks(self, detections: Detections) -> bool:
        """Whether a face followed until now has no detection overlapping its last box."""
        if len(self._last) == 0:
            return False
        overlap = iou_matrix(self._last.boxes, detections.boxes)
        return bool(len(detections) == 0 or (overlap.max(axis=1) < self.settings.iou_threshold).any())

    def classify(self, work: FrameWork) -> None:
        """This frame's own emotion probabilities for its faces (any thread)."""
        started = time.perf_counter()
        crops = self.classifier.crops(work.image, work.detections.boxes, work.detections.landmarks)
        cropped = _add_time(work, "align", started)
        work.raw = self.classifier.predict(crops)
        _add_time(work, "classify", cropped)

    def finish(self, work: FrameWork) -> FrameResult:
        """Smoothed probabilities and the frame's result."""
        started = time.perf_counter()
        smoothed = self.smoother.update(work.ids, work.raw)
        self.smoother.forget(work.live_ids)
        faces = faces_from_arrays(work.detections, smoothed, self.classifier.labels, work.ids, work.raw)
        _add_time(work, "track", started)
        work.timings["total"] = sum(work.timings.values())
        return FrameResult(None, work.image.shape[1], work.image.shape[0], faces, work.timings, index=work.index,
                           timestamp=work.timestamp, image=work.image)

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


def _add_time(work: FrameWork, stage: str, started: float) -> float:
    """Add the milliseconds since ``started`` to ``stage``'s time; returns now."""
    now = time.perf_counter()
    work.timings[stage] = work.timings.get(stage, 0.0) + (now - started) * 1e3
    return now
