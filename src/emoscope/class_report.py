"""The class view of a finished stream: everyone seen, over time, as the data that the web page
(``class.json``) and the one-file report (:mod:`emoscope.web.class_page`) draw.

Each person's smoothed probabilities are averaged per ``bin_seconds`` (so an hour of 30 faces
stays small), with the seconds each sample stands for, and a thumbnail of their largest face.
"""
from __future__ import annotations

import base64
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from .types import FrameResult

THUMBNAIL_PX = 64


def thumbnail_area(box) -> float:
    """The size of a face's thumbnail in the frame: the largest of each person's is kept."""
    _, _, w, h = (int(round(v)) for v in box)
    return float(w * h)


def thumbnail(image: np.ndarray, box) -> np.ndarray | None:
    """The face in ``box`` as a THUMBNAIL_PX square; None where the box is off the image."""
    x, y, w, h = (int(round(v)) for v in box)
    crop = image[max(0, y):y + h, max(0, x):x + w]
    return cv2.resize(crop, (THUMBNAIL_PX, THUMBNAIL_PX), interpolation=cv2.INTER_AREA) if crop.size else None


class ClassRecorder:
    def __init__(self, labels, frame_interval: float, bin_seconds: float = 1.0):
        self.labels = tuple(labels)
        self.frame_interval = frame_interval
        self.bin_seconds = bin_seconds
        self._sums: dict[tuple[int, int], np.ndarray] = defaultdict(lambda: np.zeros(len(self.labels)))
        self._counts: dict[tuple[int, int], int] = defaultdict(int)
        self._thumbnails: dict[int, tuple[float, np.ndarray]] = {}
        self.end = 0.0

    def add(self, result: FrameResult) -> None:
        self.end = max(self.end, result.timestamp or 0.0)
        for face in result.faces:
            key = (face.track_id, int((result.timestamp or 0.0) // self.bin_seconds))
            self._sums[key] += [face.probabilities[k] for k in self.labels]
            self._counts[key] += 1
            area = thumbnail_area(face.box)
            if area > self._thumbnails.get(face.track_id, (0.0, None))[0]:
                crop = face.thumbnail if result.image is None else thumbnail(result.image, face.box)
                if crop is not None:
                    self._thumbnails[face.track_id] = (area, crop)

    def to_dict(self, title: str = "") -> dict:
        samples = [[round(b * self.bin_seconds, 3), track, round(self._counts[(track, b)] * self.frame_interval, 3),
                    [round(float(v), 3) for v in self._sums[(track, b)] / self._counts[(track, b)]]]
                   for track, b in sorted(self._sums, key=lambda k: (k[1], k[0]))]
        thumbnails = {track: "data:image/jpeg;base64," + base64.b64encode(cv2.imencode(".jpg", crop)[1].tobytes()).decode()
                      for track, (_, crop) in sorted(self._thumbnails.items())}
        return {"title": title, "labels": list(self.labels), "bin_seconds": self.bin_seconds, "end": round(self.end, 3),
                "samples": samples, "thumbnails": thumbnails}

    def write_json(self, path: str | Path, title: str = "") -> None:
        Path(path).write_text(json.dumps(self.to_dict(title)))
