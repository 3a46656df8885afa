"""The tasks a worker runs for a long video: its plan (keyframes, segments, a fingerprint of the file)
and each segment's analysis, from a seek to its warm-up start to its end (:mod:`emoscope.segments`).

A segment's frames are numbered as a sequential run numbers them, so that ``every`` and the stream's
detection frames fall on the same frames and each result's index is the frame's index in the file.
Each task checks that the file is still the one planned, before and after reading it: a file that
changes while it is processed fails as a whole, never merged from two versions.
"""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..charts import clock
from ..errors import InputError
from ..io.video import VideoFileSource
from ..models import sha256_of
from ..segments import Segment, index_video, plan_segments
from ..settings import ANNOTATION_STYLE, STREAM_FPS, StreamSettings
from ..sinks import FrameAnnotator, StreamInfo, VideoRecord
from ..types import FrameResult
from .segment_rows import SegmentRows
from .tasks import analyze_video, worker_analyzer

ENDS_BYTES = 2**20   # bytes read at each end of a file for its fingerprint


@dataclass(frozen=True)
class Fingerprint:
    """Enough of a file to tell that it changed, read in milliseconds however large it is: its size,
    modification time and the sha256 of its first and last MiB."""

    size: int
    mtime_ns: int
    ends_sha256: str

    @classmethod
    def of(cls, path: str | Path) -> "Fingerprint":
        stat = os.stat(path)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            digest.update(handle.read(ENDS_BYTES))
            if stat.st_size > ENDS_BYTES:
                handle.seek(max(ENDS_BYTES, stat.st_size - ENDS_BYTES))
                digest.update(handle.read(ENDS_BYTES))
        return cls(stat.st_size, stat.st_mtime_ns, digest.hexdigest())


@dataclass(frozen=True)
class VideoPlan:
    """A video cut into segments at keyframes: what each segment's task and the stitching need."""

    fingerprint: Fingerprint
    fps: float                          # the file's frame rate, as a sequential run reads it
    frames: int                         # frames in the file
    duration: float
    segments: tuple[Segment, ...]
    frames_before: tuple[int, ...]      # the file's frames before each segment's warm-up start
    notices: tuple[str, ...] = ()       # what the user should know (no keyframe to cut at)

    def span(self, n: int) -> str:
        """Segment ``n``'s own stretch as m:ss-m:ss (h:mm:ss from an hour)."""
        segment = self.segments[n]
        return f"{clock(segment.start)}-{clock(min(segment.end, self.duration))}"

    def to_dict(self) -> dict:
        """As JSON for the manifest (an open end as null)."""
        data = asdict(self)
        data["segments"] = [[s.start, None if s.end == math.inf else s.end, s.warmup_start, s.seek_from]
                            for s in self.segments]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "VideoPlan":
        if any(len(segment) != 4 for segment in data["segments"]):
            raise ValueError("a plan of an earlier version (segments without their keyframe to seek from)")
        segments = tuple(Segment(n, start, math.inf if end is None else end, warmup, seek)
                         for n, (start, end, warmup, seek) in enumerate(data["segments"]))
        return cls(Fingerprint(**data["fingerprint"]), data["fps"], data["frames"], data["duration"], segments,
                   tuple(data["frames_before"]), tuple(data["notices"]))


@dataclass(frozen=True)
class SegmentFailure:
    """Why a segment gave no rows; ``changed``: the file is not the one planned (the whole video fails)."""

    error: str
    changed: bool = False


def segment_outcome(future):
    """A segment task's result, or a SegmentFailure where the task failed on every retry."""
    try:
        return future.result()
    except Exception as error:
        return SegmentFailure(f"task failed: {error}")


