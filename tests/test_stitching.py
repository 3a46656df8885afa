"""The stitcher on hand-made tracks: people with known paths, each segment's tracker numbering them
its own way, and the merged rows compared with what one sequential run gives."""
import math
from dataclasses import dataclass, replace

import numpy as np
import pytest

from emoscope.appearance import face_looks, similarity
from emoscope.segments import Segment, plan_segments
from emoscope.settings import StreamSettings
from emoscope.stitching import FaceRow, Stitcher, match_tracks, merge, own_rows, remap
from emoscope.tracking import Remembered, Tracker, keep_snapshots, look_memory, memory_seconds

from conftest import patch_look

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
    earlier = [FaceRow(t, 7, (0, 0, 40, 40)) for t in TIMES[:5]]
    later = [FaceRow(t, 1, (0, 0, 40, 40)) for t in TIMES[3:8]]     # 2 frames of the 5 each has
    assert match_tracks(earlier, later) == {}
    assert match_tracks(earlier, later, min_shared_frames=2) == {1: 7}


def test_a_track_with_fewer_frames_than_needed_matches_on_all_of_its_frames():
    """A face the earlier segment saw only on the last two frames of the overlap (it flickers) is the later
    segment's track there: without the match its frames after the boundary would take a new ID."""
    earlier = [FaceRow(t, 7, (0, 0, 40, 40)) for t in TIMES[3:5]]
    later = [FaceRow(t, 1, (0, 0, 40, 40)) for t in TIMES[:5]]
    assert match_tracks(earlier, later) == {1: 7}
    moved = [FaceRow(TIMES[3], 7, (0, 0, 40, 40)), FaceRow(TIMES[4], 7, (100, 0, 40, 40))]
    assert match_tracks(moved, later) == {}


def test_frames_needed_are_counted_per_side_even_where_ids_coincide():
    """The earlier side's IDs are global and the later side's local: the same number on both sides is two
    tracks, and a glimpse under the later ID 7 must not lower what the earlier track 7 needs."""
    earlier = [FaceRow(t, 7, (0, 0, 40, 40)) for t in TIMES[:5]]
    passing = [FaceRow(TIMES[0], 2, (0, 0, 40, 40))] + [FaceRow(t, 2, (200, 0, 40, 40)) for t in TIMES[1:5]]
    glimpse = [FaceRow(TIMES[0], 7, (300, 300, 40, 40))]
    assert match_tracks(earlier, passing + glimpse) == {}


def test_segments_must_come_in_order():
    with pytest.raises(ValueError, match="segment 0 comes next"):
        Stitcher().add(TWO_SEGMENTS[1], [])


THREE_SEGMENTS = [Segment(0, 0.0, 2.0, 0.0, 0.0), Segment(1, 2.0, 4.0, 1.5, 1.5), Segment(2, 4.0, math.inf, 3.5, 3.5)]


def remembered(people, local_ids, segment):
    """What a segment's tracker remembers at its end: each person it saw, by their look (snapshots by slot)."""
    seen = [p for p in people if any(p.on(t) for t in TIMES if segment.warms_up_on(t) or segment.owns(t))]
    return [Remembered(local_ids[p.name], p.look, {int(p.appears * 10): p.look}) for p in seen]


def stitched_with_memory(people, local_ids, stitcher, memory=True):
    """(time, ID, name) of the three segments stitched with what their trackers remember (or nothing)."""
    rows = []
    for segment, ids in zip(THREE_SEGMENTS, local_ids):
        own = segment_rows(people, segment, ids)
        handed_on = remembered(people, ids, segment) if memory else ()
        rows += remap(own_rows(segment, own), stitcher.add(segment, own, handed_on))
    return sorted((row.time, row.track_id, row.payload) for row in rows)


def ids_of(result, names):
    return {name: {i for _, i, n in result if n == name} for name in names}


def test_a_face_back_after_longer_than_the_overlap_gets_its_id_by_its_look():
    """A leaves in the first segment and comes back in the third, where a sequential tracker recognises it
    by its look; B, who looks like no one seen before, appears at the same time and gets a new ID."""
    a, b = patch_look(1), patch_look(2)
    assert similarity(a[None], b[None])[0, 0] < StreamSettings.same_person
    people = [Person("A", leaves=1.0, look=a), Person("A", x=200, appears=4.5, look=a),
              Person("B", x=120, appears=4.5, look=b)]
    local_ids = [{"A": 1}, {}, {"B": 1, "A": 2}]
    assert ids_of(stitched_with_memory(people, local_ids, Stitcher()), "AB") == {"A": {1}, "B": {2}}
    # without what the trackers remember, or once a tracker would have forgotten A, A is someone new
    assert ids_of(stitched_with_memory(people, local_ids, Stitcher(), memory=False), "AB") == {"A": {1, 3}, "B": {2}}
    assert ids_of(stitched_with_memory(people, local_ids, Stitcher(reid_seconds=3.0)), "AB") == {"A": {1, 3}, "B": {2}}


