"""One loop for every stream (video file, camera, screen; CLI, web jobs, batch): analyse each
frame and hand its result to every sink (:mod:`emoscope.sinks`), which are finished on every
exit, Ctrl-C included."""
from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable

from .pipeline import Analyzer
from .settings import StreamSettings
from .sinks import Sink, StreamInfo
from .summary import StreamSummary
from .types import FrameResult


def run_stream(analyzer: Analyzer, source, fps: float, sinks: Iterable[Sink] = (),
               settings: StreamSettings = StreamSettings(), *, frames: int | None = None, title: str = "",
               audio_from: str | Path | None = None, duration: float | None = None,
               realtime: bool | None = None) -> StreamSummary:
    """Process ``source`` (an iterable of Frames, ``fps`` of them a second) into ``sinks`` and return
    the summary of what was processed, with the source's ``stopped_at``.

    ``frames`` (how many are to come), ``title`` and ``audio_from`` tell the sinks about the stream
    (:class:`~emoscope.sinks.StreamInfo`). The stream ends with the source, after ``duration``
    seconds, or when a sink says it has ``ended`` (a closed window).
    Frames overlap on the analyzer's threads (:meth:`Analyzer.stream`), each thread with a detector of
    its own, so a server may run this beside other callers of the same analyzer without a lock.
    ``realtime`` (default: the source's own): finish each frame before reading the next (live sources).
    """
    audio = None if audio_from is None else Path(audio_from)
    stream = StreamInfo(analyzer.stream_classifier.labels, fps, frames, title, audio)
    summary = feed_sinks(analyzer.stream(source, fps, settings, realtime), stream, sinks, duration)
    summary.stopped_at = getattr(source, "stopped_at", None)
    return summary


def feed_sinks(results: Iterable[FrameResult], stream: StreamInfo, sinks: Iterable[Sink] = (),
               duration: float | None = None) -> StreamSummary:
    """Each result to every sink, opened with ``stream`` first and finished on every exit, until the
    results end, a sink has ``ended`` or ``duration`` seconds have passed; returns the summary of what
    was fed. Results analysed elsewhere (a long video's segments, stitched) go through here too."""
    sinks = list(sinks)
    summary = StreamSummary(stream.labels, stream.frame_interval)
    with ExitStack() as stack:
        for sink in sinks:
            stack.enter_context(sink.open(stream))
        started = time.monotonic()
        for result in results:
            summary.add(result)
            for sink in sinks:
                sink.add(result)
            if any(sink.ended for sink in sinks) or (duration is not None and time.monotonic() - started >= duration):
                break
    return summary


def stream_video_file(path: str | Path, analyzer: Analyzer, sinks: Iterable[Sink] = (), every: int = 1,
                      settings: StreamSettings = StreamSettings(), title: str | None = None) -> StreamSummary:
    """Every ``every``-th frame of a video file through :func:`run_stream`: the one setup behind the
    CLI's ``video`` command, web video jobs and batch videos. Frames keep their times in the file, each
    processed frame stands for ``every`` of them, and a record carries the file's audio.
    ``title`` (default: the file's name) is what the stream is of."""
    from .io.video import VideoFileSource

    with VideoFileSource(path, stride=every) as source:
        return run_stream(analyzer, source, source.fps / every, sinks, settings, frames=source.frames_to_yield,
                          title=Path(path).name if title is None else title,
                          audio_from=path if source.has_audio else None)
