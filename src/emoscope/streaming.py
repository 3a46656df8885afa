"""One loop for every stream (video file, camera, screen; CLI, web jobs, batch): analyse each
frame, feed the requested outputs, and finalise them on every exit, Ctrl-C included."""
from __future__ import annotations

import json
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .pipeline import Analyzer
from .render import draw_faces
from .settings import StreamSettings
from .summary import StreamSummary
from .types import FrameResult


@dataclass
class StreamOutputs:
    """Files to write; any may be None. ``record`` is the annotated H.264 MP4."""

    record: str | Path | None = None
    timeline: str | Path | None = None
    summary: str | Path | None = None
    chart: str | Path | None = None
    annotate: str = "bars"      # what the record and the viewer show on each face: box, label or bars
    class_view: str | Path | None = None     # the class view's data (JSON), as the web page reads it
    report: str | Path | None = None         # the class view as one HTML file
    title: str = ""                          # what the class view is of (the video's name)


def run_stream(analyzer: Analyzer, source, fps: float, frame_interval: float, outputs: StreamOutputs,
               settings: StreamSettings = StreamSettings(), audio_from=None, viewer=None,
               duration: float | None = None, on_result: Callable[[FrameResult], None] | None = None,
               realtime: bool | None = None) -> StreamSummary:
    """Process ``source`` (an iterable of Frames) and return the summary of what was processed.

    ``viewer`` (with ``show(image)`` and ``closed``) displays annotated frames; closing it ends the
    stream, as does ``duration`` seconds. ``on_result`` sees every frame result (progress, collection).
    Frames overlap on the analyzer's threads (:meth:`Analyzer.stream`), each thread with a detector of
    its own, so a server may run this beside other callers of the same analyzer without a lock.
    ``realtime`` (default: the source's own): finish each frame before reading the next (live sources).
    """
    summary = StreamSummary(analyzer.labels, frame_interval)
    chart = None
    if outputs.chart:
        from .charts import EmotionTimeline

        chart = EmotionTimeline(analyzer.labels)
    recorder = None
    if outputs.class_view or outputs.report:
        from .class_report import ClassRecorder

        recorder = ClassRecorder(analyzer.labels, frame_interval)
    with ExitStack() as stack:
        timeline = None
        if outputs.timeline:
            from .io.timeline import TimelineWriter

            timeline = stack.enter_context(TimelineWriter(outputs.timeline, analyzer.labels))
        if viewer is not None:
            stack.enter_context(closing(viewer))
        sink = None
        started = time.monotonic()
        try:
            for result in analyzer.stream(source, fps, settings, realtime):
                summary.add(result)
                if timeline:
                    timeline.add(result)
                if chart:
                    chart.add(result)
                if recorder:
                    recorder.add(result)
                if on_result:
                    on_result(result)
                if outputs.record or viewer is not None:
                    annotated = draw_faces(result.image, result.faces, outputs.annotate,
                                           labels_prefix=[f"#{f.track_id}" for f in result.faces])
                    if outputs.record:
                        if sink is None:  # sized by the first frame: cameras often misreport their size
                            from .io.video import VideoSink

                            height, width = annotated.shape[:2]
                            sink = stack.enter_context(VideoSink(outputs.record, fps, (width, height), audio_from))
                        sink.write(annotated)
                    if viewer is not None:
                        viewer.show(annotated)
                        if viewer.closed:
                            break
                if duration is not None and time.monotonic() - started >= duration:
                    break
        finally:
            if outputs.summary:
                Path(outputs.summary).write_text(json.dumps(summary.to_dict(), indent=2))
            if chart:
                chart.save(outputs.chart)
            if outputs.class_view:
                recorder.write_json(outputs.class_view, outputs.title)
            if outputs.report:
                recorder.write_html(outputs.report, outputs.title)
    return summary