def test_a_lost_face_is_given_to_one_newcomer_only():
    """Two newcomers of the same look on one frame: the one more alike takes the lost track's ID."""
    a = patch_look(1)
    close = a.copy()
    close[:256] += np.random.default_rng(0).normal(0, 0.01, 256).astype(np.float32)
    people = [Person("A", leaves=1.0, look=a), Person("A", x=200, appears=4.5, look=a),
              Person("A2", x=120, appears=4.5, look=close)]
    result = stitched_with_memory(people, [{"A": 1}, {}, {"A2": 1, "A": 2}], Stitcher())
    assert ids_of(result, ("A", "A2")) == {"A": {1}, "A2": {2}}


def test_snapshots_of_the_earlier_segment_win_for_a_shared_slot():
    """A segment picks a track up mid-slot and so takes a later first look there than a run from the start:
    the earlier segment's snapshot of that slot is the one kept. A newcomer like only that snapshot (and
    unlike the later segment's own) is recognised."""
    first, later, other = patch_look(1), patch_look(2), patch_look(3)
    stitcher = Stitcher()
    segment_0, segment_1, segment_2 = THREE_SEGMENTS
    stitcher.add(segment_0, [FaceRow(t, 1, (0, 0, 40, 40), look=first) for t in TIMES if segment_0.owns(t)],
                 [Remembered(1, other, {0: other, 1: other, 2: first})])
    stitcher.add(segment_1, [FaceRow(t, 5, (0, 0, 40, 40), look=first) for t in TIMES if t < 2.5 and t >= 1.5],
                 [Remembered(5, later, {2: later, 3: later})])
    newcomer = [FaceRow(t, 1, (300, 0, 40, 40), look=first) for t in TIMES if t >= 4.0]
    assert stitcher.add(segment_2, newcomer) == {1: 1}


def test_a_tracker_keeps_its_latest_snapshots():
    assert list(keep_snapshots({slot: patch_look(slot) for slot in (9, 3, 12, 0, 5, 7, 1, 2, 4, 8)})) == \
        [2, 3, 4, 5, 7, 8, 9, 12]


def test_a_face_back_after_a_failed_segment_is_recognised():
    """The middle segment failed (no rows): A, seen in the first and back in the third, keeps its ID."""
    a = patch_look(1)
    people = [Person("A", leaves=1.0, look=a), Person("A", x=200, appears=4.5, look=a)]
    stitcher, rows = Stitcher(), []
    for segment, ids, failed in zip(THREE_SEGMENTS, [{"A": 1}, {}, {"A": 4}], [False, True, False]):
        given = [] if failed else segment_rows(people, segment, ids)
        rows += remap(own_rows(segment, given), stitcher.add(segment, given, remembered(people, ids, segment)))
    assert {row.track_id for row in rows} == {1}


def test_a_face_that_leaves_in_the_warm_up_and_comes_back_later_is_recognised():
    """A leaves at 1.8 s, inside the second segment's warm-up (its track there joins A's), and is back at 3.5 s
    as a new track of that segment: it gets A's ID, not a new one, though A was continued into the segment."""
    a = patch_look(1)
    people = [Person("A", leaves=1.8, look=a), Person("A", x=200, appears=3.5, look=a)]
    local_ids = [{"A": 1}, {"A": 1}]
    stitcher, rows = Stitcher(), []
    for segment, ids in zip(TWO_SEGMENTS, local_ids):
        given = segment_rows(people, segment, ids)
        if segment.index == 1:   # the segment's tracker did not know A again: another local ID after it left
            given = [replace(row, track_id=2) if row.time >= 3.5 else row for row in given]
        rows += remap(own_rows(segment, given), stitcher.add(segment, given, remembered(people, ids, segment)))
    assert {row.track_id for row in rows} == {1}


@pytest.mark.parametrize("away", [10, 11, 12])    # detection frames between two sightings
def test_the_stitcher_s_window_is_the_tracker_s_memory(away):
    """A tracker with reid_frames 10 still knows a face again 11 detection frames after it last saw it, not 12;
    memory_seconds says the same in seconds."""
    settings = StreamSettings(reid_frames=10, max_missed=5)
    tracker, box, look = Tracker(settings), np.array([[0, 0, 40, 40]], np.float32), patch_look(1)[None]
    first = tracker.update(box, look)
    for _ in range(away - 1):
        tracker.update(np.zeros((0, 4), np.float32), np.zeros((0, look.shape[1]), np.float32))
    recognised = tracker.update(box + 100, look)[0] == first[0]
    fps = 30.0
    gap = away * settings.detect_every / fps
    assert recognised == (away <= 11) == (gap <= memory_seconds(look_memory(settings), settings, fps))


