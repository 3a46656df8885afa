import cv2
import numpy as np
import pytest

from emoscope.appearance import SceneCuts, face_looks, similarity
from emoscope.settings import StreamSettings
from emoscope.tracking import ProbabilitySmoother, Tracker, iou_matrix

from conftest import patch_look


def test_iou_matrix_hand_values():
    a = np.array([[0, 0, 10, 10], [100, 100, 10, 10]], np.float32)
    b = np.array([[5, 0, 10, 10]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150], [0]], rtol=1e-6)
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_moving_faces_keep_their_ids():
    tracker = Tracker()
    seen = []
    for frame in range(50):
        boxes = np.array([[10 + 4 * frame, 50, 60, 60], [400 - 4 * frame, 200, 60, 60]], np.float32)
        seen.append(tracker.update(boxes).tolist())
    assert all(ids == [1, 2] for ids in seen)


def test_crossing_faces_keep_their_ids_thanks_to_velocity():
    tracker = Tracker()
    for frame in range(40):
        a = [100 + 8 * frame, 100, 60, 60]   # moving right
        b = [420 - 8 * frame, 110, 60, 60]   # moving left, crossing a around frame 20
        ids = tracker.update(np.array([a, b], np.float32))
        assert ids.tolist() == [1, 2], f"frame {frame}"


def test_a_short_gap_keeps_the_id_and_a_long_one_gives_a_new_one():
    tracker = Tracker(StreamSettings(max_missed=5))
    box = np.array([[100, 100, 50, 50]], np.float32)
    assert tracker.update(box).tolist() == [1]
    for _ in range(3):
        tracker.update(np.zeros((0, 4)))
    assert tracker.update(box).tolist() == [1]
    for _ in range(10):
        tracker.update(np.zeros((0, 4)))
    assert tracker.update(box).tolist() == [2]  # IDs are never reused
    assert tracker.live_ids == [2]


