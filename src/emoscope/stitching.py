"""Track IDs joined across segments analysed apart (:mod:`emoscope.segments`), so that the whole
video reads as one run.

Each segment's tracker numbers its faces from 1. Its warm-up frames are frames that an earlier
segment owns: a track of the later segment that follows the same face there as an earlier track
(boxes with IoU >= ``min_iou`` on at least ``min_shared_frames`` frames both saw, and alike looks where
the rows carry them) takes that track's global ID (:func:`match_tracks`). A new track of the later
segment may be a face an earlier segment lost: it takes that face's ID as a sequential tracker would
give it (:meth:`Stitcher.for_stream`). Every other track with frames of its own gets a new ID above all
IDs given so far, in the order the faces first appear, as a sequential tracker numbers them. A track
seen only in warm-up frames and matched to none gets no ID: its frames are the earlier segment's.

The rows are plain, so that any stream output can be stitched; from a ``FrameResult``, one row per face::

    FaceRow(time=result.timestamp, track_id=face.track_id, box=face.box, payload=face)

``look``: the face's appearance descriptor (:func:`emoscope.appearance.face_looks`), where the caller
kept it; a ``Face`` does not carry it, and IoU alone joins the tracks without it.

A face lost for longer than the overlap comes back in a later segment as a new track. A sequential
tracker would give it its old ID by position (its box where the face was, looks alike, within
``max_missed`` detection frames) or by its look alone (``same_person``, within ``reid_frames``): so
does the stitcher, from what each segment's tracker remembers at its end
(:class:`~emoscope.tracking.Remembered`) and the look on each track's first row. It decides
approximately as a tracker does: the segment's tracker has already matched the face against what it
knew; scene cuts (which end following by position) are not seen here; a face is compared with its last box,
not one moved on by its velocity; and a face unlike its track's look of a moment ago starts a new ID at
once, where a tracker keeps it one detection in doubt. Segments that hand on nothing give such a face a new ID.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .appearance import similarity
from .segments import Segment
from .settings import StreamSettings
from .tracking import (Remembered, best_similarity, greedy_pairs, iou_matrix, keep_snapshots, look_memory,
                       memory_seconds)

MIN_SHARED_FRAMES = 3   # frames on which two tracks must agree to be one face
MIN_IOU = 0.5           # least box overlap on a frame for two tracks to agree there
_FIRST_ID = 1           # as a tracker numbers its tracks


@dataclass(frozen=True)
class FaceRow:
    """One face on one frame: ``time`` as the decoder gives it (``Frame.timestamp``, not rounded),
    ``box`` as x, y, w, h; ``payload`` is carried along untouched (the ``Face``, its probabilities)."""

    time: float
    track_id: int
    box: tuple[float, float, float, float]
    payload: Any = None
    look: np.ndarray | None = field(default=None, compare=False)


def match_tracks(earlier: Sequence[FaceRow], later: Sequence[FaceRow], min_shared_frames: int = MIN_SHARED_FRAMES,
                 min_iou: float = MIN_IOU, same_look: float = StreamSettings.same_look,
                 later_spans: dict[int, tuple[float, float]] | None = None) -> dict[int, int]:
    """Later track ID -> earlier track ID, for the tracks that follow the same face on the frames both saw:
    on ``min_shared_frames`` of them, or on all the frames of a track that has fewer here (a face seen at
    the end of the overlap only is still one face, and its frames after it must keep the ID). Pairs are
    taken strongest evidence first; then a later track left over may join an earlier track already taken
    where one of the two later tracks ends before the other begins (the later segment's tracker, knowing
    less of the face, split what the earlier one followed as one). ``later_spans``: each later track's first
    and last time in its whole segment (default: in ``later``).

    Looks are compared on a frame where every row of both sides has one (the stream step describes
    all faces of a frame it detects on, and none of the frames in between)."""
    earlier_frames, later_frames = _by_time(earlier), _by_time(later)
    earlier_ids = sorted({row.track_id for row in earlier})
    later_ids = sorted({row.track_id for row in later})
    row_of = {track_id: n for n, track_id in enumerate(earlier_ids)}
    column_of = {track_id: n for n, track_id in enumerate(later_ids)}
    agreeing = np.zeros((len(earlier_ids), len(later_ids)), np.int64)
    evidence = np.zeros((len(earlier_ids), len(later_ids)), np.float32)
    for time in earlier_frames.keys() & later_frames.keys():
        before, after = earlier_frames[time], later_frames[time]
        overlap = iou_matrix(_boxes(before), _boxes(after))
        if all(row.look is not None for row in (*before, *after)):
            alike = similarity([row.look for row in before], [row.look for row in after])
            overlap = np.where(alike >= same_look, overlap, 0.0)
        agree = overlap >= min_iou
        cells = np.ix_([row_of[row.track_id] for row in before], [column_of[row.track_id] for row in after])
        agreeing[cells] += agree
        evidence[cells] += np.where(agree, overlap, 0.0)
    earlier_frames, later_frames = _frames_per_track(earlier), _frames_per_track(later)   # IDs of two numberings
    needed = np.minimum.outer(np.array([earlier_frames[t] for t in earlier_ids], np.int64),
                              np.array([later_frames[t] for t in later_ids], np.int64))
    score = np.where(agreeing >= np.minimum(needed, min_shared_frames), evidence, 0.0)
    pairs = greedy_pairs(score, threshold=1e-6)
    spans = later_spans or {track_id: (first.time, last.time) for track_id, (first, last) in _ends(later).items()}
    joined = defaultdict(list, {r: [spans[later_ids[c]]] for r, c in pairs})
    for c in sorted(set(range(len(later_ids))) - {c for _, c in pairs}, key=lambda c: -score[:, c].max(initial=0)):
        start, end = spans[later_ids[c]]
        for r in np.argsort(-score[:, c]):
            if score[r, c] > 0 and all(end < other_start or other_end < start for other_start, other_end in joined[r]):
                pairs.append((int(r), c))
                joined[r].append((start, end))
                break
    return {later_ids[c]: earlier_ids[r] for r, c in pairs}


def own_rows(segment: Segment, rows: Iterable[FaceRow]) -> list[FaceRow]:
    """The rows of the segment's own frames (its warm-up frames left out), in time order."""
    return sorted((row for row in rows if segment.owns(row.time)), key=lambda row: row.time)


