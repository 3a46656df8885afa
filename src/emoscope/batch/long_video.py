"""A long video analysed in segments on several workers, seen from the driver: each segment's rows
are stored as they come (one file per segment), a segment that fails is noted with its time range,
and their track IDs are stitched (:mod:`emoscope.stitching`) and their results fed, in order, into
the same sinks that a sequential run feeds, so that the outputs are a sequential run's. One video on a
cluster is stitched and written as its segments arrive, while the later ones are still analysed; a
batch writes a video once all of its segments are in. The frames of a failed segment are missing from
the outputs; the caller says which.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import InputError
from ..io.video import join_videos
from ..settings import ANNOTATION_STYLE, BatchSettings, StreamSettings
from ..sinks import FileSink, Sink, StreamInfo
from ..stitching import Stitcher
from ..streaming import feed_sinks
from ..summary import StreamSummary
from ..types import FrameResult
from .segment_rows import SegmentRows
from .segment_tasks import (Fingerprint, SegmentFailure, VideoPlan, analyze_segment, plan_video, render_segment,
                            segment_outcome)


class SegmentedVideo:
    """One long video's segments on their way. ``key``: what else the rows depend on (the analyzer's
    options, ``every``, the segment length): stored rows are used again only under the same key and plan.
    ``settings``: those its segments are analysed with."""

    def __init__(self, raw: str, plan: VideoPlan, folder: Path, key: dict, sha256: str | None = None,
                 settings: StreamSettings = StreamSettings()):
        self.raw, self.plan, self.folder, self.key, self.sha256 = raw, plan, Path(folder), key, sha256
        self.settings = settings
        self.done: dict[int, Path] = {}
        self.failed: dict[int, str] = {}

    @classmethod
    def resume(cls, raw: str, record: dict, folder: Path, key: dict) -> "SegmentedVideo | None":
        """The video as an earlier run left it (its manifest record): its stored segments kept where the
        file and the key are the same; None where anything differs or is gone (start over)."""
        try:
            plan = VideoPlan.from_dict(record["plan"])
            if record["key"] != key or Fingerprint.of(raw) != plan.fingerprint:
                return None
            video = cls(raw, plan, folder, key, record["sha256"])
            video.done = {int(n): folder / name for n, name in record["done"].items() if (folder / name).is_file()}
            return video
        except (KeyError, TypeError, ValueError, OSError):
            return None

    def record(self) -> dict:
        """What the manifest keeps of it, to resume."""
        return {"plan": self.plan.to_dict(), "key": self.key, "sha256": self.sha256,
                "done": {str(n): path.name for n, path in sorted(self.done.items())}}

    @property
    def todo(self) -> list[int]:
        return [n for n in range(len(self.plan.segments)) if n not in self.done and n not in self.failed]

    def store(self, n: int, rows: SegmentRows) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{n:05d}.npz"
        rows.save(path)
        self.done[n] = path

    def fail(self, n: int, error: str) -> None:
        self.failed[n] = error.removeprefix(f"{self.raw}: ")   # shown after the file's name and the stretch

    def take(self, n: int, outcome: SegmentRows | SegmentFailure) -> None:
        """Segment ``n``'s task outcome: its rows stored, or its failure noted; InputError where the task
        found the file changed (the whole video is then wrong)."""
        if isinstance(outcome, SegmentFailure) and outcome.changed:
            raise InputError(f"{self.raw}: {outcome.error}")
        if isinstance(outcome, SegmentFailure):
            self.fail(n, outcome.error)
        else:
            self.store(n, outcome)

    @property
    def missing(self) -> list[str]:
        """Each failed segment's stretch and error: "12:00-13:00: <error>"."""
        return [f"{self.plan.span(n)}: {error}" for n, error in sorted(self.failed.items())]

    def _wait_for(self, n: int, arrive: Callable[[], None] | None) -> None:
        """Until segment ``n`` is stored or failed, take in the next finished segment."""
        while n not in self.done and n not in self.failed:
            if arrive is None:
                raise ValueError(f"segment {n} is not in yet, and nothing was given to wait for it")
            arrive()

    def results(self, every: int, arrive: Callable[[], None] | None = None) -> Iterator[FrameResult]:
        """Every stored segment's own frames in order, with the track IDs of one run; a failed segment's
        frames are left out (after it, faces keep their IDs only where their looks are recognised).
        ``arrive``: see :meth:`write`."""
        stitcher = Stitcher.for_stream(self.settings, self.plan.fps / every)
        for n, segment in enumerate(self.plan.segments):
            self._wait_for(n, arrive)
            if n not in self.done:
                stitcher.add(segment, [])
                continue
            rows = SegmentRows.load(self.done[n])
            yield from rows.results(segment, stitcher.add(segment, rows.face_rows(), rows.remembered()))

    def write(self, sinks: Iterable[Sink], every: int, title: str | None = None,
              arrive: Callable[[], None] | None = None) -> StreamSummary:
        """The stitched results into ``sinks``, as :func:`~emoscope.streaming.stream_video_file` would
        feed them; InputError when no segment gave rows. ``arrive`` (None: every segment is in already)
        takes in one more finished segment, blocking until one finishes (:meth:`take`): it is called
        whenever the next segment in time order is not in yet, so that each segment is stitched and
        written while the later ones are still being analysed."""
        for n in range(len(self.plan.segments)):   # the sinks open with the labels of the first segment in
            self._wait_for(n, arrive)
            if n in self.done:
                break
        else:
            raise InputError(f"{self.raw}: no segment could be analysed: " + "; ".join(self.missing))
        labels = tuple(SegmentRows.load(self.done[n]).labels.tolist())
        stream = StreamInfo(labels, self.plan.fps / every, -(-self.plan.frames // every),
                            Path(self.raw).name if title is None else title, audio_from=Path(self.raw))
        return feed_sinks(self.results(every, arrive), stream, sinks)

    def remove_rows(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class SegmentedRecord(FileSink):
    """The annotated MP4 of a video analysed in segments: as each segment's stitched results come in, its
    frames are drawn and encoded on a worker (:func:`~emoscope.batch.segment_tasks.render_segment`), and
    each part is fetched as soon as it is done (into a folder beside the output); at the end the parts are
    joined without re-encoding, with the file's audio. A part that fails leaves its stretch out (listed in
    ``missing``); the rest stay in time. A file that changed fails the whole video (InputError), and an
    interrupted stream writes no MP4. Needs :meth:`attach` before it is opened."""

    kind, option = "video", "record"

    def __init__(self, path: str | Path, option: str | None = None, style: str = ANNOTATION_STYLE):
        super().__init__(path, option)
        self.style = style
        self.missing: list[str] = []

    def attach(self, client, video: SegmentedVideo, every: int, retries: int = BatchSettings.retries) -> None:
        self.client, self.video, self.every, self.retries = client, video, every, retries

    def open(self, stream: StreamInfo) -> "SegmentedRecord":
        super().open(stream)
        self._pending: dict[int, tuple[int, object]] = {}   # segment -> (its first frame's number, future)
        self._parts: dict[int, tuple[Path, int]] = {}       # segment -> (its MP4 here, its first frame's number)
        self._segment, self._results = 0, []
        self._folder = Path(tempfile.mkdtemp(prefix=".emoscope-parts-", dir=self.path.parent))
        return self

    def add(self, result: FrameResult) -> None:
        segments = self.video.plan.segments
        if not segments[self._segment].owns(result.timestamp):
            self._submit()
            while not segments[self._segment].owns(result.timestamp):
                self._segment += 1
        self._results.append(result)

    def _submit(self) -> None:
        if self._results:
            drawn = [replace(result, faces=[replace(face, thumbnail=None) for face in result.faces])
                     for result in self._results]   # what drawing needs, not the thumbnails
            future = self.client.submit(render_segment, self.video.raw, self.video.plan, self._segment, drawn,
                                        self.every, self.style, retries=self.retries, pure=False)
            self._pending[self._segment] = (self._results[0].index // self.every, future)
        self._results = []
        self._fetch(wait=False)

    def _fetch(self, wait: bool) -> None:
        """The parts that are done into the folder, out of the cluster's memory; with ``wait``, every part,
        each as soon as it is done."""
        from dask.distributed import as_completed

        segment_of = {future: n for n, (_, future) in self._pending.items()}
        for future in as_completed(segment_of) if wait else [f for f in segment_of if f.done()]:
            n = segment_of[future]
            first_frame, _ = self._pending.pop(n)
            outcome = segment_outcome(future)
            if isinstance(outcome, SegmentFailure) and outcome.changed:
                raise InputError(f"{self.video.raw}: {outcome.error}")
            if isinstance(outcome, SegmentFailure):
                self.missing.append(f"{self.video.plan.span(n)}: annotated video: {outcome.error}")
                continue
            part = self._folder / f"{n:05d}.mp4"
            part.write_bytes(outcome)
            self._parts[n] = (part, first_frame)

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._submit()
                self._fetch(wait=True)
                if self._parts:
                    join_videos([self._parts[n] for n in sorted(self._parts)], self.path, self.stream.fps,
                                self.stream.audio_from)
        finally:
            self.client.cancel([future for _, future in self._pending.values()])
            shutil.rmtree(self._folder, ignore_errors=True)


def analyze_on_cluster(path: str | Path, sinks: Iterable[Sink], client, options: dict, every: int = 1,
                       settings: StreamSettings = StreamSettings(),
                       segment_seconds: float = BatchSettings.segment_seconds,
                       retries: int = BatchSettings.retries,
                       progress: bool = False) -> tuple[StreamSummary, SegmentedVideo]:
    """One video on a Dask cluster (``emoscope video --scheduler``): cut into segments, one task each,
    stitched into ``sinks``. Returns the summary and the video (its ``plan.notices`` and ``missing``
    stretches for the caller to show; a :class:`SegmentedRecord` among the sinks has its own ``missing``).
    Workers must see the file at the same path. InputError when the file changed while it was analysed:
    the outputs then hold the stretch written before the change was found, as an interrupted run's do, and
    never a segment of the changed file."""
    from dask.distributed import as_completed
    from tqdm import tqdm

    raw, sinks = str(Path(path).resolve()), list(sinks)
    plan = plan_video(raw, segment_seconds, BatchSettings.overlap_seconds)
    options = tuple(sorted(options.items()))
    with tempfile.TemporaryDirectory(prefix="emoscope-segments-") as folder:
        video = SegmentedVideo(raw, plan, Path(folder), key={}, settings=settings)
        for sink in sinks:
            if isinstance(sink, SegmentedRecord):
                sink.attach(client, video, every, retries)
        futures = {client.submit(analyze_segment, raw, plan, n, options, every, settings, retries=retries,
                                 pure=False): n for n in video.todo}
        finished = as_completed(futures)
        try:
            with tqdm(total=len(futures), unit="segment", disable=not progress, file=sys.stderr) as bar:
                def arrive() -> None:
                    future = next(finished, None)
                    if future is None:
                        raise RuntimeError("every segment task is back, yet a segment is missing")
                    video.take(futures.pop(future), segment_outcome(future))   # its rows leave the cluster
                    bar.update()

                return video.write(sinks, every, title=Path(path).name, arrive=arrive), video
        finally:
            client.cancel(list(futures))
