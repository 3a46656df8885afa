"""Sinks for image results, as context managers: annotated images, a JSON array, a CSV of faces.

JSON is streamed (one image object per element, the library's ``to_dict`` form) and closed
properly on errors or Ctrl-C, so results so far are never lost.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import cv2

from ..render import draw_faces
from ..settings import ANNOTATION_STYLE
from ..types import Face, ImageResult
from .images import read_image


def face_columns(labels, raw: bool = False) -> list[str]:
    """The columns of :func:`face_row`, in order; ``raw`` for streams."""
    columns = ["x", "y", "w", "h", "score", "emotion", "confidence"] + [f"p_{k}" for k in labels]
    return columns + ([f"raw_{k}" for k in labels] if raw else [])


def face_values(face: Face, labels, raw: bool = False) -> list:
    """One face's values in the order of ``face_columns(labels, raw)``: a timeline writes a long video's
    hundreds of thousands of rows as lists, faster than as dicts."""
    x, y, w, h = face.box
    emotion = face.emotion
    values = [round(x, 1), round(y, 1), round(w, 1), round(h, 1), round(face.score, 4), emotion,
              round(face.probabilities[emotion], 4), *[round(face.probabilities[k], 4) for k in labels]]
    if raw:
        values += [""] * len(labels) if face.raw_probabilities is None else \
            [round(face.raw_probabilities[k], 4) for k in labels]
    return values


def face_row(face: Face, labels) -> dict:
    """One face as CSV columns, the same in every CSV (images, timelines, batches): box, detector
    score, emotion, confidence, ``p_<label>`` (smoothed over time in streams) and, in streams,
    this frame's own ``raw_<label>``."""
    raw = face.raw_probabilities is not None
    return dict(zip(face_columns(labels, raw), face_values(face, labels, raw)))


def face_rows(result: ImageResult, labels) -> list[dict]:
    """One CSV row per face (one row with the error for a failed image)."""
    if result.error:
        return [{"path": result.path, "error": result.error}]
    return [{"path": result.path, "face": index, **face_row(face, labels)} for index, face in enumerate(result.faces)]


class ImageOutputs:
    """Write any of: annotated images into ``out_dir``, JSON to ``json_path`` ('-' = stdout), CSV to ``csv_path``."""

    def __init__(self, out_dir=None, json_path=None, csv_path=None, labels=(), annotate: str = ANNOTATION_STYLE):
        self.out_dir = Path(out_dir) if out_dir else None
        self.annotate = annotate
        self.json_path, self.csv_path, self.labels = json_path, csv_path, tuple(labels)
        self._json = self._csv = self._csv_file = None
        self._count = 0
        self._names: set[str] = set()

    def __enter__(self) -> "ImageOutputs":
        if self.out_dir:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.json_path:
            self._json = sys.stdout if self.json_path == "-" else open(self.json_path, "w", encoding="utf-8")
            self._json.write("[")
        if self.csv_path:
            self._csv_file = open(self.csv_path, "w", newline="", encoding="utf-8")
            fields = ["path", "face", *face_columns(self.labels), "error"]
            self._csv = csv.DictWriter(self._csv_file, fields)
            self._csv.writeheader()
        return self

    def add(self, result: ImageResult, image=None) -> None:
        if self._json is not None:
            self._json.write(("," if self._count else "") + "\n" + json.dumps(result.to_dict()))
        if self._csv is not None:
            self._csv.writerows(face_rows(result, self.labels))
        if self.out_dir and not result.error and result.path:
            source = image if image is not None else read_image(result.path)
            cv2.imwrite(str(self._annotated_path(result.path)), draw_faces(source, result.faces, self.annotate))
        self._count += 1

    def _annotated_path(self, path: str) -> Path:
        stem = Path(path).stem
        name, n = f"{stem}.png", 1
        while name in self._names:  # same file name from another folder
            n += 1
            name = f"{stem}-{n}.png"
        self._names.add(name)
        return self.out_dir / name

    def __exit__(self, *exc) -> None:
        if self._json is not None:
            self._json.write("\n]\n")
            if self._json is not sys.stdout:
                self._json.close()
        if self._csv_file is not None:
            self._csv_file.close()