def remap(rows: Iterable[FaceRow], ids: dict[int, int]) -> list[FaceRow]:
    return [replace(row, track_id=ids[row.track_id]) for row in rows]


@dataclass
class _Lost:
    """A global track that a later segment's face may turn out to be: where it was last seen, and what its
    segments' trackers remember of its looks."""

    last: FaceRow
    remembered: Remembered


class Stitcher:
    """Global track IDs for segments given one after the other, in the plan's order.

    It keeps the stitched rows only as far back as the warm-up of the segment to come needs, and what the
    segments' trackers remember of each track, to decide as a tracker does on a face that comes back: by
    position (box overlap ``iou_threshold``, looks ``same_look`` and ``same_moment``) within ``follow_seconds``
    of its last sighting in an earlier segment (0, the default: never), by its look alone (``same_person``)
    within ``reid_seconds`` (:meth:`for_stream`)."""

    def __init__(self, min_shared_frames: int = MIN_SHARED_FRAMES, min_iou: float = MIN_IOU,
                 same_look: float = StreamSettings.same_look, same_moment: float = StreamSettings.same_moment,
                 same_person: float = StreamSettings.same_person, iou_threshold: float = StreamSettings.iou_threshold,
                 follow_seconds: float = 0.0, reid_seconds: float = math.inf):
        self._matching = {"min_shared_frames": min_shared_frames, "min_iou": min_iou, "same_look": same_look}
        self._same_look, self._same_moment, self._same_person = same_look, same_moment, same_person
        self._iou_threshold = iou_threshold
        self._follow_seconds, self._reid_seconds = follow_seconds, reid_seconds
        self._recent: list[FaceRow] = []
        self._lost: dict[int, _Lost] = {}   # by global ID
        self._next_id = _FIRST_ID
        self._next_segment = 0

    @classmethod
    def for_stream(cls, settings: StreamSettings, processed_fps: float) -> "Stitcher":
        """A stitcher that decides as the tracker of segments analysed with ``settings`` at ``processed_fps``."""
        return cls(same_look=settings.same_look, same_moment=settings.same_moment, same_person=settings.same_person,
                   iou_threshold=settings.iou_threshold,
                   follow_seconds=memory_seconds(settings.max_missed, settings, processed_fps),
                   reid_seconds=memory_seconds(look_memory(settings), settings, processed_fps))

    def add(self, segment: Segment, rows: Sequence[FaceRow], remembered: Iterable[Remembered] = ()) -> dict[int, int]:
        """Global ID of each local track of ``segment`` that has frames of its own or continues an
        earlier track; ``rows``: the segment's results, warm-up frames included; ``remembered``: what its
        tracker remembers at its end (local IDs)."""
        if segment.index != self._next_segment:
            raise ValueError(f"segments are stitched in order: segment {self._next_segment} comes next, "
                             f"not {segment.index}")
        self._next_segment += 1
        self._lost = {global_id: lost for global_id, lost in self._lost.items()
                      if lost.last.time + self._reid_seconds >= segment.warmup_start}
        overlap = [row for row in self._recent if segment.warms_up_on(row.time)]
        ends = _ends(rows)
        ids = match_tracks(overlap, [row for row in rows if segment.warms_up_on(row.time)], **self._matching,
                           later_spans={track_id: (first.time, last.time) for track_id, (first, last) in ends.items()})
        own = own_rows(segment, rows)
        last = {track_id: last for track_id, (_, last) in ends.items()}
        newcomers = sorted((ends[track_id][0] for track_id in {row.track_id for row in own} - ids.keys()),
                           key=lambda row: row.time)
        ids.update(self._recognised(newcomers, ids, last))
        for row in own:
            if row.track_id not in ids:
                ids[row.track_id] = self._next_id
                self._next_id += 1
        self._remember(ids, last, remembered)
        self._recent = [row for row in self._recent if row.time >= segment.warmup_start] + remap(own, ids)
        return ids

    def _recognised(self, newcomers: list[FaceRow], ids: dict[int, int], last: dict[int, FaceRow]) -> dict[int, int]:
        """Local ID -> global ID of the ``newcomers`` (each new track's first row, in time order) that a
        tracker would give a lost track's ID: all new faces of a frame at once, first by position (best
        overlap times likeness), then by look (most alike first). A global track is lost from the last time
        this segment or an earlier one saw it (``last``: each local track's last row; ``ids``: those joined
        so far); the earlier segments' looks of it are what it is recognised by."""
        sighting = {global_id: lost.last for global_id, lost in self._lost.items()}
        seen_here = set(ids.values())   # followed by this segment's own tracker, which knew its place
        for local_id, global_id in ids.items():
            if global_id not in sighting or last[local_id].time > sighting[global_id].time:
                sighting[global_id] = last[local_id]
        references = {global_id: lost.remembered.references() for global_id, lost in self._lost.items()}
        recognised = {}
        for time, faces in _by_time(row for row in newcomers if row.look is not None).items():
            candidates = [global_id for global_id in references
                          if sighting[global_id].time < time <= sighting[global_id].time + self._reid_seconds]
            looks = np.array([row.look for row in faces])
            alike = best_similarity([references[global_id] for global_id in candidates], looks)
            near = iou_matrix(_boxes([sighting[global_id] for global_id in candidates]), _boxes(faces))
            following = np.array([global_id not in seen_here and time <= sighting[global_id].time + self._follow_seconds
                                  for global_id in candidates], bool)[:, None]
            # the tracker's in-doubt rule, for a whole track at once: unlike its look of a moment ago, someone else
            like_now = similarity(np.array([self._lost[global_id].remembered.look for global_id in candidates]),
                                  looks) >= self._same_moment
            by_position = np.where(following & (near >= self._iou_threshold) & (alike >= self._same_look) & like_now,
                                   near * alike, 0.0)
            pairs = greedy_pairs(by_position, 1e-6)
            taken_candidates, taken_faces = {c for c, _ in pairs}, {f for _, f in pairs}
            by_look = alike.copy()
            by_look[list(taken_candidates)] = 0.0
            by_look[:, list(taken_faces)] = 0.0
            for candidate, face in pairs + greedy_pairs(by_look, self._same_person):
                global_id, local_id = candidates[candidate], faces[face].track_id
                recognised[local_id] = global_id
                sighting[global_id] = last[local_id]
                seen_here.add(global_id)
        return recognised

    def _remember(self, ids: dict[int, int], last: dict[int, FaceRow], remembered: Iterable[Remembered]) -> None:
        """Keep what the segment's tracker remembers of each global track it saw (of the local track seen last,
        where several are one), merged with the earlier segments': their snapshots first (a tracker picked up
        mid-stream takes a later first look of a slot), and their recent look where this segment saw the face
        no later. Forget what its tracker forgot."""
        latest: dict[int, int] = {}
        for local_id, global_id in ids.items():
            if global_id not in latest or last[local_id].time > last[latest[global_id]].time:
                latest[global_id] = local_id
        kept = {track.track_id: track for track in remembered}
        for global_id, local_id in latest.items():
            earlier = self._lost.pop(global_id, None)
            if local_id not in kept:
                continue
            now, seen = kept[local_id], last[local_id]
            if earlier is None:
                self._lost[global_id] = _Lost(seen, Remembered(global_id, now.look, now.snapshots))
                continue
            later = seen.time > earlier.last.time
            self._lost[global_id] = _Lost(
                seen if later else earlier.last,
                Remembered(global_id, now.look if later else earlier.remembered.look,
                           keep_snapshots({**now.snapshots, **earlier.remembered.snapshots})))


