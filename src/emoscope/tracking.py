"""Stable face IDs across frames, and per-track smoothing of emotion probabilities.

Association is greedy on IoU between this frame's boxes and each live track's box predicted
with its last velocity (faces move smoothly; a handful per frame makes the greedy order as good
as an optimal assignment in practice). A track survives ``max_missed`` frames without a match,
so a face hidden for a moment keeps its ID; IDs are never reused.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .types import ImageResult


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), boxes as x, y, w, h."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    ax1, ay1, ax2, ay2 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx1, by1, bx2, by2 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter = np.clip(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0, None) * \
        np.clip(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0, None)
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


@dataclass
class _Track:
    track_id: int
    box: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    missed: int = 0
    hits: int = 1

    def predicted(self) -> np.ndarray:
        return self.box + self.velocity * (self.missed + 1)


class Tracker:
    """Assigns a track ID to each detection of each frame, in order."""

    def __init__(self, iou_threshold: float = 0.25, max_missed: int = 30):
        self.iou_threshold = iou_threshold
        self.max_missed = max_missed
        self._tracks: list[_Track] = []
        self._next_id = 1

    @property
    def live_ids(self) -> list[int]:
        """IDs of the tracks still remembered (matched recently enough)."""
        return [t.track_id for t in self._tracks]

    def coast(self) -> tuple[np.ndarray, np.ndarray]:
        """For a frame without detection: the tracks matched last time, moved on by their velocity.
        Returns their IDs (N,) and boxes (N, 4)."""
        live = [t for t in self._tracks if t.missed == 0]
        for track in live:
            track.box = track.box + track.velocity
        return (np.array([t.track_id for t in live], np.int64),
                np.array([t.box for t in live], np.float32).reshape(-1, 4))

    def update(self, boxes: np.ndarray) -> np.ndarray:
        """Track IDs (N,) for this frame's boxes (N, 4); call once per processed frame."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        ids = np.zeros(len(boxes), np.int64)
        predicted = np.array([t.predicted() for t in self._tracks], np.float32).reshape(-1, 4)
        overlap = iou_matrix(predicted, boxes)
        used_tracks, used_boxes = set(), set()
        for flat in np.argsort(-overlap, axis=None):
            t, b = np.unravel_index(flat, overlap.shape)
            if overlap[t, b] < self.iou_threshold:
                break
            if t in used_tracks or b in used_boxes:
                continue
            track = self._tracks[t]
            track.velocity = 0.5 * track.velocity + 0.5 * (boxes[b] - track.box) / (track.missed + 1)
            track.box, track.missed, track.hits = boxes[b], 0, track.hits + 1
            ids[b] = track.track_id
            used_tracks.add(t)
            used_boxes.add(b)
        for t, track in enumerate(self._tracks):
            if t not in used_tracks:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for b in range(len(boxes)):
            if b not in used_boxes:
                self._tracks.append(_Track(self._next_id, boxes[b]))
                ids[b] = self._next_id
                self._next_id += 1
        return ids


class ProbabilitySmoother:
    """Exponential moving average of each track's probabilities over about ``window`` frames.

    ``window`` 1 turns smoothing off. A track's average forgets it when the tracker does.
    """

    def __init__(self, window: int = 5):
        if window < 1:
            raise ValueError("the smoothing window must be at least 1 frame")
        self.alpha = 2.0 / (window + 1.0)
        self._state: dict[int, np.ndarray] = {}

    def update(self, track_ids: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """Smoothed (N, K) probabilities for this frame's detections, given their track IDs."""
        smoothed = np.empty_like(probabilities)
        for i, track_id in enumerate(np.asarray(track_ids).tolist()):
            previous = self._state.get(track_id)
            value = probabilities[i] if previous is None else self.alpha * probabilities[i] + (1 - self.alpha) * previous
            smoothed[i] = self._state[track_id] = value
        return smoothed

    def forget(self, live_ids) -> None:
        """Drop the state of tracks that are no longer alive."""
        live = set(live_ids)
        self._state = {k: v for k, v in self._state.items() if k in live}


class FaceTracks:
    """One stream's state: gives each face of successive results its track ID and smoothed
    probabilities (this frame's own move to ``raw_probabilities``)."""

    def __init__(self, labels, smooth: int = 5, max_missed: int = 30):
        self.labels = tuple(labels)
        self.tracker = Tracker(max_missed=max_missed)
        self.smoother = ProbabilitySmoother(smooth)

    def track(self, result: ImageResult) -> None:
        """For a frame with fresh detections: match them to tracks, then smooth."""
        boxes = np.array([face.box for face in result.faces], np.float32).reshape(-1, 4)
        self.label(result, self.tracker.update(boxes))

    def label(self, result: ImageResult, ids: np.ndarray) -> None:
        """Set track IDs (given, in face order) and smoothed probabilities on the result's faces."""
        raw = np.array([[face.probabilities[k] for k in self.labels] for face in result.faces], np.float32)
        smoothed = self.smoother.update(ids, raw.reshape(-1, len(self.labels)))
        self.smoother.forget(self.tracker.live_ids)
        for face, track_id, row in zip(result.faces, np.asarray(ids).tolist(), smoothed):
            face.track_id, face.raw_probabilities = track_id, face.probabilities
            face.probabilities = dict(zip(self.labels, row.tolist()))