def test_smoother_is_an_exponential_moving_average_per_track():
    smoother = ProbabilitySmoother(window=3)  # alpha = 0.5
    first = smoother.update(np.array([1, 2]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(first, [[1, 0], [0, 1]])
    second = smoother.update(np.array([1]), np.array([[0.0, 1.0]]))
    np.testing.assert_allclose(second, [[0.5, 0.5]])
    third = smoother.update(np.array([2, 1]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(third, [[0.5, 0.5], [0.25, 0.75]])
    smoother.forget([2])
    np.testing.assert_allclose(smoother.update(np.array([1]), np.array([[1.0, 0.0]])), [[1.0, 0.0]])


def test_window_one_turns_smoothing_off_and_zero_is_refused():
    smoother = ProbabilitySmoother(window=1)
    smoother.update(np.array([1]), np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(smoother.update(np.array([1]), np.array([[0.0, 1.0]])), [[0.0, 1.0]])
    with pytest.raises(ValueError):
        ProbabilitySmoother(window=0)


def test_coasting_moves_matched_tracks_along_their_velocity():
    tracker = Tracker()
    tracker.update(np.array([[100, 100, 50, 50]], np.float32))
    tracker.update(np.array([[110, 100, 50, 50]], np.float32))
    ids, boxes = tracker.coast()
    assert ids.tolist() == [1] and boxes[0, 0] == pytest.approx(115, abs=0.01)  # velocity 0.5 * 10 px
    assert tracker.update(np.array([[120, 100, 50, 50]], np.float32)).tolist() == [1]


def test_a_track_picked_up_mid_stream_keeps_the_snapshots_of_a_whole_run():
    """A long video's segment starts its tracker part-way through; its tracks' snapshots (looks kept to
    tell people apart) must be those of a run from the start once it has seen a whole stretch, or the
    two runs decide differently whether a new look in a track's place is the same person (measured)."""
    base, noise = patch_look(0), np.random.default_rng(1).normal(0, 0.002, (400, patch_look(0).size)).astype(np.float32)
    box, looks = np.array([[100, 100, 50, 50]], np.float32), [(base + n)[None] for n in noise]   # one face
    whole, segment = Tracker(), Tracker()
    for frame in range(400):
        whole.update(box, looks[frame], frame=frame)
        if frame >= 130:
            segment.update(box, looks[frame], frame=frame)
    every = 15 * StreamSettings.detect_every         # frames per snapshot
    whole_snapshots, segment_snapshots = (list(t._tracks[0].snapshots.values()) for t in (whole, segment))
    assert len(whole._tracks) == len(segment._tracks) == 1
    assert len(segment_snapshots) == 7 and np.array_equal(segment_snapshots[0], looks[130][0])  # its first sighting
    expected = [looks[frame][0] for frame in range(135, 400, every)]     # then one per stretch, as the whole run
    for kept in (segment_snapshots[1:], whole_snapshots[-6:]):
        assert len(kept) == len(expected) and all(np.array_equal(a, b) for a, b in zip(kept, expected))


def test_a_box_in_a_tracks_place_with_another_look_starts_a_new_track():
    tracker = Tracker()
    box = np.array([[100, 100, 50, 50]], np.float32)
    assert tracker.update(box, patch_look(1)[None]).tolist() == [1]
    assert tracker.update(box, patch_look(1)[None]).tolist() == [1]
    assert tracker.update(box, patch_look(2)[None]).tolist() == [2]


def test_after_a_cut_only_the_look_brings_an_id_back():
    tracker = Tracker()
    a, b = patch_look(1), patch_look(2)
    tracker.update(np.array([[100, 100, 50, 50]], np.float32), a[None])
    # after the cut: a similar-looking face far away is the same person, a new look in the same place is not
    ids = tracker.update(np.array([[100, 100, 50, 50], [400, 300, 60, 60]], np.float32), np.stack([b, a]), cut=True)
    assert ids.tolist() == [2, 1]


def test_a_face_away_longer_than_max_missed_is_recognised_by_its_look_until_reid_frames():
    tracker = Tracker(StreamSettings(max_missed=2, reid_frames=10))
    look = patch_look(3)[None]
    tracker.update(np.array([[100, 100, 50, 50]], np.float32), look)
    for _ in range(5):
        tracker.update(np.zeros((0, 4)), np.zeros((0, look.shape[1])))
    assert tracker.update(np.array([[300, 50, 50, 50]], np.float32), look).tolist() == [1]
    for _ in range(11):
        tracker.update(np.zeros((0, 4)), np.zeros((0, look.shape[1])))
    assert tracker.update(np.array([[300, 50, 50, 50]], np.float32), look).tolist() == [2]


def test_looks_tell_people_apart_and_scene_cuts_are_seen():
    assert similarity(patch_look(1)[None], patch_look(1)[None])[0, 0] == pytest.approx(1, abs=1e-4)
    assert similarity(patch_look(1)[None], patch_look(2)[None])[0, 0] < StreamSettings.same_look
    cuts = SceneCuts(StreamSettings.scene_cut)
    dark, bright = np.full((48, 64, 3), 40, np.uint8), np.full((48, 64, 3), 200, np.uint8)
    assert [cuts.is_cut(frame) for frame in (dark, dark, bright, bright)] == [False, False, True, False]


def test_a_pan_is_not_a_scene_cut(example_image):
    cuts = SceneCuts(StreamSettings.scene_cut)
    assert not any(cuts.is_cut(np.roll(example_image, 3 * i, axis=1)) for i in range(12))


def _face_photo(seed: int, side: int = 240) -> np.ndarray:
    """A random picture of blobs about 6 px wide, as a small face's eyes, brows and mouth are."""
    noise = np.random.default_rng(seed).integers(0, 256, (40, 40, 3)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (side, side), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5)


def test_a_box_moved_by_a_few_pixels_still_looks_the_same():
    """A detector's box jitters by a few pixels; on a 48-px face that is a pixel of the look's thumbnail,
    which must not read as another face."""
    picture = _face_photo(4)
    box = np.array([[96, 96, 48, 48]], np.float32)
    looks = [face_looks(picture, box + [dx, dy, 0, 0]) for dx, dy in ((0, 0), (3, 0), (0, -3), (-3, 3))]
    assert min(similarity(looks[0], other)[0, 0] for other in looks[1:]) >= StreamSettings.same_moment
    assert similarity(looks[0], face_looks(_face_photo(5), box))[0, 0] < StreamSettings.same_look


def _look_between(a: np.ndarray, b: np.ndarray, low: float, high: float) -> np.ndarray:
    """A look made of ``a`` and ``b`` whose similarity to ``a`` lies between ``low`` and ``high``."""
    for share in np.linspace(0, 1, 101):
        mixed = (1 - share) * a + share * b
        if low < similarity(a[None], mixed[None])[0, 0] < high:
            return mixed
    raise AssertionError("no mix of the two looks falls between the thresholds")


def test_a_face_replaced_in_place_gets_a_new_id_from_its_second_look():
    """A video-call tile given to someone else: the box stays, the face changes all at once. A face unlike
    the track gets a new ID at once; one only somewhat unlike its look of a moment ago puts the track in
    doubt: a single odd look (a blur, a hand) keeps the ID, the second in a row is another person."""
    box = np.array([[100, 100, 50, 50]], np.float32)
    first = patch_look(1)
    settings = StreamSettings()
    second = _look_between(first, patch_look(2), settings.same_look, settings.same_moment)[None]
    tracker = Tracker(settings)
    assert [tracker.update(box, first[None]).tolist() for _ in range(5)] == [[1]] * 5
    assert tracker.update(box, second).tolist() == [1]          # in doubt
    assert tracker.update(box, first[None]).tolist() == [1]     # it was a glitch
    assert tracker.update(box, second).tolist() == [1]          # in doubt again
    assert tracker.update(box, second).tolist() == [2]          # someone else
    assert [tracker.update(box, second).tolist() for _ in range(3)] == [[2]] * 3
    assert tracker.update(box, patch_look(3)[None]).tolist() == [3]  # a face quite unlike: at once


def test_a_face_half_hidden_by_another_is_not_taken_for_someone_else():
    """A face that another passes in front of looks unlike itself for a while; its box overlaps the
    other's, so its look is no test of who it is, and is not learnt as its look either: uncovered again
    after a long overlap, it is still itself."""
    settings = StreamSettings()
    a, b = patch_look(1), patch_look(3)
    half_hidden = _look_between(a, patch_look(2), settings.same_look, (settings.same_look + settings.same_moment) / 2)
    tracker = Tracker(settings)
    path = [*range(200, 130, -10), *[130] * 20, *range(140, 260, 20)]   # b passes over a, stays, leaves
    ids = []
    for x in path:
        looks = np.stack([half_hidden if x < 150 else a, b])
        ids.append(tracker.update(np.array([[100, 100, 50, 50], [x, 105, 50, 50]], np.float32), looks).tolist())
    assert ids == [[1, 2]] * len(path)


def test_doubt_lasts_one_detection_of_the_face():
    """"Twice in a row" counts consecutive detections: an odd look, a frame without the face, another odd
    look later (a new pose after a gap) keeps the ID."""
    settings = StreamSettings()
    box, first = np.array([[100, 100, 50, 50]], np.float32), patch_look(1)
    odd = _look_between(first, patch_look(2), settings.same_look, settings.same_moment)[None]
    tracker = Tracker(settings)
    for _ in range(5):
        tracker.update(box, first[None])
    assert tracker.update(box, odd).tolist() == [1]
    assert tracker.update(np.zeros((0, 4)), np.zeros((0, first.size))).tolist() == []
    assert tracker.update(box, odd).tolist() == [1]
