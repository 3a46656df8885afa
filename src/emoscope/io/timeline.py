"""The timeline of a stream: one record per face per processed frame, as CSV or JSON (by suffix).

Records are written as they come (JSON as a streamed array), so an interrupted run keeps them.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ..errors import InputError
from ..types import FrameResult


def face_records(result: FrameResult):
    for face in result.faces:
        yield {"time": round(result.timestamp, 4), "frame": result.index, **face.to_dict()}


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
            fields = ["time", "frame", "track_id", "x", "y", "w", "h", "score", "emotion", "confidence"]
            fields += [f"raw_{k}" for k in self.labels] + [f"smooth_{k}" for k in self.labels]
            self._csv = csv.DictWriter(self._file, fields)
            self._csv.writeheader()
        else:
            self._file.write("[")
        return self

    def add(self, result: FrameResult) -> None:
        for record in face_records(result):
            if self._csv is not None:
                x, y, w, h = record["box"]
                row = {k: record[k] for k in ("time", "frame", "track_id", "score", "emotion", "confidence")}
                row.update(x=x, y=y, w=w, h=h)
                row.update({f"raw_{k}": v for k, v in record["raw_probabilities"].items()})
                row.update({f"smooth_{k}": v for k, v in record["probabilities"].items()})
                self._csv.writerow(row)
            else:
                self._file.write(("," if self._count else "") + "\n" + json.dumps(record))
            self._count += 1

    def __exit__(self, *exc) -> None:
        if self._csv is None:
            self._file.write("\n]\n")
        self._file.close()
