"""The tasks a worker runs for whole inputs: a chunk of images, a video in one piece. Each returns the
input's manifest entry, with its error where it failed. Every worker builds one Analyzer, once, when
its first task arrives (never pickled)."""
from __future__ import annotations

import functools
import json
from pathlib import Path

from ..errors import InputError
from ..models import sha256_of
from ..sinks import FileSink, SummaryFile, TimelineFile
from ..types import FrameResult
from .inputs import output_key
from .manifest import faces_file


@functools.lru_cache(maxsize=2)
def worker_analyzer(options: tuple):
    """The worker process's one Analyzer for these options (built on first use, then reused)."""
    from ..pipeline import Analyzer

    return Analyzer(**dict(options))


def analyze_images(paths: list[str], out_dir: str, options: tuple) -> list[dict]:
    """Task: a chunk of images -> one JSON per image; returns a manifest entry per input."""
    analyzer = worker_analyzer(options)
    return [_analyze_image(analyzer, raw, out_dir) for raw in paths]


def _analyze_image(analyzer, raw: str, out_dir: str) -> dict:
    """One image's manifest entry; whatever goes wrong with it stays its own error."""
    path = Path(raw)
    entry = {"input": raw, "kind": "image"}
    try:
        result = next(analyzer.analyze_many([path]))
        if result.error:
            return {**entry, "error": result.error}
        target = Path(out_dir) / "images" / f"{output_key(path)}.json"
        target.write_text(json.dumps(result.to_dict()))
        labels = analyzer.photo_classifier.labels
        return {**entry, "sha256": sha256_of(path), "outputs": [str(target.relative_to(out_dir))],
                "faces": [face_row(raw, None, None, face, labels) for face in result.faces]}
    except OSError as error:
        return {**entry, "error": f"{error.strerror or error}"}


class FaceRowsFile(FileSink):
    """Every face of a video as rows of the batch's table (:func:`face_row`): a JSON array, written as they come."""

    kind, option = "json", "faces"

    def __init__(self, path: str | Path, raw: str):
        super().__init__(path)
        self.raw = raw

    def __enter__(self) -> "FaceRowsFile":
        self._file = open(self.path, "w", encoding="utf-8")
        self._file.write("[")
        self._count = 0
        return self

    def add(self, result: FrameResult) -> None:
        for face in result.faces:
            row = face_row(self.raw, result.index, result.timestamp, face, self.stream.labels)
            self._file.write((", " if self._count else "") + json.dumps(row))
            self._count += 1

    def __exit__(self, *exc) -> None:
        self._file.write("]")
        self._file.close()


def video_sinks(out_dir: Path, raw: str) -> list[FileSink]:
    """A batch video's outputs: its timeline and summary, then its face rows for the table of every face."""
    folder = out_dir / "videos" / output_key(Path(raw))
    return [TimelineFile(folder / "timeline.csv"), SummaryFile(folder / "summary.json"),
            FaceRowsFile(faces_file(out_dir, raw), raw)]


def analyze_video(raw: str, out_dir: str, options: tuple, every: int) -> dict:
    """Task: one video -> its timeline CSV and summary JSON; returns its manifest entry."""
    from ..streaming import stream_video_file

    analyzer = worker_analyzer(options)
    path = Path(raw)
    try:
        sinks = video_sinks(Path(out_dir), raw)
        summary = stream_video_file(path, analyzer, sinks, every=every)
    except InputError as error:
        return {"input": raw, "kind": "video", "error": str(error)}
    except OSError as error:
        return {"input": raw, "kind": "video", "error": f"{error.strerror or error}"}
    if summary.stopped_at and summary.frames == 0:
        return {"input": raw, "kind": "video", "error": summary.stopped_at}
    entry = {"input": raw, "kind": "video", "sha256": sha256_of(path),
             "outputs": [str(sink.path.relative_to(out_dir)) for sink in sinks]}
    if summary.stopped_at:
        entry["warning"] = summary.stopped_at
    return entry


def face_row(raw, frame, time, face, labels) -> dict:
    """One face of an input as a row of the batch's table (``faces.csv``)."""
    from ..io.writers import face_row as columns

    return {"input": raw, "frame": frame, "time": None if time is None else round(time, 4),
            "track_id": face.track_id, **columns(face, labels)}
