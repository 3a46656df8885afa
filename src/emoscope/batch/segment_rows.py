"""What a worker sends back for one segment of a long video: every processed frame's faces as plain
arrays (time, frame index, track ID, box, score, probabilities), never the frames themselves; the
looks of the faces on the frames where stitching compares the segment with its neighbours and on each
track's first frame, what its tracker remembers at its end (to recognise a face that comes back in a
later segment), and each person's largest face as a thumbnail for the class view. Stored as one
``.npz`` per segment in the job's folder, and turned back into the ``FrameResult`` objects that a
sequential run gives its sinks.

Every number is kept as the float32 it was computed in (times as float64), so the results equal a
sequential run's to the last bit, as far as the stream's state agrees (:mod:`emoscope.segments`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Iterator

import numpy as np

from ..appearance import face_looks
from ..class_report import thumbnail, thumbnail_area
from ..segments import Segment
from ..stitching import FaceRow
from ..tracking import Remembered
from ..types import Detections, FrameResult, faces_from_arrays


_RECENT_LOOK = -1   # the slot under which a remembered track's recent look is stored, beside its snapshots' slots


@dataclass
class SegmentRows:
    FORMAT: ClassVar[int] = 2   # one more whenever the fields change: rows stored by an earlier version are redone

    labels: np.ndarray             # (K,) str
    frame_index: np.ndarray        # (F,) the frame's index in the file
    frame_time: np.ndarray         # (F,) float64 seconds, as decoded
    frame_size: np.ndarray         # (F, 2) width, height
    face_frame: np.ndarray         # (N,) the row in the frame arrays of each face, ascending
    track_id: np.ndarray           # (N,) the segment's own track IDs
    box: np.ndarray                # (N, 4) x, y, w, h
    score: np.ndarray              # (N,)
    probabilities: np.ndarray      # (N, K) smoothed
    raw_probabilities: np.ndarray  # (N, K) the frame's own
    landmarks: np.ndarray          # (N, 5, 2), NaN where the detector gives none
    look_face: np.ndarray          # (M,) the faces with a look (emoscope.appearance) ...
    looks: np.ndarray              # (M, D) ... and their looks
    thumbnail_face: np.ndarray     # (T,) each person's largest face on the segment's own frames ...
    thumbnails: np.ndarray         # (T, px, px, 3) ... as a thumbnail
    remembered_track: np.ndarray   # (R,) what the tracker remembers at the end: the track ...
    remembered_slot: np.ndarray    # (R,) ... the slot of a snapshot (_RECENT_LOOK: the recent look) ...
    remembered_looks: np.ndarray   # (R, D) ... and the look

    @classmethod
    def collect(cls, results: Iterable[FrameResult], segment: Segment, look_from: float, labels,
                remembered: Callable[[], Iterable[Remembered]] | None = None) -> "SegmentRows":
        """The rows of a segment's results (warm-up frames included). Looks are taken on the warm-up
        frames, on the own frames from ``look_from`` on (the next segment's warm-up) and on each track's
        first face. ``remembered``: called once the results are read, what the tracker remembers then."""
        frames, faces, looks, best, tracks = [], [], [], {}, set()
        for result in results:
            time = result.timestamp
            frames.append((result.index, time, result.width, result.height))
            if not result.faces:
                continue
            everyone = segment.warms_up_on(time) or time >= look_from
            described = [n for n, face in enumerate(result.faces) if everyone or face.track_id not in tracks]
            if described:
                boxes = np.array([result.faces[n].box for n in described], np.float32)
                looks += zip((len(faces) + n for n in described), face_looks(result.image, boxes))
            tracks.update(face.track_id for face in result.faces)
            for face in result.faces:
                area = thumbnail_area(face.box)
                if segment.owns(time) and area > best.get(face.track_id, (0.0,))[0]:
                    crop = thumbnail(result.image, face.box)
                    if crop is not None:
                        best[face.track_id] = (area, len(faces), crop)
                faces.append((len(frames) - 1, face))
        thumbs = sorted((position, crop) for _, position, crop in best.values())
        return cls(
            labels=np.array(labels, str),
            frame_index=np.array([f[0] for f in frames], np.int64),
            frame_time=np.array([f[1] for f in frames], np.float64),
            frame_size=np.array([f[2:] for f in frames], np.int64).reshape(-1, 2),
            face_frame=np.array([f for f, _ in faces], np.int64),
            track_id=np.array([face.track_id for _, face in faces], np.int64),
            box=np.array([face.box for _, face in faces], np.float32).reshape(-1, 4),
            score=np.array([face.score for _, face in faces], np.float32),
            probabilities=_by_label([face.probabilities for _, face in faces], labels),
            raw_probabilities=_by_label([face.raw_probabilities for _, face in faces], labels),
            landmarks=np.array([face.landmarks or np.full((5, 2), np.nan) for _, face in faces],
                               np.float32).reshape(-1, 5, 2),
            look_face=np.array([n for n, _ in looks], np.int64),
            looks=np.array([look for _, look in looks], np.float32) if looks else np.zeros((0, 0), np.float32),
            thumbnail_face=np.array([n for n, _ in thumbs], np.int64),
            thumbnails=np.array([crop for _, crop in thumbs], np.uint8),
            **_remembered_arrays(remembered() if remembered is not None else []))

    def save(self, path: Path) -> None:
        """Written whole or not at all: a kill leaves no half file."""
        partial = path.with_name(path.name + ".tmp")
        with open(partial, "wb") as handle:
            np.savez_compressed(handle, **{f.name: getattr(self, f.name) for f in fields(self)})
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> "SegmentRows":
        with np.load(path, allow_pickle=False) as data:
            return cls(**{f.name: data[f.name] for f in fields(cls)})

    def face_rows(self) -> list[FaceRow]:
        """Every face as a row for :class:`~emoscope.stitching.Stitcher`, with its look where taken."""
        looks = dict(zip(self.look_face.tolist(), self.looks))
        times = self.frame_time[self.face_frame].tolist()
        return [FaceRow(times[n], int(self.track_id[n]), tuple(self.box[n].tolist()), look=looks.get(n))
                for n in range(len(self.track_id))]

    def remembered(self) -> list[Remembered]:
        """What the segment's tracker remembered at its end, by its own track IDs."""
        kept: dict[int, dict[int, np.ndarray]] = {}
        for track, slot, look in zip(self.remembered_track.tolist(), self.remembered_slot.tolist(),
                                     self.remembered_looks):
            kept.setdefault(track, {})[slot] = look
        return [Remembered(track, looks.pop(_RECENT_LOOK), looks) for track, looks in kept.items()]

    def results(self, segment: Segment, ids: dict[int, int]) -> Iterator[FrameResult]:
        """The segment's own frames as a sequential run gives them, with track IDs mapped by ``ids``
        (global ID of each local one, from the stitcher), faces built as the stream step builds them."""
        labels = tuple(self.labels.tolist())
        global_ids = np.array([ids.get(t, 0) for t in self.track_id.tolist()], np.int64)
        bounds = np.searchsorted(self.face_frame, np.arange(len(self.frame_time) + 1))
        thumbs = dict(zip(self.thumbnail_face.tolist(), self.thumbnails))
        for f, time in enumerate(self.frame_time.tolist()):
            if not segment.owns(time):
                continue
            rows = slice(bounds[f], bounds[f + 1])
            landmarks = self.landmarks[rows]
            detections = Detections(self.box[rows], self.score[rows], None if np.isnan(landmarks).any() else landmarks)
            faces = faces_from_arrays(detections, self.probabilities[rows], labels, global_ids[rows],
                                      self.raw_probabilities[rows])
            for n, face in enumerate(faces, start=bounds[f]):
                face.thumbnail = thumbs.get(n)
            width, height = self.frame_size[f].tolist()
            yield FrameResult(None, width, height, faces, index=int(self.frame_index[f]), timestamp=time)


def _by_label(probabilities: list[dict[str, float]], labels) -> np.ndarray:
    return np.array([[p[k] for k in labels] for p in probabilities], np.float32).reshape(-1, len(labels))


def _remembered_arrays(remembered: list[Remembered]) -> dict[str, np.ndarray]:
    entries = [(track.track_id, slot, look) for track in remembered
               for slot, look in ((_RECENT_LOOK, track.look), *track.snapshots.items())]
    return {"remembered_track": np.array([e[0] for e in entries], np.int64),
            "remembered_slot": np.array([e[1] for e in entries], np.int64),
            "remembered_looks": np.array([e[2] for e in entries], np.float32) if entries
            else np.zeros((0, 0), np.float32)}
