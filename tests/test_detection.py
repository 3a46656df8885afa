import cv2
import numpy as np
import pytest

from emoscope import InputError, ModelNotFoundError
from emoscope.detection import DetectorSettings, create_detector


@pytest.mark.parametrize("name", ["haar", "yunet"])
def test_detectors_find_the_one_face_in_the_example(name, example_image, request):
    if name == "yunet":
        request.getfixturevalue("yunet_path")
    found = create_detector(name).detect(example_image)
    assert len(found) == 1
    x, y, w, h = found.boxes[0]
    assert 150 < x + w / 2 < 280 and 60 < y + h / 2 < 200  # the astronaut's face, upper middle
    assert (found.landmarks is not None) == (name == "yunet")


@pytest.mark.parametrize("name", ["haar", "yunet"])
def test_blank_images_give_an_empty_result_not_none(name, request):
    if name == "yunet":
        request.getfixturevalue("yunet_path")
    for image in (np.zeros((480, 640, 3), np.uint8), np.zeros((1, 1, 3), np.uint8)):
        found = create_detector(name).detect(image)
        assert found is not None and len(found) == 0


def test_big_images_are_detected_downscaled_and_mapped_back(example_image, yunet_path):
    big = cv2.resize(example_image, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    full = create_detector("yunet", settings=DetectorSettings(max_side=4096)).detect(big)
    scaled = create_detector("yunet", settings=DetectorSettings(max_side=512)).detect(big)
    assert len(full) == len(scaled) == 1
    np.testing.assert_allclose(scaled.boxes[0], full.boxes[0], rtol=0.08, atol=12)
    np.testing.assert_allclose(scaled.landmarks[0], full.landmarks[0], atol=0.08 * full.boxes[0, 2])


def test_min_face_filters_small_faces(example_image, yunet_path):
    assert len(create_detector("yunet", settings=DetectorSettings(min_face=400)).detect(example_image)) == 0


def test_auto_falls_back_to_haar_with_a_notice(monkeypatch, capsys):
    monkeypatch.delenv("EMOSCOPE_MODELS", raising=False)
    assert create_detector("auto").name == "haar"
    assert "emoscope models download yunet" in capsys.readouterr().err


def test_yunet_without_its_model_says_how_to_get_it(monkeypatch):
    monkeypatch.delenv("EMOSCOPE_MODELS", raising=False)
    with pytest.raises(ModelNotFoundError, match="models download yunet"):
        create_detector("yunet")


def test_unknown_detector_and_bad_model_file(tmp_path):
    with pytest.raises(InputError, match="unknown detector"):
        create_detector("mtcnn")
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not onnx")
    with pytest.raises(ModelNotFoundError, match="not a loadable YuNet model"):
        create_detector("yunet", bogus)
