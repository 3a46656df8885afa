import math
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest

from emoscope import InputError
from conftest import elementary_stream
from emoscope.segments import Segment, index_video, plan_segments


def encode(path, times, gop, time_base=Fraction(1, 1200)):
    """A tiny H.264 MP4 with a frame at each of ``times`` (seconds) and a keyframe every ``gop`` frames exactly."""
    av = pytest.importorskip("av", reason="reading keyframes needs PyAV (the video extra)")
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=12)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    stream.codec_context.time_base = time_base
    stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0"}  # no keyframe at scene changes
    for i, time in enumerate(times):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 4 % 256, np.uint8), format="bgr24")
        frame.pts, frame.time_base = round(time / time_base), time_base
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


@pytest.fixture
def steady_clip(tmp_path):
    """5 s at 12 fps, a keyframe every second."""
    return encode(tmp_path / "steady.mp4", [i / 12 for i in range(60)], gop=12)


def test_index_reads_keyframes_duration_and_rate_without_decoding(steady_clip):
    index = index_video(steady_clip)
    assert index.keyframes == pytest.approx([0, 1, 2, 3, 4])
    assert index.duration == pytest.approx(5.0)
    assert index.fps == pytest.approx(12)
    assert not index.variable_rate
    assert len(index.frame_times) == 60
    assert index.frames_before(index.keyframes[2]) == 24


def test_segments_start_on_keyframes_and_own_every_decoded_frame_once(steady_clip):
    from emoscope.io.video import VideoFileSource

    index = index_video(steady_clip)
    segments = plan_segments(index.keyframes, index.duration, segment_seconds=1.5, overlap_seconds=0.5)
    with VideoFileSource(steady_clip) as source:
        frames = list(source)
    keyframe_times = {frame.timestamp for frame in frames if frame.index % 12 == 0}
    assert [(s.start, s.end, s.warmup_start, s.seek_from) for s in segments] == \
        [(0, 2, 0, 0), (2, 3, 1.5, 1), (3, math.inf, 2.5, 2)]
    assert {s.start for s in segments} | {s.seek_from for s in segments} <= keyframe_times  # exact, as decoded
    for frame in frames:
        assert sum(s.owns(frame.timestamp) for s in segments) == 1
    for earlier, later in pairwise(segments):
        warmup = [f for f in frames if later.warms_up_on(f.timestamp)]
        assert later.start - warmup[0].timestamp >= 0.5
        assert all(earlier.owns(f.timestamp) for f in warmup)


def test_variable_frame_rate_is_noticed(tmp_path):
    times = np.cumsum([0] + [0.05, 0.1] * 15)[:30]
    index = index_video(encode(tmp_path / "variable.mp4", times, gop=10))
    assert index.variable_rate
    assert index.keyframes == pytest.approx([times[0], times[10], times[20]])
    from emoscope.batch.segment_tasks import plan_video

    assert any("frame rate varies" in notice for notice in plan_video(tmp_path / "variable.mp4", 1.0, 0.5).notices)


def test_stream_without_timestamps_is_one_segment_with_a_warning(steady_clip, tmp_path):
    index = index_video(elementary_stream(steady_clip, tmp_path / "raw.h264"))
    assert index.keyframes == ()
    with pytest.warns(UserWarning, match="one segment"):
        assert len(plan_segments(index.keyframes, index.duration, 1.0, 0.5)) == 1


@pytest.mark.parametrize("payload", [b"", b"<html>hello</html>" * 50])
def test_unreadable_file_is_one_input_error(tmp_path, payload):
    pytest.importorskip("av", reason="reading keyframes needs PyAV (the video extra)")
    path = tmp_path / "bad.mp4"
    path.write_bytes(payload)
    with pytest.raises(InputError, match="not a readable video"):
        index_video(path)
    with pytest.raises(InputError, match="no such file"):
        index_video(tmp_path / "missing.mp4")


@pytest.mark.parametrize("keyframes, duration, expected_starts", [
    ([0, 1, 2, 3, 4], 5.0, [0, 2, 3]),            # 1.5 -> 2, 3.0 -> 3, 4.5: no keyframe before the end
    ([0, 3, 6, 9], 10.0, [0, 3, 6, 9]),           # a keyframe exactly on each multiple
    ([0, 10, 20], 21.0, [0, 10, 20]),             # long groups: one boundary each, not one per multiple
    ([0, 1, 2, 3], 3.0, [0, 2]),                  # a keyframe at the very end starts nothing
    ([0, 0.3, 0.6, 0.9, 1.2], 1.5, [0]),          # shorter than one segment: one segment
    ([0.5, 1.0, 2.0], 3.0, [0, 2]),               # the first keyframe after 0: segment 0 still starts at 0
])
def test_plan_table(keyframes, duration, expected_starts):
    segments = plan_segments(keyframes, duration, segment_seconds=1.5, overlap_seconds=0.0)
    assert [s.start for s in segments] == expected_starts
    assert [s.index for s in segments] == list(range(len(segments)))
    assert [s.end for s in segments] == [*expected_starts[1:], math.inf]
    assert [s.warmup_start for s in segments] == expected_starts  # no overlap: no warm-up


def test_warmup_starts_the_overlap_before_decoded_from_the_keyframe_at_or_before_it():
    segments = plan_segments([0, 2, 3, 4, 5], 6.0, segment_seconds=2.0, overlap_seconds=1.5)
    assert segments == [Segment(0, 0, 2, 0, 0), Segment(1, 2, 4, 0.5, 0), Segment(2, 4, math.inf, 2.5, 2)]
    assert plan_segments([0, 2, 4], 6.0, 2.0, overlap_seconds=3.0)[1] == Segment(1, 2, 4, 0.0, 0)   # not before 0


def test_frame_on_a_boundary_is_the_later_segments():
    first, second = plan_segments([0, 1, 2], 3.0, segment_seconds=1.0, overlap_seconds=1.0)[:2]
    assert not first.owns(1.0) and second.owns(1.0) and not second.warms_up_on(1.0)
    assert first.owns(0.999) and second.warms_up_on(0.999)


def test_no_keyframes_is_one_segment_with_a_warning():
    with pytest.warns(UserWarning, match="no keyframe"):
        segments = plan_segments([], 120.0, segment_seconds=30, overlap_seconds=2)
    assert segments == [Segment(0, 0.0, math.inf, 0.0, 0.0)]


@pytest.mark.parametrize("segment_seconds, overlap_seconds, duration, message", [
    (0, 1, 10, "segment length"),
    (-5, 1, 10, "segment length"),
    (math.nan, 1, 10, "segment length"),
    (math.inf, 1, 10, "segment length"),
    (10, -1, 10, "overlap"),
    (10, math.nan, 10, "overlap"),
    (10, 1, math.nan, "duration"),
])
def test_bad_lengths_are_one_input_error(segment_seconds, overlap_seconds, duration, message):
    with pytest.raises(InputError, match=message):
        plan_segments([0, 5], duration, segment_seconds, overlap_seconds)