def plan_video(path: str | Path, segment_seconds: float, overlap_seconds: float) -> VideoPlan:
    """Segments of about ``segment_seconds`` at the video's keyframes, each warming up on about
    ``overlap_seconds`` before it; InputError for a file that is no readable video."""
    fingerprint = Fingerprint.of(path)
    index = index_video(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        segments = plan_segments(index.keyframes, index.duration, segment_seconds, overlap_seconds)
    notices = [str(warning.message) for warning in caught]
    if index.variable_rate:
        notices.append("the frame rate varies (or frames are missing); segments are cut and joined by the "
                       "file's own frame times")
    return VideoPlan(fingerprint, index.fps or STREAM_FPS, len(index.frame_times), index.duration, tuple(segments),
                     tuple(index.frames_before(s.warmup_start) for s in segments), tuple(notices))


def start_video(raw: str, out_dir: str, options: tuple, every: int, segment_seconds: float,
                overlap_seconds: float) -> dict:
    """Task: a video's manifest entry when it is one segment (analysed whole, here), or its plan
    (``plan``, ``sha256``) when it is longer; an entry with ``error`` when it is no readable video."""
    entry = {"input": raw, "kind": "video"}
    try:
        plan = plan_video(raw, segment_seconds, overlap_seconds)
    except InputError as error:
        return {**entry, "error": str(error)}
    except OSError as error:
        return {**entry, "error": f"{error.strerror or error}"}
    if len(plan.segments) > 1:
        return {**entry, "plan": plan.to_dict(), "sha256": sha256_of(raw)}
    entry = analyze_video(raw, out_dir, options, every)
    return {**entry, "notice": "; ".join(plan.notices)} if plan.notices and "error" not in entry else entry


def analyze_segment(raw: str, plan: VideoPlan, n: int, options: tuple, every: int,
                    settings: StreamSettings = StreamSettings()) -> SegmentRows | SegmentFailure:
    """Task: segment ``n`` of ``plan`` -> its rows, warm-up frames included; or why it has none (a damaged
    stretch, a file that changed)."""
    path, segment = Path(raw), plan.segments[n]
    changed = _changed(path, plan)
    if changed:
        return changed
    analyzer = worker_analyzer(options)
    look_from = plan.segments[n + 1].warmup_start if n + 1 < len(plan.segments) else math.inf
    try:
        with VideoFileSource(path, every, segment.warmup_start, segment.end, plan.frames_before[n],
                             own_start=segment.start, seek_from=segment.seek_from) as source:
            processed_before = -(-plan.frames_before[n] // every)   # every ``every``-th frame from the first
            step = analyzer.open_stream(settings, plan.fps / every, processed_before)
            # One frame at a time (no frames overlapping on threads): a Dask worker is given one core per task,
            # and a pipelined stream would take about one and a half, oversubscribing the machine.
            results = analyzer.continue_stream(step, source, realtime=True)
            rows = SegmentRows.collect(results, segment, look_from, step.classifier.labels, step.tracker.remembered)
    except InputError as error:
        return SegmentFailure(str(error))
    return _changed(path, plan) or (SegmentFailure(source.stopped_at) if source.stopped_at else rows)


def render_segment(raw: str, plan: VideoPlan, n: int, results: list[FrameResult], every: int,
                   style: str = ANNOTATION_STYLE) -> bytes | SegmentFailure:
    """Task: segment ``n``'s own frames drawn with their stitched ``results`` (faces with the whole run's
    IDs) and encoded as a :class:`~emoscope.io.video.VideoSink` MP4, returned as bytes (the driver joins
    the parts); or why not (the frames cannot all be read again, the file changed)."""
    path, segment = Path(raw), plan.segments[n]
    changed = _changed(path, plan)
    if changed:
        return changed
    by_index = {result.index: result for result in results}
    first, written = results[0], 0   # read from the segment's first own frame drawn, a keyframe at or before it away
    with tempfile.TemporaryDirectory(prefix="emoscope-part-") as folder:
        part = VideoRecord(Path(folder) / "part.mp4", annotator=FrameAnnotator(style))
        try:
            with part.open(StreamInfo((), plan.fps / every)), \
                    VideoFileSource(path, every, first.timestamp, segment.end, first.index, seek_from=segment.start) \
                    as source:
                for frame in source:
                    result = by_index.get(frame.index)
                    if result is not None:   # None: a frame the rows do not have (damage)
                        part.add(replace(result, image=frame.image))
                        written += 1
        except InputError as error:
            return SegmentFailure(str(error))
        if written < len(results):
            return SegmentFailure(f"only {written} of its {len(results)} frames could be read again")
        return _changed(path, plan) or part.path.read_bytes()


def _changed(path: Path, plan: VideoPlan) -> SegmentFailure | None:
    try:
        unchanged = Fingerprint.of(path) == plan.fingerprint
    except OSError as error:
        return SegmentFailure(f"can no longer be read ({error.strerror or error})", changed=True)
    if unchanged:
        return None
    return SegmentFailure("the file changed while it was being analysed (its size, time or content is not what it "
                          "was when it was cut into segments), so nothing of it was merged; run again once it is "
                          "complete", changed=True)
