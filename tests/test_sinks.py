"""Stream outputs as sinks: paths checked when built, fed by the one stream loop, finished on every exit."""
import json

import numpy as np
import pytest

from emoscope import InputError
from emoscope import sinks as sinks_module
from emoscope.sinks import (ChartFile, ClassViewFile, FrameAnnotator, LiveWindow, Sink, SummaryFile, TimelineFile,
                            VideoRecord)
from emoscope.streaming import run_stream, stream_video_file
from emoscope.web.class_page import ClassReportFile
from conftest import make_clip


class Recorder(Sink):
    """Records what the loop does with it; ``end_after`` frames, it ends the stream."""

    def __init__(self, end_after=None):
        self.end_after, self.results, self.exited = end_after, [], None

    def add(self, result):
        self.results.append(result)

    @property
    def ended(self):
        return self.end_after is not None and len(self.results) >= self.end_after

    def __exit__(self, *exc):
        self.exited = exc[0] or "cleanly"


class FakeViewer:
    def __init__(self, title):
        self.shown, self.closed = [], False

    def show(self, image):
        self.shown.append(image)

    def close(self):
        self.closed = True


@pytest.fixture
def frames(example_image):
    return [np.roll(example_image, shift, axis=1) for shift in range(0, 24, 4)]


@pytest.mark.parametrize("sink, name, message", [
    (VideoRecord, "out.gif", "record {}: must end in .mp4"),
    (TimelineFile, "t.txt", "timeline {}: must end in .csv or .json"),
    (SummaryFile, "s.csv", "summary {}: must end in .json"),
    (ChartFile, "c.svg", "chart {}: must end in .png"),
    (ClassViewFile, "c.html", "class view {}: must end in .json"),
    (ClassReportFile, "r.json", "report {}: must end in .html or .htm"),
    (SummaryFile, "folder.json", "summary {}: is a folder"),
])
def test_file_sinks_check_their_path_when_built(tmp_path, sink, name, message):
    (tmp_path / "folder.json").mkdir()
    path = tmp_path / name
    with pytest.raises(InputError, match=message.format(path).replace(".", r"\.")):
        sink(path)


def test_a_file_sink_names_the_option_it_came_from_and_makes_its_folder(tmp_path):
    with pytest.raises(InputError, match="^--summary "):
        SummaryFile(tmp_path / "s.txt", "--summary")
    SummaryFile(tmp_path / "new" / "deeper" / "s.json")
    assert (tmp_path / "new" / "deeper").is_dir()


def test_every_sink_sees_every_frame_and_the_stream(analyzer_haar, frames):
    sinks = [Recorder(), Recorder()]
    summary = run_stream(analyzer_haar, frames, 10.0, sinks, frames=len(frames), title="lesson")
    assert [len(s.results) for s in sinks] == [len(frames)] * 2 and summary.frames == len(frames)
    assert sinks[0].results[3] is sinks[1].results[3] and [s.exited for s in sinks] == ["cleanly"] * 2
    stream = sinks[0].stream
    assert (stream.labels, stream.fps, stream.frame_interval, stream.frames, stream.title) == \
           (analyzer_haar.stream_classifier.labels, 10.0, 0.1, len(frames), "lesson")


def test_a_sink_that_ends_ends_the_stream(analyzer_haar, frames):
    watcher = Recorder()
    summary = run_stream(analyzer_haar, frames, 10.0, [Recorder(end_after=2), watcher])
    assert summary.frames == len(watcher.results) == 2 and watcher.exited == "cleanly"


def test_sinks_are_finished_when_the_stream_is_interrupted(analyzer_haar, frames, tmp_path):
    def interrupted():
        yield from frames[:3]
        raise KeyboardInterrupt

    recorder = Recorder()
    with pytest.raises(KeyboardInterrupt):
        run_stream(analyzer_haar, interrupted(), 10.0, [recorder, SummaryFile(tmp_path / "s.json")], realtime=True)
    assert recorder.exited is KeyboardInterrupt and len(recorder.results) == 3
    assert json.loads((tmp_path / "s.json").read_text())["frames_processed"] == 3


def test_a_sink_that_cannot_open_closes_those_opened_before(analyzer_haar, frames):
    class Broken(Recorder):
        def open(self, stream):
            raise InputError("cannot open")

    first = Recorder()
    with pytest.raises(InputError, match="cannot open"):
        run_stream(analyzer_haar, frames, 10.0, [first, Broken()])
    assert first.exited is InputError and first.results == []


def test_the_record_and_the_window_share_one_drawing_per_frame(analyzer_haar, frames, tmp_path, monkeypatch):
    pytest.importorskip("av")
    drawn = []
    draw = sinks_module.draw_faces
    monkeypatch.setattr(sinks_module, "draw_faces", lambda *a, **k: drawn.append(1) or draw(*a, **k))
    monkeypatch.setattr("emoscope.viewer.TkViewer", FakeViewer)
    annotator = FrameAnnotator("label")
    window = LiveWindow("test", annotator)
    run_stream(analyzer_haar, frames, 10.0, [VideoRecord(tmp_path / "r.mp4", annotator=annotator), window])
    assert len(drawn) == len(window.viewer.shown) == len(frames) and window.viewer.closed
    assert (tmp_path / "r.mp4").stat().st_size > 1000


def test_closing_the_window_ends_the_stream(analyzer_haar, frames, monkeypatch):
    class ClosedAfterTwo(FakeViewer):
        def show(self, image):
            super().show(image)
            self.closed = len(self.shown) == 2

    monkeypatch.setattr("emoscope.viewer.TkViewer", ClosedAfterTwo)
    assert run_stream(analyzer_haar, frames, 10.0, [LiveWindow()]).frames == 2


@pytest.mark.parametrize("every, frames, fps", [(1, 24, 12.0), (5, 5, 2.4), (24, 1, 0.5), (30, 1, 0.4)])
def test_a_video_file_streams_its_every_nth_frame(analyzer_haar, example_image, tmp_path, every, frames, fps):
    clip = make_clip(tmp_path / "clip.mp4", example_image, audio=True)
    recorder = Recorder()
    summary = stream_video_file(clip, analyzer_haar, [recorder], every=every)
    stream = recorder.stream
    assert (stream.frames, stream.title, stream.audio_from) == (frames, "clip.mp4", clip)
    assert stream.fps == pytest.approx(fps) and summary.frame_interval == pytest.approx(1 / fps)
    assert summary.frames == len(recorder.results) == frames and summary.stopped_at is None
    assert [r.index for r in recorder.results] == list(range(0, 24, every))


def test_a_video_without_audio_gives_the_record_none_and_a_title_may_be_given(analyzer_haar, example_image, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", example_image, frames=4).rename(tmp_path / "upload")  # as web jobs keep it
    recorder = Recorder()
    stream_video_file(clip, analyzer_haar, [recorder], title="lesson.mp4")
    assert (recorder.stream.audio_from, recorder.stream.title) == (None, "lesson.mp4")


def test_the_class_report_is_one_file_with_the_data_inline(analyzer_haar, frames, tmp_path):
    run_stream(analyzer_haar, frames, 10.0, [ClassReportFile(tmp_path / "r.html"), ClassViewFile(tmp_path / "c.json")],
               title="<lesson>")
    page = (tmp_path / "r.html").read_text()
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["title"] == "<lesson>" and data["thumbnails"]
    assert "<title>EmoScope — &lt;lesson&gt;</title>" in page and json.dumps(data["samples"][0]) in page
    assert "import " not in page and "export " not in page and "src=" not in page and 'id="controls"' not in page
