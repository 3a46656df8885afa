"""Result types shared by the library, the CLI and (later) the API: one JSON shape everywhere."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detections:
    """Faces found in one image, as arrays in the image's pixel coordinates.

    ``boxes`` (N, 4) as x, y, w, h; ``landmarks`` (N, 5, 2) — right eye, left eye, nose tip,
    right and left mouth corner, as seen by the viewer's left-to-right order of YuNet — or
    None when the detector gives none; ``scores`` (N,).
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray | None = None

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        if len(self.scores) != len(self.boxes):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, np.float32).reshape(-1, 5, 2)
            if len(self.landmarks) != len(self.boxes):
                raise ValueError(f"{len(self.boxes)} boxes but {len(self.landmarks)} landmark sets")

    @classmethod
    def empty(cls, with_landmarks: bool = False) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)) if with_landmarks else None)

    def __len__(self) -> int:
        return len(self.boxes)

    def select(self, keep: np.ndarray) -> "Detections":
        return Detections(self.boxes[keep], self.scores[keep], None if self.landmarks is None else self.landmarks[keep])

    @classmethod
    def concatenate(cls, parts: list["Detections"]) -> "Detections":
        """The faces of several looks at one image (all with landmarks, or none)."""
        landmarks = [part.landmarks for part in parts]
        return cls(np.concatenate([part.boxes for part in parts]), np.concatenate([part.scores for part in parts]),
                   None if any(points is None for points in landmarks) else np.concatenate(landmarks))


def _round(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


@dataclass
class Face:
    """One face: where it is, and the emotion on it with a probability per label."""

    box: tuple[float, float, float, float]
    score: float
    probabilities: dict[str, float]
    landmarks: list[tuple[float, float]] | None = None
    track_id: int | None = None
    raw_probabilities: dict[str, float] | None = None
    """Set in streams: ``probabilities`` are then smoothed over time, these are this frame's own."""
    thumbnail: np.ndarray | None = field(default=None, repr=False, compare=False)
    """A small picture of the face (``class_report.thumbnail``), only where the frame itself is not kept:
    the largest face of each person in a long video's segment analysed apart (:mod:`emoscope.batch`)."""

    @property
    def emotion(self) -> str:
        return max(self.probabilities, key=self.probabilities.get)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.emotion]

    def to_dict(self) -> dict:
        data = {
            "box": [_round(v, 1) for v in self.box],
            "landmarks": None if self.landmarks is None else [[_round(x, 1), _round(y, 1)] for x, y in self.landmarks],
            "score": _round(self.score, 4),
            "emotion": self.emotion,
            "confidence": _round(self.confidence, 4),
            "probabilities": {k: _round(v, 4) for k, v in self.probabilities.items()},
        }
        if self.track_id is not None:
            data["track_id"] = self.track_id
        if self.raw_probabilities is not None:
            data["raw_probabilities"] = {k: _round(v, 4) for k, v in self.raw_probabilities.items()}
        return data


def faces_from_arrays(detections: Detections, probabilities: np.ndarray, labels, track_ids: np.ndarray | None = None,
                      raw_probabilities: np.ndarray | None = None) -> list[Face]:
    """Face objects from the arrays of one image, ``probabilities`` (N, K) in ``labels`` order (built
    once, at the end of the flow, by the Analyzer and the stream step alike)."""
    landmarks = detections.landmarks
    return [
        Face(box=tuple(detections.boxes[i].tolist()), score=float(detections.scores[i]),
             probabilities=dict(zip(labels, probabilities[i].tolist())),
             landmarks=None if landmarks is None else [tuple(p) for p in landmarks[i].tolist()],
             track_id=None if track_ids is None else int(track_ids[i]),
             raw_probabilities=None if raw_probabilities is None else dict(zip(labels, raw_probabilities[i].tolist())))
        for i in range(len(detections))
    ]


@dataclass
class ImageResult:
    """Every face in one image. ``error`` is set (and ``faces`` empty) when the image could not be analysed."""

    path: str | None
    width: int
    height: int
    faces: list[Face] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict:
        data = {
            "path": self.path, "width": self.width, "height": self.height,
            "faces": [face.to_dict() for face in self.faces],
            "timings_ms": {k: _round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass
class Frame:
    """One frame of a source: its position, its time and its pixels."""

    index: int          # position in the source, counting every decoded frame
    timestamp: float    # seconds from the start of the stream
    image: np.ndarray   # BGR uint8


@dataclass
class FrameResult(ImageResult):
    """Every face in one frame of a stream, with its position in the stream."""

    index: int = 0
    timestamp: float | None = None
    image: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The frame itself, for annotators and sinks; not part of the JSON."""

    def to_dict(self) -> dict:
        return {"frame": self.index, "time": None if self.timestamp is None else round(self.timestamp, 4),
                **super().to_dict()}
