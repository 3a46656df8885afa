import json

import cv2
import numpy as np
import pytest

from emoscope import EMOTIONS, Analyzer, InputError, ModelNotFoundError
from emoscope.classification import EmotionClassifier
from emoscope.models import EMOTION_MODELS
from emoscope.settings import StreamSettings
from emoscope.stream_step import StreamStep
from conftest import EXAMPLE


def test_example_photo_gives_one_face_with_probabilities(analyzer_haar):
    result = analyzer_haar.analyze(EXAMPLE)
    assert (result.width, result.height) == (512, 512) and len(result.faces) == 1
    face = result.faces[0]
    assert set(face.probabilities) >= set(EMOTIONS)
    assert sum(face.probabilities.values()) == pytest.approx(1, abs=1e-4)
    assert set(result.timings_ms) == {"detect", "align", "classify", "total"}


def test_same_input_same_output(analyzer_haar):
    first = analyzer_haar.analyze(EXAMPLE).to_dict()
    second = analyzer_haar.analyze(EXAMPLE).to_dict()
    first.pop("timings_ms"), second.pop("timings_ms")
    assert first == second


def test_arrays_pil_and_paths_agree(analyzer_haar, example_image):
    PIL = pytest.importorskip("PIL.Image")
    from_path = analyzer_haar.analyze(EXAMPLE).faces[0]
    from_array = analyzer_haar.analyze(example_image).faces[0]
    from_pil = analyzer_haar.analyze(PIL.open(EXAMPLE)).faces[0]
    assert from_path.probabilities == from_array.probabilities == from_pil.probabilities


@pytest.mark.parametrize("convert", [
    lambda img: cv2.cvtColor(img, cv2.COLOR_BGR2GRAY),
    lambda img: cv2.cvtColor(img, cv2.COLOR_BGR2BGRA),
    lambda img: img.astype(np.uint16) * 257,
])
def test_other_layouts_find_the_same_face(analyzer_haar, example_image, convert):
    assert len(analyzer_haar.analyze(convert(example_image)).faces) == 1


def test_tiny_and_blank_images_have_no_faces(analyzer_haar):
    assert analyzer_haar.analyze(np.zeros((1, 1, 3), np.uint8)).faces == []
    assert analyzer_haar.analyze(np.full((480, 640, 3), 127, np.uint8)).faces == []


def test_analyze_many_reports_a_bad_file_and_goes_on(analyzer_haar, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"<html>")
    results = list(analyzer_haar.analyze_many([EXAMPLE, bad, EXAMPLE]))
    assert [len(r.faces) for r in results] == [1, 0, 1]
    assert results[1].error and "not a readable image" in results[1].error
    with pytest.raises(InputError):
        list(analyzer_haar.analyze_many([bad], on_error="raise"))


def test_yunet_pipeline_gives_landmarks_and_json(yunet_path):
    result = Analyzer("yunet", detector_model=yunet_path).analyze(EXAMPLE)
    data = json.loads(json.dumps(result.to_dict()))
    assert len(data["faces"]) == 1 and len(data["faces"][0]["landmarks"]) == 5


def test_real_photos_find_their_faces(data_dir, yunet_path):
    analyzer = Analyzer("yunet")
    assert len(analyzer.analyze(data_dir / "faces" / "2008_001322.jpg").faces) == 3
    assert analyzer.analyze(data_dir / "faces" / "dogs.jpg").faces == []


def test_stream_gives_stable_ids_and_smoothed_probabilities(analyzer_haar, example_image):
    frames = [np.roll(example_image, shift, axis=1) for shift in range(0, 40, 4)]
    results = list(analyzer_haar.stream(frames, fps=25, settings=StreamSettings(smooth=3)))
    assert [r.index for r in results] == list(range(10)) and results[1].timestamp == pytest.approx(0.04)
    assert all(len(r.faces) == 1 and r.faces[0].track_id == 1 for r in results)
    face = results[-1].faces[0]
    assert sum(face.probabilities.values()) == pytest.approx(1, abs=1e-4)
    assert set(face.raw_probabilities) == set(face.probabilities)
    data = results[-1].to_dict()
    assert data["time"] == pytest.approx(0.36)
    assert data["frame"] == 9 and data["faces"][0]["track_id"] == 1 and "raw_probabilities" in data["faces"][0]


def test_stream_is_a_loop_over_one_stream_step(analyzer_haar, example_image):
    frames = [np.roll(example_image, shift, axis=1) for shift in range(0, 20, 4)]
    step = analyzer_haar.open_stream(StreamSettings(smooth=3), fps=10)
    stepped = [step.process(frame) for frame in frames]
    streamed = list(analyzer_haar.stream(frames, fps=10, settings=StreamSettings(smooth=3)))
    assert [r.to_dict() | {"timings_ms": {}} for r in stepped] == [r.to_dict() | {"timings_ms": {}} for r in streamed]
    assert stepped[2].timestamp == pytest.approx(0.2) and step.process(frames[0], 7.5, 99).index == 99
    assert set(stepped[0].timings_ms) == {"detect", "align", "classify", "track", "total"}