def merge(segments: Sequence[Segment], rows_per_segment: Iterable[Sequence[FaceRow]]) -> Iterator[FaceRow]:
    """Every segment's own rows in time order, with global track IDs: what one sequential run gives.
    ``rows_per_segment`` in the order of ``segments``, each with its warm-up rows."""
    stitcher = Stitcher()
    for segment, rows in zip(segments, rows_per_segment, strict=True):
        ids = stitcher.add(segment, rows)
        yield from remap(own_rows(segment, rows), ids)


def _ends(rows: Iterable[FaceRow]) -> dict[int, tuple[FaceRow, FaceRow]]:
    """Each track's first and last row in ``rows``."""
    ends: dict[int, tuple[FaceRow, FaceRow]] = {}
    for row in rows:
        first, last = ends.get(row.track_id, (row, row))
        ends[row.track_id] = (row if row.time < first.time else first, row if row.time > last.time else last)
    return ends


def _frames_per_track(rows: Iterable[FaceRow]) -> Counter:
    """How many frames each track has in ``rows``."""
    return Counter(track_id for track_id, _ in {(row.track_id, row.time) for row in rows})


def _by_time(rows: Iterable[FaceRow]) -> dict[float, list[FaceRow]]:
    frames = defaultdict(list)
    for row in rows:
        frames[row.time].append(row)
    return frames


def _boxes(rows: Sequence[FaceRow]) -> np.ndarray:
    return np.array([row.box for row in rows], np.float32).reshape(-1, 4)
