"""Runs one stream step over many frames with every core busy, results in frame order.

A :class:`~emoscope.stream_step.StreamStep` works in stages: ``begin`` (scene cut, whether to
detect), ``plan`` (the detection's scale), ``detect``, ``locate`` (tracks), ``classify`` and
``finish`` (smoothing, the result). ``begin``, ``plan``, ``locate`` and ``finish`` carry the
stream's state and run here, in frame order, on the calling thread, which also reads the source
(decoding). ``detect`` and ``classify`` need no state, so they go to ``workers`` threads (OpenCV
and ONNX Runtime release the GIL): a detection overlaps the classification of the frames before
it and the decoding of those after it, up to ``ahead`` frames. The results
are exactly those of calling ``step.process`` on each frame in turn.

Each thread has its own detector (OpenCV's networks are not safe to share between threads, and
the analyzer's own may be serving another caller); the classifier's ONNX Runtime session is
shared, as ONNX Runtime allows.
"""
from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

from .types import Frame, FrameResult


AHEAD_BYTES = 8 * 2**20   # frames read ahead hold this many bytes of pixels at the most (a 1080p frame is 6 MB;
                          # each frame ahead cost about 15 MB of peak memory, measured)


class StreamEngine:
    """``run(frames)`` yields the :class:`FrameResult` of each frame, in order.

    ``ahead``: how many frames are read, beyond those being classified (at most ``min(workers,
    ahead)``), before the oldest is finished. More keeps the workers busier on files; 0 finishes
    each frame before reading the next, for live sources, where a frame read early would only wait.
    The default is ``workers + 1``, fewer for frames so large that more than AHEAD_BYTES of them
    would wait (at least 1).
    """

    def __init__(self, step, make_detector: Callable, workers: int = 2, ahead: int | None = None):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.step = step
        self.workers = workers
        self.ahead = ahead
        self._make_detector = make_detector
        self._local = threading.local()

    def _frames_ahead(self, frame: Frame) -> int:
        if self.ahead is not None:
            return self.ahead
        return max(1, min(self.workers + 1, AHEAD_BYTES // max(frame.image.nbytes, 1)))

    def _detector(self):
        """This thread's own detector."""
        if not hasattr(self._local, "detector"):
            self._local.detector = self._make_detector()
        return self._local.detector

    def _detect(self, work) -> None:
        self.step.detect(work, self._detector())

    def run(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        begun: deque[tuple[object, Future | None]] = deque()    # read, detection (if any) under way
        located: deque[tuple[object, Future]] = deque()         # tracked, classification under way
        with ThreadPoolExecutor(self.workers, thread_name_prefix="emoscope") as pool:

            def locate_oldest() -> None:
                work, detection = begun.popleft()
                if detection is not None:
                    detection.result()
                # only a shrunk detection may be done again at full size, here: no detector otherwise
                self.step.locate(work, self._detector() if work.scale < 1.0 else None)
                located.append((work, pool.submit(self.step.classify, work)))

            def finish_oldest() -> FrameResult:
                work, classification = located.popleft()
                classification.result()
                return self.step.finish(work)

            try:
                ahead = None
                for frame in frames:
                    ahead = self._frames_ahead(frame) if ahead is None else ahead
                    work = self.step.begin(frame.image, frame.timestamp, frame.index)
                    if work.detect:
                        # The scale may depend on the faces of every frame before. Waiting for them even
                        # when it does not keeps two detections from overlapping: a 1080p video peaked at
                        # 317-325 MB this way and 333 MB without, for about 1% more speed (measured).
                        while begun:
                            locate_oldest()
                        self.step.plan(work)
                    begun.append((work, pool.submit(self._detect, work) if work.detect else None))
                    while len(begun) > ahead:
                        locate_oldest()
                    while len(located) > min(self.workers, ahead):
                        yield finish_oldest()
                while begun:
                    locate_oldest()
                while located:
                    yield finish_oldest()
            finally:
                for _, future in (*begun, *located):
                    if future is not None:
                        future.cancel()