def test_a_face_seen_again_after_a_scene_cut_is_recognised_by_its_look(analyzer_haar, example_image, monkeypatch):
    cut_seen = []
    step = analyzer_haar.open_stream(StreamSettings(detect_every=1))
    update = step.tracker.update
    monkeypatch.setattr(step.tracker, "update",
                        lambda boxes, looks, cut, frame: cut_seen.append(cut) or update(boxes, looks, cut, frame))
    darker = (example_image * 0.6).astype(np.uint8)  # another shot: other lighting
    ids = [face.track_id for frame in (example_image, example_image, darker, darker) for face in step.process(frame).faces]
    assert cut_seen == [False, False, True, False] and ids == [1, 1, 1, 1]


def test_a_segment_detects_at_full_size_on_the_frames_a_whole_run_does(analyzer_haar, example_image, monkeypatch):
    """Full-size detections fall in stretches counted from the stream's start, so a long video's segment,
    started part-way with ``frames_before``, shrinks and enlarges its copies on the frames a whole run does."""
    full = []
    detect = StreamStep.detect
    monkeypatch.setattr(StreamStep, "detect", lambda step, work, detector=None:
                        (full.append(work.ordinal) if work.scale == 1.0 else None) or detect(step, work, detector))
    settings = StreamSettings(detect_face_px=40, full_detect_every=10, detect_every=1)
    frames = [np.roll(example_image, shift, axis=1) for shift in range(45)]
    whole = analyzer_haar.open_stream(settings)
    for frame in frames:
        whole.process(frame)
    whole_full, full[:] = list(full), []
    segment = analyzer_haar.open_stream(settings, frames_before=17)
    for frame in frames[17:]:
        segment.process(frame)
    assert whole_full == [0, 10, 20, 30, 40] and full == [17, 20, 30, 40]   # its first frame, then as the whole run


def test_detect_every_n_follows_faces_between_detector_runs(analyzer_haar, example_image, monkeypatch):
    calls = []
    detect = StreamStep.detect
    monkeypatch.setattr(StreamStep, "detect", lambda step, work, detector=None: calls.append(work.index) or
                        detect(step, work, detector))
    frames = [np.roll(example_image, shift, axis=1) for shift in range(0, 36, 3)]
    results = list(analyzer_haar.stream(frames, settings=StreamSettings(detect_every=4, scene_cut=1.0)))
    assert sorted(calls) == [0, 4, 8]
    assert all(len(r.faces) == 1 and r.faces[0].track_id == 1 for r in results)
    followed, detected = results[5].faces[0].box, results[4].faces[0].box
    assert followed[0] > detected[0]  # moved right with the face between detector runs


def test_by_default_photos_get_the_accurate_model_and_streams_the_fast_one(example_image):
    auto, fast, accurate = Analyzer("haar"), Analyzer("haar", "fast"), Analyzer("haar", "accurate")
    assert auto.photo_classifier.path.name == EMOTION_MODELS["accurate"]
    assert auto.stream_classifier.path.name == EMOTION_MODELS["fast"]
    def photo(analyzer):
        return analyzer.analyze(example_image).faces[0].probabilities
    assert photo(auto) == photo(accurate) != photo(fast)

    def raw(analyzer):
        return [face.raw_probabilities for result in analyzer.stream([example_image] * 3) for face in result.faces]
    assert raw(auto) == raw(fast) != raw(accurate)


def test_a_model_named_serves_photos_and_streams_and_a_missing_one_fails_at_once(tmp_path):
    fast = Analyzer("haar", "fast")
    assert fast.photo_classifier is fast.stream_classifier
    with pytest.raises(ModelNotFoundError, match="missing.onnx"):
        Analyzer("haar", tmp_path / "missing.onnx")


def test_on_auto_a_stream_loads_only_the_fast_model_and_a_photo_only_the_accurate_one(example_image, monkeypatch):
    from emoscope import pipeline

    loaded = []

    def recording(model, **kwargs):
        loaded.append(model)
        return EmotionClassifier(model, **kwargs)
    monkeypatch.setattr(pipeline, "EmotionClassifier", recording)
    streaming = Analyzer("haar")
    assert loaded == [] and len(list(streaming.stream([example_image] * 2))) == 2 and loaded == ["fast"]
    Analyzer("haar").analyze(example_image)
    assert loaded == ["fast", "accurate"]
