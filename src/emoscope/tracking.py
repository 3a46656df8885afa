"""Stable face IDs across frames, and per-track smoothing of emotion probabilities — on arrays.

Association is greedy on IoU between this frame's boxes and each live track's box predicted
with its last velocity (faces move smoothly; a handful per frame makes the greedy order as good
as an optimal assignment in practice). Where appearance descriptors are given
(:mod:`emoscope.appearance`), a box only continues a track whose look is similar enough; a face
unlike the track's look of a moment ago twice in a row is another person shown in the same place (a
video-call tile given to someone else) and starts a new track; after a scene cut no track continues
by position at all. A face that no track takes gets the ID
of a lost track (unseen, or cut away from) only when its look says it is the same person;
otherwise a new ID. Tracks survive ``max_missed`` frames for position matches and
``reid_frames`` for appearance matches; IDs are never reused.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .appearance import similarity
from .settings import StreamSettings

_LOOK_MEMORY = 0.9   # a track's look is a moving average over about ten frames
_SNAPSHOTS = 8       # looks kept per track to recognise it later (poses, lighting), one every 15 detection frames
_SNAPSHOT_EVERY = 15


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
    look: np.ndarray | None = None
    last_look: np.ndarray | None = None
    in_doubt: bool = False   # its last face was unlike it a moment before: another like that is someone else
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    missed: int = 0
    cut_away: bool = False   # a scene cut came since it was last seen: only its look can bring it back
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)   # slot (a stretch of frames) -> look

    def references(self) -> np.ndarray:
        """The looks it is recognised by: its recent look and its snapshots."""
        return np.array([self.look, *self.snapshots.values()])

    def predicted(self) -> np.ndarray:
        return self.box + self.velocity * (self.missed + 1)

    def seen(self, box: np.ndarray, look: np.ndarray | None, moved: bool, snapshot_slot: int) -> None:
        """Seen again; its first look in each ``snapshot_slot`` (a stretch of the stream's frames) is
        kept. Slots are counted from the stream's start, not the track's, so that a track picked up
        mid-stream (a long video's segment) keeps the same snapshots as a run from the start."""
        self.velocity = 0.5 * self.velocity + 0.5 * (box - self.box) / (self.missed + 1) if moved \
            else np.zeros(4, np.float32)
        self.box, self.missed, self.cut_away = box, 0, False
        if look is not None:
            self.look = look if self.look is None else _LOOK_MEMORY * self.look + (1 - _LOOK_MEMORY) * look
            self.last_look = look
            if snapshot_slot not in self.snapshots:
                self.snapshots = keep_snapshots({**self.snapshots, snapshot_slot: look})


def keep_snapshots(snapshots: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The snapshots a track keeps of these: those of the latest ``_SNAPSHOTS`` slots."""
    return {slot: snapshots[slot] for slot in sorted(snapshots)[-_SNAPSHOTS:]}


@dataclass(frozen=True, eq=False)
class Remembered:
    """What a tracker keeps of a track to recognise its face by its look, seen or not: its moving-average
    look and its snapshots by slot. A long video's segments hand it on, so that a face lost in one
    segment and back in a later one gets its ID again, as in a run from the start (:mod:`emoscope.stitching`)."""

    track_id: int
    look: np.ndarray
    snapshots: dict[int, np.ndarray]

    def references(self) -> np.ndarray:
        return np.array([self.look, *self.snapshots.values()])


def look_memory(settings: StreamSettings) -> int:
    """Detection frames a tracker with looks keeps a lost track: it is still recognised on the next one after."""
    return max(settings.max_missed, settings.reid_frames)


def memory_seconds(detection_frames: int, settings: StreamSettings, processed_fps: float) -> float:
    """How long a track unseen for ``detection_frames`` (``max_missed``, :func:`look_memory`) is still matched,
    in seconds of a stream processed at ``processed_fps``, the detector running on every ``detect_every``-th
    frame (scene cuts add detection frames, so a tracker may forget sooner); half a frame more, so that
    decoded times a little off still fall inside."""
    return ((detection_frames + 1) * settings.detect_every + 0.5) / processed_fps


def likeness(tracks: list[_Track], looks: np.ndarray) -> np.ndarray:
    """(T, M): how alike each of ``looks`` is to each track at its most similar, its recent look or a
    snapshot; one similarity call for all tracks (a stream makes this call on every detection frame)."""
    return best_similarity([track.references() for track in tracks], looks)


def best_similarity(references: list[np.ndarray], looks: np.ndarray) -> np.ndarray:
    """(R, M): the similarity of each of ``looks`` to each entry of ``references`` (each (n, D) looks of one
    face) at its most similar; one similarity call for all."""
    if not references:
        return np.zeros((0, len(looks)), np.float32)
    table = similarity(np.concatenate(references), looks)
    ends = np.cumsum([len(r) for r in references])
    return np.stack([table[end - len(r):end].max(axis=0) for r, end in zip(references, ends)])


def likeness_now(tracks: list[_Track], looks: np.ndarray) -> np.ndarray:
    """(N,): how alike ``looks[i]`` is to ``tracks[i]`` as it looked a moment ago: its moving average, or
    its last look (a face turning quickly keeps up with the second; a face swapped in place with neither)."""
    if not tracks:
        return np.zeros(0, np.float32)
    table = similarity(np.array([look for track in tracks for look in (track.look, track.last_look)]), looks)
    pair = np.arange(len(tracks))
    return np.maximum(table[2 * pair, pair], table[2 * pair + 1, pair])


def greedy_pairs(scores: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, column) taken best score first, each row and column once, scores ≥ threshold."""
    pairs, rows, columns = [], set(), set()
    for flat in np.argsort(-scores, axis=None):
        r, c = np.unravel_index(flat, scores.shape)
        if scores[r, c] < threshold:
            break
        if r not in rows and c not in columns:
            pairs.append((int(r), int(c)))
            rows.add(r)
            columns.add(c)
    return pairs


class Tracker:
    """Assigns a track ID to each detection of each frame, in order."""

    def __init__(self, settings: StreamSettings = StreamSettings()):
        self.settings = settings
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._updates = 0

    @property
    def live_ids(self) -> list[int]:
        """IDs of the tracks that can still continue by position (seen recently, no cut since)."""
        return [t.track_id for t in self._tracks if self._followable(t)]

    def remembered(self) -> list[Remembered]:
        """The tracks it can still recognise by their looks (see :class:`Remembered`)."""
        return [Remembered(t.track_id, t.look, dict(t.snapshots)) for t in self._tracks if t.look is not None]

    def _followable(self, track: _Track) -> bool:
        return not track.cut_away and track.missed <= self.settings.max_missed

    def coast(self) -> tuple[np.ndarray, np.ndarray]:
        """For a frame without detection: the tracks matched last time, moved on by their velocity.
        Returns their IDs (N,) and boxes (N, 4)."""
        live = [t for t in self._tracks if t.missed == 0 and not t.cut_away]
        for track in live:
            track.box = track.box + track.velocity
        return (np.array([t.track_id for t in live], np.int64),
                np.array([t.box for t in live], np.float32).reshape(-1, 4))

    def update(self, boxes: np.ndarray, looks: np.ndarray | None = None, cut: bool = False,
               frame: int | None = None) -> np.ndarray:
        """Track IDs (N,) for this frame's boxes (N, 4); call once per frame with detections.

        ``looks`` (N, D): appearance descriptors of the boxes (None: position only).
        ``cut``: the scene changed since the last frame (no track continues by position).
        ``frame``: the frame's number in the stream (default: as if the updates so far were
        ``detect_every`` frames apart, as detection frames are)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        frame = self._updates * self.settings.detect_every if frame is None else frame
        self._updates += 1
        slot = frame // (_SNAPSHOT_EVERY * self.settings.detect_every)
        if cut:
            for track in self._tracks:
                track.cut_away = True
        ids = np.zeros(len(boxes), np.int64)
        taken: set[int] = set()
        overlapped = (iou_matrix(boxes, boxes) > 0).sum(axis=1) > 1   # another face's box overlaps it
        for t, b in self._by_position(boxes, looks, overlapped):
            track = self._tracks[t]
            # a face in doubt, or partly hidden by another, leaves the track's look as it was
            track.seen(boxes[b], None if looks is None or track.in_doubt or overlapped[b] else looks[b],
                       moved=True, snapshot_slot=slot)
            ids[b] = track.track_id
            taken.add(t)
        if looks is not None:
            for t, b in self._by_look(looks, ids, taken):
                self._tracks[t].in_doubt = False
                self._tracks[t].seen(boxes[b], looks[b], moved=False, snapshot_slot=slot)
                ids[b] = self._tracks[t].track_id
                taken.add(t)
        for t, track in enumerate(self._tracks):
            if t not in taken:
                track.missed += 1
                track.in_doubt = False   # "twice in a row" means on consecutive detections of the face
        memory = self.settings.max_missed if looks is None else look_memory(self.settings)
        self._tracks = [t for t in self._tracks if t.missed <= memory]
        for b in np.flatnonzero(ids == 0):
            track = _Track(self._next_id, boxes[b])
            track.seen(boxes[b], None if looks is None else looks[b], moved=False, snapshot_slot=slot)
            self._tracks.append(track)
            ids[b] = self._next_id
            self._next_id += 1
        return ids

    def _by_position(self, boxes: np.ndarray, looks: np.ndarray | None,
                     overlapped: np.ndarray) -> list[tuple[int, int]]:
        """(track, box) pairs continued by overlap with the predicted box, where the looks agree and
        the face looks as the track did a moment ago (not judged for a face another box ``overlapped``:
        partly hidden, it looks unlike itself); best overlap first, or, with looks, best overlap times
        likeness (two faces on top of each other keep their own tracks)."""
        candidates = [t for t, track in enumerate(self._tracks) if self._followable(track)]
        predicted = np.array([self._tracks[t].predicted() for t in candidates], np.float32).reshape(-1, 4)
        overlap = iou_matrix(predicted, boxes)
        score = np.where(overlap >= self.settings.iou_threshold, overlap, 0.0)
        if looks is not None:
            rows = [row for row, t in enumerate(candidates) if self._tracks[t].look is not None]
            alike = likeness([self._tracks[candidates[row]] for row in rows], looks)
            score[rows] = np.where(alike >= self.settings.same_look, score[rows] * alike, 0.0)
        pairs = [(candidates[r], b) for r, b in greedy_pairs(score, 1e-6)]
        if looks is None:
            return pairs
        judged = [(t, b) for t, b in pairs if not overlapped[b] and self._tracks[t].look is not None]
        now = likeness_now([self._tracks[t] for t, _ in judged], looks[[b for _, b in judged]])
        dropped = {(t, b) for (t, b), alike in zip(judged, now.tolist()) if not self._goes_on(self._tracks[t], alike)}
        return [pair for pair in pairs if pair not in dropped]

    def _goes_on(self, track: _Track, alike_now: float) -> bool:
        """Whether a face that looks ``alike_now`` to the track a moment ago continues it: False the second
        time in a row that it is unlike (the first time, the track goes on in doubt: one odd look is a
        blur, a hand, a bad box; two are someone else)."""
        unlike = alike_now < self.settings.same_moment
        if unlike and track.in_doubt:
            track.in_doubt = False
            return False
        track.in_doubt = unlike
        return True

    def _by_look(self, looks: np.ndarray, ids: np.ndarray, taken: set[int]) -> list[tuple[int, int]]:
        """(track, box) pairs for boxes no track took: a track not seen this frame, recognised by its look."""
        free = np.flatnonzero(ids == 0)
        candidates = [t for t, track in enumerate(self._tracks) if t not in taken and track.look is not None]
        if len(free) == 0 or not candidates:
            return []
        alike = likeness([self._tracks[t] for t in candidates], looks[free])
        return [(candidates[r], int(free[c])) for r, c in greedy_pairs(alike, self.settings.same_person)]


class ProbabilitySmoother:
    """Exponential moving average of each track's probabilities over about ``window`` frames.

    ``window`` 1 turns smoothing off. A track's average forgets it when the tracker does.
    """

    def __init__(self, window: int = StreamSettings.smooth):
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
        """Drop the state of tracks that can no longer continue by position."""
        live = set(live_ids)
        self._state = {k: v for k, v in self._state.items() if k in live}
