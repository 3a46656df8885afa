"""Long videos cut into segments on Dask: the outputs of one sequential run, resumed where a run stopped,
a damaged stretch failing alone, a file that changes refused, a lost worker's segment done again."""
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("dask.distributed")
av = pytest.importorskip("av")

from dask.distributed import Client, LocalCluster  # noqa: E402

from conftest import EXAMPLE, elementary_stream  # noqa: E402
from emoscope import Analyzer  # noqa: E402
from emoscope.batch import MANIFEST, SegmentedVideo, run_batch  # noqa: E402
from emoscope.batch import run as batch_run  # noqa: E402
from emoscope.batch import long_video, segment_tasks  # noqa: E402
from emoscope.batch.segment_tasks import SegmentFailure, analyze_segment, plan_video, start_video  # noqa: E402
from emoscope.cli import main  # noqa: E402
from emoscope.errors import InputError  # noqa: E402
from emoscope.settings import BatchSettings  # noqa: E402
from emoscope.sinks import Sink, SummaryFile, TimelineFile  # noqa: E402
from emoscope.streaming import stream_video_file  # noqa: E402

OPTIONS = {"detector": "haar", "threads": 1}
SECONDS, FPS = 10, 12      # a keyframe every second; 3-s segments: [0, 3), [3, 6), [6, 9), [9, end)


