import json

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from emoscope import EMOTIONS, ModelNotFoundError
from emoscope.align import crop_face
from emoscope.classification import EmotionClassifier
from emoscope.models import ModelInfo

METADATA = {"labels": list(EMOTIONS), "input_size": [48, 48], "channels": 1, "color": "gray", "mean": [0.5],
            "std": [0.25], "crop": {"margin": 0.1, "shift_y": 0.0, "align_eyes": True}, "outputs": "logits"}


def tiny_model(path, metadata=METADATA):
    """A 7-class linear model on 48x48 gray input, built with onnx.helper (no torch needed)."""
    rng = np.random.default_rng(0)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [48 * 48, 7], rng.normal(size=48 * 48 * 7).astype(np.float32) * 0.01)
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 48 * 48])
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["logits"])],
        "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 1, 48, 48])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 7])], [weight, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.save(model, str(path))
    return path


def test_probabilities_sum_to_one_and_batching_does_not_change_them(tmp_path):
    classifier = EmotionClassifier(tiny_model(tmp_path / "m.onnx"))
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(5)]
    together = classifier.predict(crops)
    alone = np.concatenate([classifier.predict([c]) for c in crops])
    np.testing.assert_allclose(together.sum(axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert classifier.predict([]).shape == (0, 7)


def test_preprocessing_follows_the_metadata(tmp_path):
    classifier = EmotionClassifier(tiny_model(tmp_path / "m.onnx"))
    tensor = classifier.to_tensor([np.full((48, 48), 255, np.uint8)])
    assert tensor.shape == (1, 1, 48, 48) and tensor[0, 0, 0, 0] == pytest.approx((1 - 0.5) / 0.25)


def test_the_bundled_model_carries_complete_metadata():
    info = EmotionClassifier().info
    assert set(EMOTIONS) <= set(info.labels)
    assert info.input_size[0] > 0 and info.channels in (1, 3) and info.outputs in ("logits", "probabilities")
    for key in ("version", "trained_on", "metrics"):
        assert key in info.metadata


@pytest.mark.parametrize("drop", ["labels", "crop", "outputs"])
def test_models_without_emoscope_metadata_are_refused(tmp_path, drop):
    metadata = {k: v for k, v in METADATA.items() if k != drop}
    with pytest.raises(ModelNotFoundError, match=drop):
        EmotionClassifier(tiny_model(tmp_path / "m.onnx", metadata))


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such emotion model"):
        EmotionClassifier(tmp_path / "none.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    with pytest.raises(ModelNotFoundError, match="not a loadable ONNX model"):
        EmotionClassifier(tmp_path / "junk.onnx")


def test_model_info_rejects_unknown_colour():
    raw = {k: json.dumps(v) for k, v in {**METADATA, "color": "cmyk"}.items()}
    with pytest.raises(ModelNotFoundError, match="unsupported color"):
        ModelInfo.from_metadata(raw)


def test_the_bundled_model_holds_its_measured_accuracy_on_held_out_splits(data_dir):
    """A regression guard for the shipped weights: PrivateTest was never used to train or choose them
    (MODEL_CARD.md); the floors sit a little under the measured 64.6% / 79.5%."""
    from emoscope.data import load_split
    from emoscope.evaluation.metrics import softmax
    from emoscope.evaluation.run import dataset_logits, to_dataset_labels

    classifier = EmotionClassifier()
    fer = data_dir / "fer2013" / "fer2013.csv.gz"
    for kind, extra, floor in (("fer2013", {}, 0.62),
                               ("ferplus", {"votes": data_dir / "ferplus" / "fer2013new.csv", "with_contempt": False}, 0.77)):
        test = load_split(kind, fer, "test", **extra)
        predicted = to_dataset_labels(softmax(dataset_logits(classifier, test)), classifier.labels, test.labels).argmax(1)
        assert (predicted == test.hard_labels).mean() >= floor, kind


def test_all_faces_of_an_image_are_cropped_into_one_array_and_classified_in_one_call(tmp_path, monkeypatch):
    classifier = EmotionClassifier(tiny_model(tmp_path / "m.onnx"))
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 40, 40], [80, 30, 50, 60], [150, 100, 30, 30]], np.float32)   # the last one half out
    crops = classifier.crops(image, boxes)
    assert crops.shape == (3, 48, 48) and crops.dtype == np.uint8
    for crop, box in zip(crops, boxes):
        expected = crop_face(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), box, None, classifier.info.crop, (48, 48))
        np.testing.assert_array_equal(crop, expected)   # each face's own crop, made apart from the batch
    runs = []
    run = classifier._session.run
    monkeypatch.setattr(classifier._session, "run", lambda *args: runs.append(1) or run(*args))
    assert classifier.predict(crops).shape == (3, 7) and len(runs) == 1
    assert classifier.crops(image, np.zeros((0, 4), np.float32)).shape == (0, 48, 48)
    assert classifier.predict(classifier.crops(image, np.zeros((0, 4), np.float32))).shape == (0, 7)
