"""Track IDs joined across segments analysed apart (:mod:`emoscope.segments`), so that the whole
video reads as one run.

Each segment's tracker numbers its faces from 1. Its warm-up frames are frames that an earlier
segment owns: a track of the later segment that follows the same face there as an earlier track
(boxes with IoU >= ``min_iou`` on at least ``min_shared_frames`` frames both saw, and alike looks where
the rows carry them) takes that track's global ID, pairs chosen strongest evidence first. Every
other track with frames of its own gets a new ID above all IDs given so far, in the order the faces
first appear, as a sequential tracker numbers them. A track seen only in warm-up frames and
matched to none gets no ID: its frames are the earlier segment's.

The rows are plain, so that any stream output can be stitched; from a ``FrameResult``, one row per face::

    FaceRow(time=result.timestamp, track_id=face.track_id, box=face.box, payload=face)

``look``: the face's appearance descriptor (:func:`emoscope.appearance.face_looks`), where the caller
kept it; a ``Face`` does not carry it, and IoU alone joins the tracks without it.

Limit: a face lost for longer than the overlap and then recognised by its look keeps its ID in a
sequential run (``StreamSettings.reid_frames``) but gets a new one here.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .appearance import similarity
from .segments import Segment
from .settings import StreamSettings
from .tracking import greedy_pairs, iou_matrix

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
                 min_iou: float = MIN_IOU, same_look: float = StreamSettings.same_look) -> dict[int, int]:
    """Later track ID -> earlier track ID, for the tracks that follow the same face on the frames both saw.

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
    score = np.where(agreeing >= min_shared_frames, evidence, 0.0)
    return {later_ids[c]: earlier_ids[r] for r, c in greedy_pairs(score, threshold=1e-6)}


def own_rows(segment: Segment, rows: Iterable[FaceRow]) -> list[FaceRow]:
    """The rows of the segment's own frames (its warm-up frames left out), in time order."""
    return sorted((row for row in rows if segment.owns(row.time)), key=lambda row: row.time)


def remap(rows: Iterable[FaceRow], ids: dict[int, int]) -> list[FaceRow]:
    return [replace(row, track_id=ids[row.track_id]) for row in rows]


class Stitcher:
    """Global track IDs for segments given one after the other, in the plan's order.

    It keeps the stitched rows only as far back as the warm-up of the segment to come needs."""

    def __init__(self, min_shared_frames: int = MIN_SHARED_FRAMES, min_iou: float = MIN_IOU,
                 same_look: float = StreamSettings.same_look):
        self._matching = {"min_shared_frames": min_shared_frames, "min_iou": min_iou, "same_look": same_look}
        self._recent: list[FaceRow] = []
        self._next_id = _FIRST_ID
        self._next_segment = 0

    def add(self, segment: Segment, rows: Sequence[FaceRow]) -> dict[int, int]:
        """Global ID of each local track of ``segment`` that has frames of its own or continues an
        earlier track; ``rows``: the segment's results, warm-up frames included."""
        if segment.index != self._next_segment:
            raise ValueError(f"segments are stitched in order: segment {self._next_segment} comes next, "
                             f"not {segment.index}")
        self._next_segment += 1
        overlap = [row for row in self._recent if segment.warms_up_on(row.time)]
        ids = match_tracks(overlap, [row for row in rows if segment.warms_up_on(row.time)], **self._matching)
        own = own_rows(segment, rows)
        for row in own:
            if row.track_id not in ids:
                ids[row.track_id] = self._next_id
                self._next_id += 1
        self._recent = [row for row in self._recent if row.time >= segment.warmup_start] + remap(own, ids)
        return ids


def merge(segments: Sequence[Segment], rows_per_segment: Iterable[Sequence[FaceRow]]) -> Iterator[FaceRow]:
    """Every segment's own rows in time order, with global track IDs: what one sequential run gives.
    ``rows_per_segment`` in the order of ``segments``, each with its warm-up rows."""
    stitcher = Stitcher()
    for segment, rows in zip(segments, rows_per_segment, strict=True):
        ids = stitcher.add(segment, rows)
        yield from remap(own_rows(segment, rows), ids)


def _by_time(rows: Iterable[FaceRow]) -> dict[float, list[FaceRow]]:
    frames = defaultdict(list)
    for row in rows:
        frames[row.time].append(row)
    return frames


def _boxes(rows: Sequence[FaceRow]) -> np.ndarray:
    return np.array([row.box for row in rows], np.float32).reshape(-1, 4)