def make_lecture(path, seconds=SECONDS, fps=FPS, times=None, away=None, third_from=4.0):
    """Three faces (the example, its mirror image and a bluer copy) drifting on a still background, the
    third from ``third_from`` s on; a keyframe every second. ``times``: each frame's time (a variable frame
    rate); ``away``: (from, to) seconds in which the mirror image is not shown."""
    face = cv2.resize(cv2.imread(str(EXAMPLE))[20:260, 110:350], (150, 150))   # the astronaut's head
    faces = [face, np.ascontiguousarray(face[:, ::-1]), (face * [1.0, 0.8, 0.6]).astype(np.uint8)]
    times = [i / fps for i in range(seconds * fps)] if times is None else times
    time_base = Fraction(1, 1200)
    background = np.random.default_rng(0).integers(40, 90, (240, 760, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 760, 240, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.options = {"g": str(fps), "keyint_min": str(fps), "sc_threshold": "0"}
        for t in times:
            canvas = background.copy()
            for k, picture in enumerate(faces[:2 if t < third_from else 3]):
                if k == 1 and away and away[0] <= t < away[1]:
                    continue
                x, y = int(50 + 240 * k + 40 * np.sin(0.8 * t + k)), int(30 + 10 * np.cos(0.6 * t + k))
                canvas[y:y + 150, x:x + 150] = picture
            frame = av.VideoFrame.from_ndarray(canvas, format="bgr24")
            frame.pts, frame.time_base = round(t / time_base), time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def timeline(path):
    return list(csv.DictReader(open(path)))


def assert_same_up_to_ids(rows, expected):
    """The same faces on the same frames with the same emotions, with one renaming of track IDs between the
    two; numbers equal up to what a segment's warm-up forgot of the frames before it (a track's velocity,
    its smoothed probabilities: ``emoscope.segments``). Within a frame, faces may come in another order."""
    rows, expected = (sorted(r, key=lambda row: (int(row["frame"]), float(row["x"]))) for r in (rows, expected))
    assert [(r["frame"], r["time"], r["emotion"]) for r in rows] == \
        [(r["frame"], r["time"], r["emotion"]) for r in expected]
    renaming = {}
    for row, want in zip(rows, expected):
        assert renaming.setdefault(row["track_id"], want["track_id"]) == want["track_id"]
        for columns, tolerance in (("xywh", 1.0), ([k for k in want if k[:2] in ("p_", "ra", "sc", "co")], 0.01)):
            assert [float(row[k]) for k in columns] == pytest.approx([float(want[k]) for k in columns], abs=tolerance)
    assert len(set(renaming.values())) == len(renaming)


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    return make_lecture(tmp_path_factory.mktemp("lecture") / "lecture.mp4")


@pytest.fixture(scope="module")
def sequential(lecture, tmp_path_factory):
    """The timeline and summary of one sequential run over the lecture."""
    folder = tmp_path_factory.mktemp("sequential")
    stream_video_file(lecture, Analyzer(**OPTIONS), [TimelineFile(folder / "t.csv"), SummaryFile(folder / "s.json")])
    return timeline(folder / "t.csv"), json.loads((folder / "s.json").read_text())


@pytest.fixture(scope="module")
def cluster():
    """Two workers as threads of this process: quick to start, and they see the test's own functions."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", dashboard_address=":0",
                      silence_logs=50) as local:
        yield local.scheduler_address


def batch(lecture, out, cluster, **kwargs):
    return run_batch([lecture], out, scheduler=cluster, segment_seconds=3.0, analyzer_options=OPTIONS,
                     progress=False, **kwargs)


def video_folder(out):
    return next((out / "videos").iterdir())


def test_a_segmented_batch_writes_what_a_sequential_run_writes(lecture, sequential, cluster, tmp_path):
    report = batch(lecture, tmp_path / "out", cluster)
    assert report.ok and len(report.done) == 1
    rows, summary = sequential
    assert_same_up_to_ids(timeline(video_folder(tmp_path / "out") / "timeline.csv"), rows)
    segmented = json.loads((video_folder(tmp_path / "out") / "summary.json").read_text())
    assert segmented["people"] == summary["people"] >= 3
    assert segmented["frames_processed"] == summary["frames_processed"]
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["segments"] == {} and not (video_folder(tmp_path / "out") / "segments").exists()
    assert len(list(csv.DictReader(open(tmp_path / "out" / "faces.csv")))) == len(rows)


def test_a_face_back_two_segments_later_keeps_its_id(cluster, tmp_path):
    """The mirror image leaves at 2.5 s and is back at 7.5 s, two segments on, long after any warm-up: a
    sequential run knows it again by its look, and so does the stitched one (one person, not two). (No
    bluer copy: it looks like the example to the tracker, white-balanced, and Haar loses the two in turn.)"""
    lecture = make_lecture(tmp_path / "away.mp4", away=(2.5, 7.5), third_from=math.inf)
    stream_video_file(lecture, Analyzer(**OPTIONS), [TimelineFile(tmp_path / "t.csv"), SummaryFile(tmp_path / "s.json")])
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["people"] == 2
    assert batch(lecture, tmp_path / "out", cluster).ok
    assert_same_up_to_ids(timeline(video_folder(tmp_path / "out") / "timeline.csv"), timeline(tmp_path / "t.csv"))
    assert json.loads((video_folder(tmp_path / "out") / "summary.json").read_text())["people"] == 2


def test_the_video_command_on_a_cluster_writes_what_it_writes_alone(lecture, cluster, tmp_path):
    common = ["video", str(lecture), "--detector", "haar", "--threads", "1", "--quiet"]
    for name, extra in (("alone", []), ("cluster", ["--scheduler", cluster, "--segment-seconds", "3"])):
        folder = tmp_path / name
        assert main([*common, *extra, "--timeline", str(folder / "t.csv"), "--summary", str(folder / "s.json"),
                     "--report", str(folder / "class.html")]) == 0
    alone, cluster_run = tmp_path / "alone", tmp_path / "cluster"
    assert_same_up_to_ids(timeline(cluster_run / "t.csv"), timeline(alone / "t.csv"))
    people = [[t["track_id"] for t in json.loads((f / "s.json").read_text())["tracks"]] for f in (cluster_run, alone)]
    assert people[0] == people[1]
    for folder in (cluster_run, alone):   # everyone in the class view has a thumbnail, also from segments
        data = json.loads(re.search(r"^const data = (.*);$", (folder / "class.html").read_text(), re.M).group(1))
        assert sorted(map(int, data["thumbnails"])) == people[1]


def decoded(path):
    """(time, frame as RGB) of every frame of a video file, and the times of its keyframes."""
    with av.open(str(path)) as container:
        frames = [(round(frame.time, 3), frame.to_ndarray(format="rgb24"), frame.key_frame)
                  for frame in container.decode(video=0)]
    return [(t, image) for t, image, _ in frames], [t for t, _, key in frames if key]


def test_the_annotated_video_on_a_cluster_shows_what_it_shows_alone(lecture, cluster, tmp_path):
    """Drawn per segment on the workers and joined without re-encoding (a part's first frame is a keyframe):
    the same frames at the same times, each showing what the sequential run's shows. Compared in 8 x 8 blocks
    (the noisy background encodes differently in each part): a probability one point off after a boundary,
    as the timelines allow, differs by about 40 there; a missing face or an extra label by over 80 (measured
    with probability panels, when they were drawn here). Labels, not panels, since: a point off can move a panel's row of 0-1% up or down (the renderer's
    tests cover the panel)."""
    common = ["video", str(lecture), "--detector", "haar", "--threads", "1", "--quiet", "--every", "2",
              "--annotate", "label"]
    assert main([*common, "--out", str(tmp_path / "alone.mp4")]) == 0
    assert main([*common, "--scheduler", cluster, "--segment-seconds", "3",
                 "--out", str(tmp_path / "cluster.mp4")]) == 0
    (alone, _), (joined, keyframes) = decoded(tmp_path / "alone.mp4"), decoded(tmp_path / "cluster.mp4")
    assert [t for t, _ in joined] == [t for t, _ in alone] and len(alone) == SECONDS * FPS // 2
    assert keyframes == [0.0, 3.0, 6.0, 9.0]     # the parts, one per 3-s segment
    blocks = [np.abs(block_means(a) - block_means(b)).max() for (_, a), (_, b) in zip(alone, joined)]
    assert max(blocks) < 55, blocks


def render_all_but_the_second(raw, plan, n, *args):
    return SegmentFailure("a made-up failure") if n == 1 else segment_tasks.render_segment(raw, plan, n, *args)


def test_a_part_that_fails_leaves_its_stretch_out_in_time(lecture, cluster, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(long_video, "render_segment", render_all_but_the_second)
    out = tmp_path / "cluster.mp4"
    assert main(["video", str(lecture), "--detector", "haar", "--threads", "1", "--quiet", "--every", "2",
                 "--scheduler", cluster, "--segment-seconds", "3", "--out", str(out),
                 "--summary", str(tmp_path / "s.json")]) == 2
    assert "lecture.mp4 0:03-0:06: annotated video: a made-up failure" in capsys.readouterr().err
    times = [t for t, _ in decoded(out)[0]]
    assert times == [round(k / 6, 3) for k in range(SECONDS * 6) if not 18 <= k < 36]   # frames 18-35: 3-6 s
    assert json.loads((tmp_path / "s.json").read_text())["frames_processed"] == SECONDS * 6   # the rest is whole


def block_means(image):
    return cv2.resize(image, (image.shape[1] // 8, image.shape[0] // 8), interpolation=cv2.INTER_AREA).astype(np.int16)


def test_a_video_on_a_cluster_without_dask_names_the_distributed_extra(lecture, tmp_path):
    blocker = tmp_path / "block"
    for module in ("dask", "distributed"):
        (blocker / module).mkdir(parents=True)
        (blocker / module / "__init__.py").write_text("raise ImportError('hidden', name=__name__)\n")
    run = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(blocker)!r}); from emoscope.cli "
                          "import main; sys.exit(main(sys.argv[1:]))", "video", str(lecture), "--scheduler",
                          "tcp://127.0.0.1:9", "--summary", str(tmp_path / "s.json")], capture_output=True, text=True)
    assert run.returncode == 1 and "pip install 'emoscope[distributed]'" in run.stderr, run.stderr


@pytest.mark.parametrize("content, message", [(None, "no such file"), (b"hi", "not a readable video")])
def test_a_video_that_cannot_be_read_is_named_before_the_cluster_is_reached(content, message, tmp_path, capsys):
    video = tmp_path / "lecture.mp4"
    if content is not None:
        video.write_bytes(content)
    assert main(["video", str(video), "--scheduler", "tcp://127.0.0.1:9", "--summary", str(tmp_path / "s.json")]) == 1
    assert capsys.readouterr().err.strip() == f"emoscope: error: {video}: {message}" + \
        ("" if content is None else " (Invalid data found when processing input)")


@pytest.mark.parametrize("command", ["batch", "video"])
@pytest.mark.parametrize("seconds", ["0", "-1", "nan"])
def test_segment_length_must_be_more_than_zero(command, seconds, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([command, str(EXAMPLE), "--out", str(tmp_path / "out"), "--segment-seconds", seconds])
    assert stopped.value.code == 2
    assert "argument --segment-seconds: must be more than 0" in capsys.readouterr().err


ANALYSED = []


def analyze_counted(raw, plan, n, *args):
    ANALYSED.append(n)
    return analyze_segment(raw, plan, n, *args)


def analyze_first_two(raw, plan, n, *args):
    return analyze_segment(raw, plan, n, *args) if n < 2 else SegmentFailure("stopped here")


def test_a_rerun_analyses_only_the_segments_not_done(lecture, sequential, cluster, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(batch_run, "analyze_segment", analyze_first_two)
    first = batch(lecture, out, cluster)
    assert first.missing[str(lecture)] == ["0:06-0:09: stopped here", "0:09-0:10: stopped here"]
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["segments"][str(lecture)]["done"]) == ["0", "1"]
    del manifest["inputs"][str(lecture)]   # as if the job was killed before the last segments came in
    (out / MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setattr(batch_run, "analyze_segment", analyze_counted)
    ANALYSED.clear()
    # naming the model that "auto" (the default) reads a video with is the same run: its stored segments are kept
    second = run_batch([lecture], out, scheduler=cluster, segment_seconds=3.0,
                       analyzer_options={**OPTIONS, "model": "fast"}, progress=False)
    assert sorted(ANALYSED) == [2, 3] and second.ok
    assert_same_up_to_ids(timeline(video_folder(out) / "timeline.csv"), sequential[0])
    assert batch(lecture, out, cluster).skipped == 1


def test_segments_stored_by_an_earlier_version_are_done_again(lecture, cluster, tmp_path, monkeypatch):
    """A manifest whose plan lacks each segment's keyframe to seek from (before warm-ups were cut to the
    overlap) is not resumed: its rows were made another way, so every segment is analysed again."""
    out = tmp_path / "out"
    monkeypatch.setattr(batch_run, "analyze_segment", analyze_first_two)
    batch(lecture, out, cluster)
    manifest = json.loads((out / MANIFEST).read_text())
    record = manifest["segments"][str(lecture)]
    record["plan"]["segments"] = [segment[:3] for segment in record["plan"]["segments"]]
    del manifest["inputs"][str(lecture)]
    (out / MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setattr(batch_run, "analyze_segment", analyze_counted)
    ANALYSED.clear()
    assert batch(lecture, out, cluster).ok and sorted(ANALYSED) == [0, 1, 2, 3]


def damage(path, target, start, end):
    """A copy of ``path`` whose packets shown from ``start`` to ``end`` seconds are garbage."""
    data = bytearray(Path(path).read_bytes())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.pts is not None and start <= packet.pts * stream.time_base < end:
                data[packet.pos + 4: packet.pos + packet.size] = b"\xff" * (packet.size - 4)
    Path(target).write_bytes(data)
    return target


def test_a_damaged_stretch_fails_only_its_segment(lecture, cluster, tmp_path):
    broken = damage(lecture, tmp_path / "broken.mp4", 4.0, 4.5)
    report = batch(broken, tmp_path / "out", cluster)
    (stretch,) = report.missing[str(broken)]
    assert stretch.startswith("0:03-0:06: ") and "damaged packets" in stretch and str(broken) not in stretch
    times = {float(row["time"]) for row in timeline(video_folder(tmp_path / "out") / "timeline.csv")}
    assert not any(3 <= t < 6 for t in times) and min(times) < 3 and max(times) > 9
    assert json.loads((tmp_path / "out" / "report.json").read_text())["missing_ranges"] == {str(broken): [stretch]}


def start_then_change(raw, *args):
    planned = start_video(raw, *args)
    with open(raw, "ab") as handle:   # the file grows after it was planned: a recording still being copied
        handle.write(b"\0" * 1000)
    return planned


def test_a_file_changed_after_planning_is_refused_whole(lecture, cluster, tmp_path, monkeypatch):
    growing = Path(shutil.copy(lecture, tmp_path / "growing.mp4"))
    monkeypatch.setattr(batch_run, "start_video", start_then_change)
    report = batch(growing, tmp_path / "out", cluster)
    assert "changed while it was being analysed" in report.failed[str(growing)] and not report.done
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["inputs"] == {} and manifest["segments"] == {}


def test_a_segment_task_refuses_a_file_that_changed(lecture, tmp_path):
    copy = Path(shutil.copy(lecture, tmp_path / "copy.mp4"))
    plan = plan_video(copy, 3.0, 1.0)
    os.utime(copy, ns=(0, plan.fingerprint.mtime_ns + 1))
    outcome = analyze_segment(str(copy), plan, 1, tuple(OPTIONS.items()), 1)
    assert isinstance(outcome, SegmentFailure) and outcome.changed


def test_a_lost_worker_s_segment_is_done_again(lecture, sequential, tmp_path):
    out = tmp_path / "out"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=50) as local, Client(local) as client:
        def kill_a_worker_once_a_segment_is_in():
            deadline = time.monotonic() + 60
            while not list(out.glob("videos/*/segments/*.npz")) and time.monotonic() < deadline:
                time.sleep(0.02)
            victim = next(iter(client.scheduler_info()["workers"]))
            client.run(os._exit, 1, workers=[victim], on_error="ignore")

        killer = threading.Thread(target=kill_a_worker_once_a_segment_is_in)
        killer.start()
        report = run_batch([lecture], out, scheduler=local.scheduler_address, segment_seconds=2.0,
                           analyzer_options=OPTIONS, progress=False)
        killer.join()
    assert report.ok
    assert_same_up_to_ids(timeline(video_folder(out) / "timeline.csv"), sequential[0])


def test_a_segment_s_rows_keep_what_its_tracker_remembers(lecture, tmp_path):
    """Stored and read back, a segment's rows hand on each track's looks (recent look and snapshots by slot) and
    the look of each track's first face, for the stitcher to recognise a face that comes back later."""
    plan = plan_video(lecture, 3.0, BatchSettings.overlap_seconds)
    rows = analyze_segment(str(lecture), plan, 1, tuple(sorted(OPTIONS.items())), 1)
    rows.save(tmp_path / "rows.npz")
    again = segment_tasks.SegmentRows.load(tmp_path / "rows.npz")
    remembered, read = rows.remembered(), again.remembered()
    assert len(remembered) >= 2 and [t.track_id for t in read] == [t.track_id for t in remembered]
    for mine, theirs in zip(remembered, read):
        assert np.array_equal(mine.look, theirs.look) and mine.snapshots.keys() == theirs.snapshots.keys()
        assert all(np.array_equal(mine.snapshots[slot], theirs.snapshots[slot]) for slot in mine.snapshots)
    first = {}
    for row in again.face_rows():
        first.setdefault(row.track_id, row)
    assert set(first) == {t.track_id for t in read} and all(row.look is not None for row in first.values())


def test_a_variable_frame_rate_video_is_cut_on_its_own_times(tmp_path):
    times = np.cumsum([0] + [1 / 8, 1 / 16] * 40)[:64]     # 8 and 16 frames a second in turn, for 6 s
    clip = make_lecture(tmp_path / "variable.mp4", times=times)
    analyzer, options = Analyzer(**OPTIONS), tuple(sorted(OPTIONS.items()))
    stream_video_file(clip, analyzer, [TimelineFile(tmp_path / "sequential.csv")])
    plan = plan_video(clip, 2.0, BatchSettings.overlap_seconds)
    assert len(plan.segments) > 2
    video = SegmentedVideo(str(clip), plan, tmp_path / "rows", key={})
    for n in range(len(plan.segments)):
        video.store(n, analyze_segment(str(clip), plan, n, options, 1))
    video.write([TimelineFile(tmp_path / "segmented.csv")], every=1)
    assert_same_up_to_ids(timeline(tmp_path / "segmented.csv"), timeline(tmp_path / "sequential.csv"))


def test_a_video_without_keyframes_is_one_task_with_a_notice(tmp_path):
    clip = make_lecture(tmp_path / "short.mp4", seconds=4)
    raw = elementary_stream(clip, tmp_path / "raw.h264")
    (tmp_path / "out" / "images").mkdir(parents=True)
    entry = start_video(str(raw), str(tmp_path / "out"), tuple(OPTIONS.items()), 1, 1.0, 0.5)
    assert "no keyframe" in entry["notice"] and "plan" not in entry and "error" not in entry
    assert len(timeline(tmp_path / "out" / entry["outputs"][0])) > 0


class _Events(Sink):
    """A sink that notes each segment's first frame written, beside the arrivals noted by the test."""

    def __init__(self, plan, events):
        self.plan, self.events = plan, events

    def add(self, result):
        n = next(s.index for s in self.plan.segments if s.owns(result.timestamp))
        if ("written", n) not in self.events:
            self.events.append(("written", n))


def test_segments_are_written_as_they_arrive_in_time_order(lecture, tmp_path):
    """Segments finishing in any order: each is stitched and written as soon as those before it are in,
    not after the last one; a failed one leaves its stretch out and the rest go on."""
    plan = plan_video(lecture, 3.0, BatchSettings.overlap_seconds)
    options = tuple(sorted(OPTIONS.items()))
    outcomes = {n: analyze_segment(str(lecture), plan, n, options, 1) for n in range(len(plan.segments))}
    outcomes[2] = SegmentFailure("decoding failed")
    order = iter([1, 0, 3, 2])
    events = []
    video = SegmentedVideo(str(lecture), plan, tmp_path / "rows", key={})

    def arrive():
        n = next(order)
        events.append(("arrived", n))
        video.take(n, outcomes[n])

    video.write([_Events(plan, events), TimelineFile(tmp_path / "t.csv")], every=1, arrive=arrive)
    assert events == [("arrived", 1), ("arrived", 0), ("written", 0), ("written", 1), ("arrived", 3),
                      ("arrived", 2), ("written", 3)]
    assert video.missing == [f"{plan.span(2)}: decoding failed"]
    assert len(timeline(tmp_path / "t.csv")) > 0


@pytest.mark.parametrize("changed_segment", [0, 2])
def test_a_segment_that_finds_the_file_changed_stops_the_write(lecture, tmp_path, changed_segment):
    """The write stops where the change is found: what was written before holds only segments of the file
    as planned (as an interrupted run's outputs do), never a segment of the changed file."""
    plan = plan_video(lecture, 3.0, BatchSettings.overlap_seconds)
    options = tuple(sorted(OPTIONS.items()))
    video = SegmentedVideo(str(lecture), plan, tmp_path / "rows", key={})
    changed = SegmentFailure("the file changed while it was being analysed", changed=True)
    arrivals = iter(range(len(plan.segments)))

    def arrive():
        n = next(arrivals)
        video.take(n, changed if n == changed_segment else analyze_segment(str(lecture), plan, n, options, 1))

    with pytest.raises(InputError, match="changed while it was being analysed"):
        video.write([TimelineFile(tmp_path / "t.csv")], every=1, arrive=arrive)
    written = timeline(tmp_path / "t.csv") if (tmp_path / "t.csv").exists() else []
    start = plan.segments[changed_segment].start
    assert all(float(row["time"]) < start for row in written)
    assert bool(written) == (changed_segment > 0)


def test_writing_before_every_segment_is_in_needs_a_way_to_wait(lecture, tmp_path):
    video = SegmentedVideo(str(lecture), plan_video(lecture, 3.0, BatchSettings.overlap_seconds), tmp_path, key={})
    with pytest.raises(ValueError, match="segment 0 is not in yet"):
        video.write([TimelineFile(tmp_path / "t.csv")], every=1)
