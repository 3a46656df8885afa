"""The stream engine: frames overlap on worker threads, and the results stay those of the step, in order."""
import threading

import numpy as np
import pytest

from emoscope.engine import StreamEngine
from emoscope.settings import StreamSettings
from emoscope.stream_step import StreamStep
from emoscope.types import Frame


def moving_frames(image, count=12, step=3):
    return [Frame(i, i / 30, np.roll(image, i * step, axis=1)) for i in range(count)]


def comparable(results):
    return [(r.index, r.timestamp, [(f.box, f.track_id, f.emotion, f.probabilities) for f in r.faces])
            for r in results]


@pytest.mark.parametrize("settings", [StreamSettings(detect_every=1, detect_face_px=None),
                                      StreamSettings(detect_every=3, detect_face_px=None)],
                         ids=["every frame", "every 3rd"])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_engine_gives_what_the_step_gives_frame_by_frame(analyzer_haar, example_image, settings, workers):
    frames = moving_frames(example_image)
    step = analyzer_haar.open_stream(settings)
    expected = comparable(step.process(f.image, f.timestamp, f.index) for f in frames)
    engine = StreamEngine(analyzer_haar.open_stream(settings), analyzer_haar.new_detector, workers)
    assert comparable(engine.run(frames)) == expected


@pytest.mark.parametrize("settings", [StreamSettings(), StreamSettings(detect_face_px=48, full_detect_every=10)],
                         ids=["default", "shrunk detection"])
def test_same_results_whatever_the_number_of_workers(analyzer_haar, example_image, settings):
    frames = moving_frames(example_image, count=40)
    runs = [comparable(StreamEngine(analyzer_haar.open_stream(settings), analyzer_haar.new_detector, workers).run(frames))
            for workers in (1, 2, 3)]
    assert runs[0] == runs[1] == runs[2] and all(len(faces) == 1 for _, _, faces in runs[0])


def test_realtime_finishes_each_frame_before_reading_the_next(analyzer_haar, example_image):
    read, finished = [], []

    def source():
        for frame in moving_frames(example_image, count=5):
            assert len(finished) == len(read)
            read.append(frame.index)
            yield frame

    engine = StreamEngine(analyzer_haar.open_stream(), analyzer_haar.new_detector, 2, ahead=0)
    for result in engine.run(source()):
        finished.append(result.index)
    assert finished == read == list(range(5))


def test_each_thread_detects_with_its_own_detector(analyzer_haar, example_image):
    made = []

    def make_detector():
        made.append(threading.get_ident())
        return analyzer_haar.new_detector()

    engine = StreamEngine(analyzer_haar.open_stream(StreamSettings(detect_every=1)), make_detector, 2)
    list(engine.run(moving_frames(example_image)))
    assert len(made) == len(set(made)) >= 1


def test_stopping_early_leaves_no_work_behind(analyzer_haar, example_image):
    engine = StreamEngine(analyzer_haar.open_stream(), analyzer_haar.new_detector, 2)
    results = engine.run(moving_frames(example_image, count=30))
    first = next(results)
    results.close()
    assert first.index == 0


def test_detection_shrinks_to_the_known_faces_and_goes_full_size_again(analyzer_haar, example_image, monkeypatch):
    scales = []
    detect = StreamStep.detect
    monkeypatch.setattr(StreamStep, "detect", lambda self, work, detector=None: scales.append(work.scale) or
                        detect(self, work, detector))
    step = analyzer_haar.open_stream(StreamSettings(detect_every=1, detect_face_px=48, full_detect_every=4,
                                                    scene_cut=1.0))   # no cut: each is a full-size detection
    for frame in moving_frames(example_image, count=6):
        step.process(frame.image, frame.timestamp, frame.index)
    assert scales[0] == scales[4] == 1.0 and all(scale < 1.0 for scale in scales[1:4] + scales[5:])


def test_big_frames_are_read_at_most_one_ahead(analyzer_haar):
    read, finished, waiting = [], [], []

    def source():
        for i in range(6):
            waiting.append(len(read) - len(finished))
            read.append(i)
            yield Frame(i, i / 30, np.zeros((1080, 1920, 3), np.uint8))   # 6 MB each

    engine = StreamEngine(analyzer_haar.open_stream(StreamSettings(detect_every=1)), analyzer_haar.new_detector, 2)
    for result in engine.run(source()):
        finished.append(result.index)
    assert finished == read and max(waiting) <= 2   # one frame ahead, one being classified