def test_a_face_the_later_segment_split_in_two_joins_the_earlier_track_twice():
    """The later segment's tracker, knowing less of a face, lost it for a moment in the overlap and made two
    tracks of it; both are the earlier track. Two later tracks on one frame cannot both be one face."""
    earlier = [FaceRow(t, 7, (0, 0, 40, 40)) for t in TIMES[:10]]
    split = [FaceRow(t, 1, (0, 0, 40, 40)) for t in TIMES[:5]] + [FaceRow(t, 2, (0, 0, 40, 40)) for t in TIMES[6:10]]
    assert match_tracks(earlier, split) == {1: 7, 2: 7}
    together = [FaceRow(t, 1, (0, 0, 40, 40)) for t in TIMES[:6]] + [FaceRow(t, 2, (2, 0, 40, 40)) for t in TIMES[5:10]]
    assert len(match_tracks(earlier, together)) == 1


def _look_alike(look, low, high):
    """A look whose similarity to ``look`` is in [low, high): the same face seen a little differently."""
    for scale in np.linspace(0.005, 0.2, 200):
        other = look.copy()
        other[:256] += np.random.default_rng(0).normal(0, scale, 256).astype(np.float32)
        if low <= similarity(look[None], other[None])[0, 0] < high:
            return other
    raise AssertionError("no such look")


@pytest.mark.parametrize("x, look, same", [(10, "close", True), (200, "close", False), (10, "another", False),
                                           (10, "other", False)])
def test_a_face_back_soon_in_its_place_is_followed_on_a_looser_look(x, look, same):
    """A leaves at 1.0 s, before the next segment's warm-up, and a face is back at 2.2 s. A tracker still
    following A (within max_missed) takes it by position where it overlaps A's last box and looks like A
    (same_look, and like A a moment ago: same_moment), though not enough to recognise A anywhere
    (same_person). Elsewhere, or someone else in A's place (unlike A a moment ago), it is someone new."""
    a = patch_look(1)
    faces = {"close": _look_alike(a, StreamSettings.same_moment, StreamSettings.same_person),
             "another": _look_alike(a, StreamSettings.same_look, StreamSettings.same_moment), "other": patch_look(2)}
    people = [Person("A", leaves=1.0, look=a), Person("back", x=x, appears=2.2, look=faces[look])]
    stitcher = Stitcher(follow_seconds=1.5)
    result = stitched_with_memory(people, [{"A": 1}, {"back": 1}, {"back": 1}], stitcher)
    assert ids_of(result, ("A", "back")) == ({"A": {1}, "back": {1}} if same else {"A": {1}, "back": {2}})
    later = stitched_with_memory(people, [{"A": 1}, {"back": 1}, {"back": 1}], Stitcher(follow_seconds=1.0))
    assert ids_of(later, ("A", "back")) == {"A": {1}, "back": {2}}      # 1.2 s: no longer followed


def test_two_later_tracks_both_on_screen_after_the_overlap_never_share_an_id():
    """Later tracks 1 and 2 take turns in the overlap but are both on screen after it: they are two faces, so
    only one of them may continue the earlier track."""
    earlier = [FaceRow(t, 7, (0, 0, 40, 40)) for t in TIMES[:20]]
    later = [FaceRow(t, 1, (0, 0, 40, 40)) for t in TIMES[10:15]] + [FaceRow(t, 2, (0, 0, 40, 40)) for t in TIMES[16:20]]
    assert match_tracks(earlier, later) == {1: 7, 2: 7}     # judged on the overlap alone
    assert len(match_tracks(earlier, later, later_spans={1: (1.0, 5.9), 2: (1.6, 5.9)})) == 1


def test_a_face_this_segment_followed_is_not_followed_again_by_the_stitcher():
    """A is on screen until 2.9 s, in the second segment's own frames; at 3.0 s a face in A's place that looks
    like A a moment ago, though not enough to be recognised anywhere, is a new track of that segment (its
    tracker saw a cut, or the face move). The segment's tracker knew A's place, so its decision stands."""
    a = patch_look(1)
    people = [Person("A", leaves=2.9, look=a),
              Person("B", appears=3.0, look=_look_alike(a, StreamSettings.same_moment, StreamSettings.same_person))]
    result = stitched_with_memory(people, [{"A": 1}, {"A": 1, "B": 2}, {"B": 1}], Stitcher(follow_seconds=1.5))
    assert ids_of(result, "AB") == {"A": {1}, "B": {2}}
