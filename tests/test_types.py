import json

import numpy as np
import pytest

from emoscope import EMOTIONS, Detections, Face, ImageResult


def test_empty_detections_have_consistent_shapes():
    empty = Detections.empty(with_landmarks=True)
    assert len(empty) == 0 and empty.boxes.shape == (0, 4) and empty.landmarks.shape == (0, 5, 2)


@pytest.mark.parametrize("boxes, scores, landmarks", [
    (np.zeros((2, 4)), np.zeros(3), None),
    (np.zeros((2, 4)), np.zeros(2), np.zeros((1, 5, 2))),
])
def test_detections_reject_mismatched_arrays(boxes, scores, landmarks):
    with pytest.raises(ValueError):
        Detections(boxes, scores, landmarks)


def test_select_keeps_rows_together():
    d = Detections(np.arange(12).reshape(3, 4), [0.1, 0.2, 0.3], np.arange(30).reshape(3, 5, 2))
    kept = d.select(np.array([False, True, True]))
    assert kept.scores.tolist() == pytest.approx([0.2, 0.3])
    assert kept.boxes[0].tolist() == [4, 5, 6, 7] and kept.landmarks[0, 0].tolist() == [10, 11]


def test_face_emotion_is_the_most_probable_label():
    probs = dict(zip(EMOTIONS, [0.05, 0.05, 0.1, 0.6, 0.1, 0.05, 0.05]))
    face = Face(box=(1, 2, 3, 4), score=0.9, probabilities=probs)
    assert face.emotion == "happy" and face.confidence == pytest.approx(0.6)


def test_image_result_json_has_the_documented_shape():
    probs = dict(zip(EMOTIONS, [0.1] * 6 + [0.4]))
    face = Face(box=(10.04, 20, 30, 40), score=0.91234, probabilities=probs, landmarks=[(1, 2)] * 5)
    data = json.loads(json.dumps(ImageResult("a.jpg", 640, 480, [face], {"total": 3.14159}).to_dict()))
    assert set(data) == {"path", "width", "height", "faces", "timings_ms"}
    assert set(data["faces"][0]) == {"box", "landmarks", "score", "emotion", "confidence", "probabilities"}
    assert data["faces"][0]["box"] == [10.0, 20.0, 30.0, 40.0]
    assert data["faces"][0]["emotion"] == "neutral" and len(data["faces"][0]["landmarks"]) == 5
    assert data["timings_ms"]["total"] == 3.14


def test_failed_image_result_carries_its_error():
    data = ImageResult("bad.jpg", 0, 0, error="bad.jpg: empty file").to_dict()
    assert data["error"] == "bad.jpg: empty file" and data["faces"] == []
