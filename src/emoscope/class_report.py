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
            x, y, w, h = (int(round(v)) for v in face.box)
            area = float(w * h)
            if result.image is not None and area > self._thumbnails.get(face.track_id, (0.0, None))[0]:
                crop = result.image[max(0, y):y + h, max(0, x):x + w]
                if crop.size:
                    self._thumbnails[face.track_id] = (area, cv2.resize(crop, (THUMBNAIL_PX, THUMBNAIL_PX),
                                                                        interpolation=cv2.INTER_AREA))

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
