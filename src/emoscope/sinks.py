"""Where a stream's results go. Every output is a sink (supervision's habit): built with its target,
which it checks then, opened with what it must know of the stream, fed each frame's result, and
finished on exit, however the stream ended (its end, an error, Ctrl-C)::

    with sink.open(stream):
        for result in results:
            sink.add(result)

:func:`emoscope.streaming.run_stream` knows no sink in particular: a new output is one sink class
(here, or beside what it needs, as the web's class report) and one command-line option.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .charts import EmotionTimeline
from .class_report import ClassRecorder
from .io.paths import SUFFIXES, check_output
from .io.timeline import TimelineWriter
from .render import draw_faces
from .settings import ANNOTATION_STYLE
from .summary import StreamSummary
from .types import FrameResult


@dataclass(frozen=True)
class StreamInfo:
    """What a stream's sinks know of it before its first frame."""

    labels: tuple[str, ...]
    fps: float                          # processed frames per second: each stands for 1 / fps seconds
    frames: int | None = None           # processed frames to come, where the source says
    title: str = ""                     # what the stream is of (a video's file name)
    audio_from: Path | None = None      # a file whose audio track goes with the frames

    @property
    def frame_interval(self) -> float:
        return 1.0 / self.fps


class Sink(ABC):
    """One output of a stream; see the module's docstring."""

    ended = False   # a sink that ends the stream sets it (a live window that was closed)

    def open(self, stream: StreamInfo) -> "Sink":
        """Learn the stream before its first frame; returns the sink, to be entered."""
        self.stream = stream
        return self

    def __enter__(self) -> "Sink":
        return self

    @abstractmethod
    def add(self, result: FrameResult) -> None:
        """One frame's result, in frame order."""

    def __exit__(self, *exc) -> None:
        """Write what is left and close; called on every exit."""


class FileSink(Sink):
    """A sink that writes one file. Its path is checked as the sink is built (suffix, not a folder,
    parent folder made, writable), so that a long stream never ends in an unwritable file."""

    kind = ""       # what the file is written as: its suffixes are io.paths.SUFFIXES[kind]
    option = ""     # how messages name it; the command line passes its option instead

    def __init__(self, path: str | Path, option: str | None = None):
        self.path = Path(path)
        self.option = option or self.option
        check_output(self.path, SUFFIXES[self.kind], self.option)


class FrameAnnotator:
    """A frame with its faces drawn, each face labelled with its track ID: drawn once per frame,
    however many sinks show or record it."""

    def __init__(self, style: str = ANNOTATION_STYLE):
        self.style = style
        self._result: FrameResult | None = None
        self._image: np.ndarray | None = None

    def __call__(self, result: FrameResult) -> np.ndarray:
        if result is not self._result:
            self._image = draw_faces(result.image, result.faces, self.style,
                                     labels_prefix=[f"#{face.track_id}" for face in result.faces])
            self._result = result
        return self._image


class VideoRecord(FileSink):
    """The annotated frames as an H.264 MP4 that browsers play, with the source's audio where it has any."""

    kind, option = "video", "record"

    def __init__(self, path: str | Path, option: str | None = None, annotator: FrameAnnotator | None = None):
        super().__init__(path, option)
        self.annotator = annotator or FrameAnnotator()
        self._video = None

    def add(self, result: FrameResult) -> None:
        frame = self.annotator(result)
        if self._video is None:  # sized by the first frame: cameras often misreport their size
            from .io.video import VideoSink

            height, width = frame.shape[:2]
            self._video = VideoSink(self.path, self.stream.fps, (width, height), self.stream.audio_from)
        self._video.write(frame)

    def __exit__(self, *exc) -> None:
        if self._video is not None:
            self._video.close()


class TimelineFile(FileSink):
    """One record per face per processed frame, CSV or JSON by suffix
    (:class:`~emoscope.io.timeline.TimelineWriter`)."""

    kind, option = "timeline", "timeline"

    def open(self, stream: StreamInfo) -> "TimelineFile":
        self._writer = TimelineWriter(self.path, stream.labels)
        return super().open(stream)

    def __enter__(self) -> "TimelineFile":
        self._writer.__enter__()
        return self

    def add(self, result: FrameResult) -> None:
        self._writer.add(result)

    def __exit__(self, *exc) -> None:
        self._writer.__exit__(*exc)


class SummaryFile(FileSink):
    """Per-person and overall time in each emotion (:class:`~emoscope.summary.StreamSummary`), as JSON."""

    kind, option = "json", "summary"

    def open(self, stream: StreamInfo) -> "SummaryFile":
        self.summary = StreamSummary(stream.labels, stream.frame_interval)
        return super().open(stream)

    def add(self, result: FrameResult) -> None:
        self.summary.add(result)

    def __exit__(self, *exc) -> None:
        self.path.write_text(json.dumps(self.summary.to_dict(), indent=2))


class ChartFile(FileSink):
    """Emotion over time, one panel per person (:class:`~emoscope.charts.EmotionTimeline`), as a PNG."""

    kind, option = "chart", "chart"

    def open(self, stream: StreamInfo) -> "ChartFile":
        self.chart = EmotionTimeline(stream.labels)
        return super().open(stream)

    def add(self, result: FrameResult) -> None:
        self.chart.add(result)

    def __exit__(self, *exc) -> None:
        self.chart.save(self.path)


class ClassViewFile(FileSink):
    """The class view's data (:class:`~emoscope.class_report.ClassRecorder`) as JSON, as the web page reads it."""

    kind, option = "json", "class view"

    def open(self, stream: StreamInfo) -> "ClassViewFile":
        self.recorder = ClassRecorder(stream.labels, stream.frame_interval)
        return super().open(stream)

    def add(self, result: FrameResult) -> None:
        self.recorder.add(result)

    def __exit__(self, *exc) -> None:
        self.recorder.write_json(self.path, self.stream.title)


class LiveWindow(Sink):
    """Each annotated frame in a window (:class:`~emoscope.viewer.TkViewer`), opened with the stream;
    closing it (or q, Esc) ends the stream."""

    def __init__(self, title: str = "EmoScope", annotator: FrameAnnotator | None = None):
        self.title = title
        self.annotator = annotator or FrameAnnotator()

    def open(self, stream: StreamInfo) -> "LiveWindow":
        from .viewer import TkViewer

        self.viewer = TkViewer(self.title)
        return super().open(stream)

    @property
    def ended(self) -> bool:
        return self.viewer.closed

    def add(self, result: FrameResult) -> None:
        self.viewer.show(self.annotator(result))

    def __exit__(self, *exc) -> None:
        self.viewer.close()


class ProgressBar(Sink):
    """Processed frames on a progress bar (stderr), out of those to come where the source says."""

    def open(self, stream: StreamInfo) -> "ProgressBar":
        self._bar = tqdm(total=stream.frames, unit="frame", dynamic_ncols=True)
        return super().open(stream)

    def add(self, result: FrameResult) -> None:
        self._bar.update()

    def __exit__(self, *exc) -> None:
        self._bar.close()
