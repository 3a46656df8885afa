"""The stitcher on hand-made tracks: people with known paths, each segment's tracker numbering them
its own way, and the merged rows compared with what one sequential run gives."""
import math
from dataclasses import dataclass

import numpy as np
import pytest

from emoscope.appearance import face_looks, similarity
from emoscope.segments import Segment, plan_segments
from emoscope.settings import StreamSettings
from emoscope.stitching import FaceRow, Stitcher, match_tracks, merge

TIMES = [i / 10 for i in range(60)]   # 6 s at 10 frames a second
TWO_SEGMENTS = [Segment(0, 0.0, 2.0, 0.0, 0.0), Segment(1, 2.0, math.inf, 1.0, 1.0)]


@dataclass
class Person:
    name: str
    appears: float = 0.0
    leaves: float = math.inf
    x: float = 10.0
    speed: float = 0.0      # pixels a second, to the right
    y: float = 20.0
    look: np.ndarray | None = None

    def on(self, time):
        return self.appears <= time < self.leaves

    def box(self, time):
        return (self.x + self.speed * time, self.y, 40.0, 40.0)


def segment_rows(people, segment, local_ids):
    """What the segment's worker reports, warm-up frames included; ``local_ids``: its tracker's ID of each person."""
    times = [t for t in TIMES if segment.warms_up_on(t) or segment.owns(t)]
    return [FaceRow(t, local_ids[p.name], p.box(t), payload=p.name, look=p.look)
            for t in times for p in sorted(people, key=lambda p: local_ids.get(p.name, 0)) if p.on(t)]


def sequential(people):
    """(time, ID, name) of a sequential run: one track per person, numbered in order of appearance."""
    ids = {p.name: n for n, p in enumerate(sorted(people, key=lambda p: p.appears), start=1)}
    return sorted((t, ids[p.name], p.name) for t in TIMES for p in people if p.on(t))


def stitched(people, segments, local_ids):
    """(time, ID, name) of the merged segments, in time order (within a frame, by ID)."""
    rows = list(merge(segments, [segment_rows(people, s, ids) for s, ids in zip(segments, local_ids)]))
    assert [row.time for row in rows] == sorted(row.time for row in rows)
    return sorted((row.time, row.track_id, row.payload) for row in rows)


def test_one_person_across_the_boundary_keeps_one_id():
    people = [Person("A", speed=20)]
    assert stitched(people, TWO_SEGMENTS, [{"A": 1}, {"A": 1}]) == sequential(people)


def test_two_people_crossing_each_other_in_the_overlap_with_swapped_ids():
    # A and B pass each other at 1.5 s, in the middle of the warm-up: on a few frames A's box is B's too
    people = [Person("A", x=10, speed=40), Person("B", x=130, speed=-40)]
    assert stitched(people, TWO_SEGMENTS, [{"A": 1, "B": 2}, {"A": 2, "B": 1}]) == sequential(people)


@pytest.mark.parametrize("leaves", [1.15, 1.55])   # seen on too few warm-up frames to match; on enough
def test_person_leaving_during_the_overlap_takes_no_id(leaves):
    people = [Person("A", speed=20), Person("C", x=200, y=100, leaves=leaves), Person("D", x=200, y=100, appears=2.5)]
    local_ids = [{"A": 1, "C": 2}, {"C": 1, "A": 2, "D": 3}]
    result = stitched(people, TWO_SEGMENTS, local_ids)
    assert result == sequential(people)
    assert {track_id for _, track_id, _ in result} == {1, 2, 3}


def test_new_person_after_the_boundary_gets_an_id_above_every_earlier_one():
    segments = plan_segments([t for t in TIMES if t % 0.5 == 0], 6.0, segment_seconds=2.0, overlap_seconds=1.0)
    assert len(segments) == 3
    people = [Person("A", speed=10), Person("B", x=120, leaves=3.0), Person("E", x=200, appears=2.5),
              Person("F", x=120, y=100, appears=4.4)]
    local_ids = [{"A": 1, "B": 2}, {"B": 1, "A": 2, "E": 3}, {"E": 1, "A": 2, "F": 3}]
    assert stitched(people, segments, local_ids) == sequential(people)


def test_looks_tell_apart_two_faces_on_the_same_box():
    ramp = np.tile(np.linspace(0, 255, 60).astype(np.uint8), (60, 1))
    across = np.dstack([ramp, 255 - ramp, np.full_like(ramp, 60)])        # colours changing left to right
    down = np.dstack([np.full_like(ramp, 200), ramp.T, 255 - ramp.T])      # other colours, top to bottom
    looks = face_looks(np.hstack([across, down]), np.array([[0, 0, 60, 60], [60, 0, 60, 60]]))
    assert similarity(looks[:1], looks[1:])[0, 0] < StreamSettings.same_look
    people = [Person("A", look=looks[0]), Person("B", look=looks[1])]   # one box on the other, all along
    assert stitched(people, TWO_SEGMENTS, [{"A": 1, "B": 2}, {"A": 2, "B": 1}]) == sequential(people)


def test_tracks_sharing_too_few_frames_do_not_match():
    earlier = [FaceRow(t, 7, (0, 0, 40, 40)) for t in TIMES[:2]]
    later = [FaceRow(t, 1, (0, 0, 40, 40)) for t in TIMES[:5]]
    assert match_tracks(earlier, later) == {}
    assert match_tracks(earlier, later, min_shared_frames=2) == {1: 7}


def test_segments_must_come_in_order():
    with pytest.raises(ValueError, match="segment 0 comes next"):
        Stitcher().add(TWO_SEGMENTS[1], [])
