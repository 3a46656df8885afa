"""Video sources, sinks, timelines and the `emoscope video` command on clips made here."""
import csv
import json

import cv2
import numpy as np
import pytest

av = pytest.importorskip("av")

from emoscope import InputError  # noqa: E402
from emoscope.io.video import VideoFileSource, VideoSink, join_videos  # noqa: E402
from conftest import make_clip  # noqa: E402
from test_cli import emoscope  # noqa: E402


@pytest.fixture
def clip(tmp_path, example_image):
    return make_clip(tmp_path / "clip.mp4", example_image, audio=True)


def test_source_gives_frames_with_real_timestamps(clip):
    with VideoFileSource(clip) as source:
        frames = list(source)
        assert source.fps == pytest.approx(12) and source.size == (320, 240) and source.has_audio
    assert len(frames) == 24 and frames[0].image.shape == (240, 320, 3)
    assert frames[6].timestamp == pytest.approx(0.5, abs=1e-3) and source.stopped_at is None


def test_stride_keeps_indices_and_times(clip):
    with VideoFileSource(clip, stride=5) as source:
        frames = list(source)
    assert [f.index for f in frames] == [0, 5, 10, 15, 20]
    assert frames[2].timestamp == pytest.approx(10 / 12, abs=1e-3)


@pytest.mark.parametrize("payload, message", [(b"", "not a readable video"), (b"<html>hello</html>" * 50, "not a readable video")])
def test_unreadable_videos(tmp_path, payload, message):
    path = tmp_path / "bad.mp4"
    path.write_bytes(payload)
    with pytest.raises(InputError, match=message):
        VideoFileSource(path)


def test_sink_writes_h264_with_the_source_audio(tmp_path, clip):
    out = tmp_path / "out.mp4"
    with VideoFileSource(clip) as source, VideoSink(out, source.fps, (321, 241), audio_from=clip) as sink:
        for frame in source:
            sink.write(cv2.copyMakeBorder(frame.image, 0, 1, 0, 1, cv2.BORDER_CONSTANT))
    with av.open(str(out)) as result:
        assert result.streams.video[0].codec_context.name == "h264"
        assert (result.streams.video[0].codec_context.width, result.streams.video[0].codec_context.height) == (320, 240)
        assert result.streams.audio and result.streams.audio[0].codec_context.name == "aac"
        assert sum(1 for _ in result.decode(video=0)) == 24


def _part(path, frames, fps=12.0, size=(320, 240)):
    """An MP4 part as a segment's task writes it; frame k is grey level 8 * k."""
    with VideoSink(path, fps, size) as sink:
        for k in frames:
            sink.write(np.full((size[1], size[0], 3), 8 * k, np.uint8))
    return path


def test_parts_join_in_time_without_re_encoding_and_keep_the_audio(tmp_path, clip):
    """Frames 0-9 and 10-15 back to back, 20-23 after a missing stretch: each frame at its time (the gap
    kept), its pixels as in its part, the audio of the source copied in."""
    parts = [(_part(tmp_path / f"{first}.mp4", range(first, last)), first)
             for first, last in ((0, 10), (10, 16), (20, 24))]
    out = tmp_path / "joined.mp4"
    join_videos(parts, out, 12.0, audio_from=clip)
    with av.open(str(out)) as joined:
        assert joined.streams.audio and joined.streams.audio[0].codec_context.name == "aac"
        frames = [(frame.time, frame.to_ndarray(format="gray")) for frame in joined.decode(video=0)]
    times = [round(time * 12) for time, _ in frames]
    assert times == [*range(16), *range(20, 24)]
    for k, (_, grey) in zip(times, frames):
        assert abs(float(grey.mean()) - 8 * k) < 3, k
    with av.open(str(parts[1][0])) as part, av.open(str(out)) as joined:
        ours = [bytes(p) for p in part.demux(video=0) if p.size]
        theirs = [bytes(p) for p in joined.demux(video=0) if p.size]
    assert theirs[10:16] == ours    # the part's packets as they were: not re-encoded


