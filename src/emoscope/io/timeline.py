"""The timeline of a stream: one record per face per processed frame, as CSV or JSON (by suffix).
CSV columns: time, frame, track_id and :func:`emoscope.io.writers.face_row`'s (with ``raw_<label>``).

Records are written as they come (JSON as a streamed array), so an interrupted run keeps them.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ..errors import InputError
from ..types import FrameResult
from .writers import face_columns, face_values


class TimelineWriter:
    def __init__(self, path: str | Path, labels):
        self.path = Path(path)
        self.labels = tuple(labels)
        self.format = self.path.suffix.lower().lstrip(".")
        if self.format not in ("csv", "json"):
            raise InputError(f"{self.path}: a timeline is .csv or .json")
        self._file = self._csv = None
        self._count = 0

    def __enter__(self) -> "TimelineWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", newline="", encoding="utf-8")
        if self.format == "csv":
            self._csv = csv.writer(self._file)
            self._csv.writerow(["time", "frame", "track_id", *face_columns(self.labels, raw=True)])
        else:
            self._file.write("[")
        return self

    def add(self, result: FrameResult) -> None:
        if not result.faces:
            return
        time = round(result.timestamp, 4)
        for face in result.faces:
            if self._csv is not None:
                self._csv.writerow([time, result.index, face.track_id, *face_values(face, self.labels, raw=True)])
            else:
                record = {"time": time, "frame": result.index, **face.to_dict()}
                self._file.write(("," if self._count else "") + "\n" + json.dumps(record))
            self._count += 1

    def __exit__(self, *exc) -> None:
        if self._csv is None:
            self._file.write("\n]\n")
        self._file.close()