def test_a_first_part_that_is_missing_leaves_a_gap_at_the_start(tmp_path):
    """A one-frame part, then one of three: the frames at 0.5 s (the sixth) and from 0.75 s on."""
    parts = [(_part(tmp_path / "a.mp4", [6]), 6), (_part(tmp_path / "b.mp4", range(9, 12)), 9)]
    join_videos(parts, tmp_path / "joined.mp4", 12.0)
    with av.open(str(tmp_path / "joined.mp4")) as joined:
        assert [round(frame.time * 12) for frame in joined.decode(video=0)] == [6, 9, 10, 11]


def test_parts_that_cannot_be_joined_are_refused_with_one_line(tmp_path, clip):
    parts = [(_part(tmp_path / "a.mp4", range(4)), 0), (_part(tmp_path / "b.mp4", range(4, 8), size=(160, 120)), 4)]
    with pytest.raises(InputError, match="b.mp4 was encoded unlike the first part"):
        join_videos(parts, tmp_path / "joined.mp4", 12.0)
    with pytest.raises(InputError, match="is the input; writing it would destroy it"):
        join_videos(parts[:1], clip, 12.0, audio_from=clip)
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(InputError, match="folder.mp4: the parts could not be joined"):
        join_videos(parts[:1], tmp_path / "folder.mp4", 12.0)


def test_video_command_writes_every_output(tmp_path, clip):
    run = emoscope("video", clip, "--detector", "haar", "--out", tmp_path / "a.mp4", "--timeline", tmp_path / "t.csv",
                   "--summary", tmp_path / "s.json", "--chart", tmp_path / "c.png", "--every", "2", "--quiet",
                   "--report", tmp_path / "class.html")
    assert run.returncode == 0, run.stderr
    with av.open(str(tmp_path / "a.mp4")) as annotated:
        assert annotated.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in annotated.decode(video=0)) == 12  # as many frames as processed
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    main_track = [r for r in rows if r["track_id"] == "1"]
    assert len(main_track) >= 10  # the panning face keeps one ID (Haar may add a stray box elsewhere)
    assert {"raw_happy", "p_happy", "time", "frame", "track_id", "score"} <= set(rows[0])
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["frames_processed"] == 12 and summary["people"] == len({r["track_id"] for r in rows})
    assert summary["tracks"][0]["seconds_seen"] == pytest.approx(len(main_track) * 2 / 12, abs=1e-3)
    assert sum(summary["overall"]["emotion_share"].values()) == pytest.approx(1, abs=1e-3)
    assert (tmp_path / "c.png").stat().st_size > 1000
    report = (tmp_path / "class.html").read_text()
    assert "Class view" in report and '"thumbnails": {"1": "data:image/jpeg;base64,' in report
    assert "import " not in report and "src=" not in report  # one file: no module to fetch, nothing from the network


def test_json_timeline_has_one_record_per_face_per_frame(tmp_path, clip):
    run = emoscope("video", clip, "--detector", "haar", "--timeline", tmp_path / "t.json", "--quiet")
    assert run.returncode == 0, run.stderr
    records = json.loads((tmp_path / "t.json").read_text())
    assert len(records) >= 20 and {"time", "frame", "track_id", "probabilities", "raw_probabilities"} <= set(records[0])


def test_truncated_video_keeps_what_was_readable(tmp_path, example_image):
    full = make_clip(tmp_path / "full.mp4", example_image, frames=48)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    run = emoscope("video", cut, "--detector", "haar", "--summary", tmp_path / "s.json", "--quiet")
    assert "Traceback" not in run.stderr
    processed = json.loads((tmp_path / "s.json").read_text())["frames_processed"]
    assert 0 < processed < 48
    if run.returncode != 0:  # FFmpeg noticed the damage: said where it stopped, kept the outputs
        assert run.returncode == 2 and "frames" in run.stderr


def test_video_command_bad_input(tmp_path):
    (tmp_path / "x.mp4").write_text("not a video")
    run = emoscope("video", tmp_path / "x.mp4", "--detector", "haar")
    assert run.returncode == 1 and "not a readable video" in run.stderr and "Traceback" not in run.stderr
    run = emoscope("video", tmp_path / "missing.mp4", "--detector", "haar")
    assert run.returncode == 1 and "no such file" in run.stderr
