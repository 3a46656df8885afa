from dataclasses import replace

import cv2
import numpy as np
import pytest

from emoscope import InputError, ModelNotFoundError
from emoscope.detection import REGISTRY, DetectorSettings, check_options, create_detector, parse_region
from emoscope.detection.onnx_detector import DetectorInfo, OnnxFaceDetector, brightened, decode, mean_level
from emoscope.settings import StreamSettings
from emoscope.types import Detections


@pytest.mark.parametrize("name", ["emoscope", "haar", "yunet"])
def test_detectors_find_the_one_face_in_the_example(name, example_image, request):
    if name == "yunet":
        request.getfixturevalue("yunet_path")
    found = create_detector(name).detect(example_image)
    assert len(found) == 1
    x, y, w, h = found.boxes[0]
    assert 150 < x + w / 2 < 280 and 60 < y + h / 2 < 200  # the astronaut's face, upper middle
    assert (found.landmarks is not None) == (REGISTRY[name].landmarks != "no")


@pytest.mark.parametrize("name", ["emoscope", "haar", "yunet"])
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


def test_auto_uses_the_bundled_detector_without_network_or_notice(monkeypatch, capsys, caplog):
    monkeypatch.delenv("EMOSCOPE_MODELS", raising=False)
    assert create_detector("auto").name == "emoscope"
    assert create_detector(None).name == "none"
    assert capsys.readouterr().err == "" and caplog.text == ""


def test_auto_takes_a_yunet_file_as_yunet(yunet_path):
    assert create_detector("auto", yunet_path).name == "yunet"


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


def test_another_networks_file_is_refused_when_loaded_not_on_the_first_image(tmp_path):
    onnx = pytest.importorskip("onnx")
    from emoscope.classification import EmotionClassifier
    from emoscope.models import resolve_face_detector

    emotion, bundled = EmotionClassifier().path, resolve_face_detector(None)
    for name, model, error in (("yunet", bundled, "not a loadable YuNet model"),
                               ("yunet", emotion, "not a loadable YuNet model"),
                               ("auto", emotion, "neither an EmoScope face detector nor a YuNet model")):
        with pytest.raises(ModelNotFoundError, match=f"{model.name}: {error}"):
            create_detector(name, model)
    foreign = onnx.load(emotion)     # another network whose metadata is not JSON: still tried as YuNet, then refused
    onnx.helper.set_model_props(foreign, {"author": "Jane", "kind": "other"})
    onnx.save(foreign, tmp_path / "foreign.onnx")
    with pytest.raises(ModelNotFoundError, match="foreign.onnx: neither an EmoScope face detector nor a YuNet model"):
        create_detector("auto", tmp_path / "foreign.onnx")
    broken = onnx.load(bundled)      # ours, with a metadata value that cannot be a size: refused, not taken for YuNet
    next(p for p in broken.metadata_props if p.key == "photo_max_side").value = '"big"'
    onnx.save(broken, tmp_path / "broken.onnx")
    with pytest.raises(ModelNotFoundError, match="broken.onnx: metadata 'photo_max_side' must be a whole number"):
        create_detector("auto", tmp_path / "broken.onnx")


def _outputs(size_hw, faces, landmarks=False):
    """Hand-made model outputs for a ``size_hw`` input: ``faces`` as (stride, row, col, score, l, t, r, b);
    with ``landmarks``, each face's five points sit at offsets (1, 2), (3, 4), ... from its grid point."""
    outputs = []
    for stride in (8, 16, 32):
        points = -(-size_hw[0] // stride) * -(-size_hw[1] // stride)
        scores, boxes = np.zeros((1, points), np.float32), np.zeros((1, points, 4), np.float32)
        offsets = np.zeros((1, points, 10), np.float32)
        cols = -(-size_hw[1] // stride)
        for s, row, col, score, *ltrb in faces:
            if s == stride:
                scores[0, row * cols + col] = score
                boxes[0, row * cols + col] = ltrb
                offsets[0, row * cols + col] = np.arange(1, 11)
        outputs += [scores, boxes, offsets] if landmarks else [scores, boxes]
    return outputs


FACES = [(8, 4, 5, 0.9, 10, 10, 10, 14),       # point (40, 32): box 30, 22, 20 x 24
         (8, 4, 6, 0.8, 18, 10, 2, 14),        # point (48, 32): the same box, weaker -> suppressed
         (32, 2, 3, 0.7, 30, 20, 34, 44),      # point (96, 64): box 66, 44, 64 x 64
         (16, 1, 1, 0.2, 5, 5, 5, 5)]          # below the threshold


def test_decoder_turns_points_and_distances_into_boxes_and_suppresses_overlaps():
    found = decode(_outputs((128, 160), FACES), (8, 16, 32), (128, 160), 0.5, 0.4)
    order = np.argsort(-found.scores)
    np.testing.assert_allclose(found.scores[order], [0.9, 0.7])
    np.testing.assert_allclose(found.boxes[order], [[30, 22, 20, 24], [66, 44, 64, 64]])
    assert found.landmarks is None
    empty = decode(_outputs((64, 64), []), (8, 16, 32), (64, 64), 0.5, 0.4)
    assert empty.boxes.shape == (0, 4)


def test_decoder_places_landmarks_from_their_grid_point():
    found = decode(_outputs((128, 160), FACES, landmarks=True), (8, 16, 32), (128, 160), 0.5, 0.4, landmarks=True)
    order = np.argsort(-found.scores)
    offsets = np.arange(1, 11, dtype=np.float32).reshape(5, 2)
    np.testing.assert_allclose(found.landmarks[order], [offsets + [40, 32], offsets + [96, 64]])
    assert decode(_outputs((64, 64), [], landmarks=True), (8, 16, 32), (64, 64), 0.5, 0.4,
                  landmarks=True).landmarks.shape == (0, 5, 2)
    with pytest.raises(ValueError, match="6 outputs for 3 strides, expected 3 each"):
        decode(_outputs((64, 64), []), (8, 16, 32), (64, 64), 0.5, 0.4, landmarks=True)


def test_the_bundled_detector_gives_five_landmarks_inside_each_face(example_image):
    found = create_detector("auto").detect(example_image)
    assert len(found) >= 1 and found.landmarks is not None
    for (x, y, w, h), points in zip(found.boxes, found.landmarks):
        assert ((points[:, 0] > x) & (points[:, 0] < x + w) & (points[:, 1] > y) & (points[:, 1] < y + h)).all()
        assert points[0, 0] < points[1, 0] and points[3, 0] < points[4, 0]      # eyes, mouth corners in order
        assert points[:2, 1].max() < points[2, 1] < points[3:, 1].min()         # eyes above the nose above the mouth


def test_detector_metadata_round_trip_and_refuses_other_models():
    info = DetectorInfo(score_threshold=0.6, version="1.2", metrics={"recall": 0.9})
    assert DetectorInfo.from_metadata(info.to_metadata()) == info
    with pytest.raises(ModelNotFoundError, match="not an EmoScope face detector"):
        DetectorInfo.from_metadata({"labels": "[]"})
    assert DetectorInfo.from_metadata({**info.to_metadata(), "photo_max_side": "416"}).photo_max_side == 416
    for name, value, what in (("photo_max_side", '"big"', "a whole number of pixels"),
                              ("photo_max_side", "0", "a whole number of pixels"),
                              ("input_max_side", "null", "a whole number of pixels"),
                              ("input_max_side", "320.5", "a whole number of pixels"),
                              ("pad_multiple", "0", "a whole number of pixels"),
                              ("min_face_input", '"ten"', "a size in pixels"),
                              ("score_threshold", "1.5", "a number from 0 to 1"),
                              ("nms_threshold", "null", "a number from 0 to 1"),
                              ("second_look_border", "-0.1", "a share of the photo's side from 0 to 1"),
                              ("second_look_threshold", "1.5", "a number from 0 to 1"),
                              ("dark_level", "300", "a grey level from 0 to 255"),
                              ("strides", "[8, 0]", "a list of whole numbers"), ("strides", "8", "a list of whole")):
        with pytest.raises(ModelNotFoundError, match=f"model: metadata '{name}' must be {what}"):
            DetectorInfo.from_metadata({**info.to_metadata(), name: value})


def test_a_faceless_photo_gets_a_second_look_in_a_grey_frame_and_its_faces_come_back_cut_to_it(monkeypatch):
    detector = create_detector("emoscope", settings=DetectorSettings(min_face=20))
    detector.info = replace(detector.info, second_look_border=0.25, second_look_threshold=0.6)
    looks = []

    def looking(self, image, stream, score_threshold=None, dark_look=True):
        looks.append((image.shape, stream, score_threshold, image[0, 0].tolist(), dark_look))
        if len(looks) % 2:   # the first look at each photo finds only a face under min_face
            return Detections(np.array([[5, 5, 10, 10]], np.float32), np.array([0.9], np.float32),
                              np.full((1, 5, 2), 8, np.float32))
        boxes = np.array([[40, 30, 100, 120], [0, 0, 30, 30]], np.float32)   # in the framed copy
        return Detections(boxes, np.array([0.9, 0.7], np.float32), np.full((2, 5, 2), 60, np.float32))
    monkeypatch.setattr(OnnxFaceDetector, "_detect", looking)
    found = detector.detect(np.zeros((160, 200, 3), np.uint8))
    # a border of 0.25 x 200 = 50 px of the model's pad value; the stricter of the two thresholds; no dark look
    assert looks[1] == ((260, 300, 3), False, max(0.6, detector.score_threshold), [114, 114, 114], False)
    # the first box cut to the photo; the second lies wholly in the border and is dropped
    np.testing.assert_allclose(found.boxes, [[0, 0, 90, 100]])
    np.testing.assert_allclose(found.landmarks, np.full((1, 5, 2), 10))
    assert found.scores.tolist() == [pytest.approx(0.9)]
    looks.clear()
    assert len(detector.detect(np.zeros((160, 200, 3), np.uint8), stream=True)) == 0 and len(looks) == 1
    detector.info = replace(detector.info, second_look_border=0.0)    # a model without one (before 2.3.1)
    looks.clear()
    assert len(detector.detect(np.zeros((160, 200, 3), np.uint8))) == 0 and len(looks) == 1


def test_a_dark_copy_is_also_seen_brightened_and_the_faces_of_both_passes_merged(monkeypatch):
    detector = create_detector("emoscope")
    detector.info = replace(detector.info, dark_level=70.0, second_look_border=0.0)
    levels, shapes = [], []

    def fake_pass(self, small, score_threshold):
        levels.append(mean_level(small))
        shapes.append(small.shape)
        if len(levels) % 2:   # as it is: one face
            return Detections(np.array([[10, 10, 40, 40]], np.float32), np.array([0.9], np.float32),
                              np.zeros((1, 5, 2), np.float32))
        # brightened: the same face again, a little shifted and less sure, and a face the first pass missed
        return Detections(np.array([[12, 11, 40, 40], [150, 100, 60, 60]], np.float32),
                          np.array([0.8, 0.7], np.float32), np.ones((2, 5, 2), np.float32))
    monkeypatch.setattr(OnnxFaceDetector, "_pass", fake_pass)
    found = detector.detect(np.full((240, 320, 3), 30, np.uint8))      # a photo seen at its own size
    assert levels == pytest.approx([30, 110])                           # x 110 / 30
    np.testing.assert_allclose(found.boxes, [[10, 10, 40, 40], [150, 100, 60, 60]])
    assert found.scores.tolist() == pytest.approx([0.9, 0.7]) and found.landmarks[:, 0, 0].tolist() == [0, 1]
    levels.clear()
    shapes.clear()
    found = detector.detect(np.full((640, 960, 3), 30, np.uint8))      # seen at half size: both passes alike
    assert shapes == [(320, 480, 3)] * 2 and levels == pytest.approx([30, 110])
    np.testing.assert_allclose(found.boxes, [[20, 20, 80, 80], [300, 200, 120, 120]])
    levels.clear()
    detector.detect(np.full((240, 320, 3), 20, np.uint8), stream=True)     # a stream's frame too
    assert levels == pytest.approx([20, 80])                            # the gain stops at 4
    levels.clear()
    assert len(detector.detect(np.full((240, 320, 3), 100, np.uint8))) == 1
    assert levels == pytest.approx([100])                               # not dark: one pass
    detector.info = replace(detector.info, dark_level=0.0)              # a model without a dark look (before 2.3.2)
    levels.clear()
    assert len(detector.detect(np.full((240, 320, 3), 30, np.uint8))) == 1 and levels == pytest.approx([30])


def test_the_second_look_is_not_brightened(monkeypatch):
    """Its copy is mostly the grey frame, whose level says nothing of the photo's."""
    detector = create_detector("emoscope")
    detector.info = replace(detector.info, dark_level=100.0, second_look_border=0.25, second_look_threshold=0.6)
    levels = []
    monkeypatch.setattr(OnnxFaceDetector, "_pass", lambda self, small, score_threshold: levels.append(
        mean_level(small)) or Detections.empty(with_landmarks=True))
    assert len(detector.detect(np.full((240, 320, 3), 30, np.uint8))) == 0
    # the photo as it is and brightened; then, framed (240 x 320 in 400 x 480 of grey 114), once
    assert levels == pytest.approx([30, 110, (30 * 240 * 320 + 114 * (400 * 480 - 240 * 320)) / (400 * 480)])


def test_brightening_reads_grey_and_colour_images_and_saturates():
    grey = np.array([[10, 50]], np.uint8)                                # mean 30 -> x 3
    assert mean_level(grey) == pytest.approx(30) and brightened(grey, 90).tolist() == [[30, 150]]
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[..., 1], colour[..., 2] = 20, 70                               # mean over channels 30
    assert mean_level(colour) == pytest.approx(30)
    assert brightened(colour, 200)[0, 0].tolist() == [0, 80, 255]        # x 4 (not 200 / 30); 280 cut at 255
    assert brightened(np.full((2, 2), 200, np.uint8), 110).tolist() == [[200, 200], [200, 200]]   # never darker


def test_a_big_photo_is_framed_at_the_size_the_first_look_saw_and_its_faces_scaled_back(monkeypatch):
    detector = create_detector("emoscope", settings=DetectorSettings(max_side=1280))
    detector.info = replace(detector.info, second_look_border=0.25, second_look_threshold=0.6)
    shapes = []

    def looking(self, image, stream, score_threshold=None, dark_look=True):
        shapes.append(image.shape)
        if len(shapes) == 1:
            return Detections.empty(with_landmarks=True)
        return Detections(np.array([[420, 420, 640, 640]], np.float32), np.array([0.9], np.float32),
                          np.full((1, 5, 2), 740, np.float32))
    monkeypatch.setattr(OnnxFaceDetector, "_detect", looking)
    found = detector.detect(np.zeros((2000, 2560, 3), np.uint8))     # shrunk by 0.5 to 1280 x 1000 first
    # then framed by 0.25 x 1280 = 320 px (1640 x 1920) and kept within max_side: 1093 x 1280 (2/3)
    assert shapes == [(1000, 1280, 3), (1093, 1280, 3)]
    # x: 420 / (2/3) - 320 = 310 -> 620 in the photo, to 1590 - 320 = 1270 -> 2540; y cut at the copy's 1000 -> 2000
    np.testing.assert_allclose(found.boxes, [[620, 620, 1920, 1380]], rtol=1e-5)
    np.testing.assert_allclose(found.landmarks, np.full((1, 5, 2), 1580), rtol=1e-5)


def test_a_big_photo_is_also_seen_at_the_photo_side_for_the_faces_that_fill_it(monkeypatch):
    """The min-face rule keeps a 1280 x 960 photo at 640 px (0.5), where a face filling it is found as parts of
    itself; the look at the photo side (480 px, 0.375) finds it whole, and its smaller faces are left out."""
    detector = create_detector("emoscope", settings=DetectorSettings(min_face=20))
    detector.info = replace(detector.info, photo_max_side=480, min_face_input=10.0, second_look_border=0.0)
    scales = []

    def look(self, image, scale, score_threshold, dark_look=True):
        scales.append(scale)
        if scale == 0.5:   # a part of the big face (inside it) and a small face elsewhere
            return Detections(np.array([[500, 300, 200, 200], [1100, 50, 40, 40]], np.float32),
                              np.array([0.8, 0.7], np.float32), np.zeros((2, 5, 2), np.float32))
        return Detections(np.array([[300, 100, 700, 800], [20, 20, 200, 200]], np.float32),   # 262 and 75 px seen
                          np.array([0.9, 0.6], np.float32), np.zeros((2, 5, 2), np.float32))
    monkeypatch.setattr(OnnxFaceDetector, "_look", look)
    found = detector.detect(np.zeros((960, 1280, 3), np.uint8))
    assert scales == [0.5, 0.375]
    np.testing.assert_allclose(found.boxes, [[300, 100, 700, 800], [1100, 50, 40, 40]])
    scales.clear()
    detector.whole_look_min_face = None                                    # as the detector's tuning measures it
    assert len(detector.detect(np.zeros((960, 1280, 3), np.uint8))) == 2 and scales == [0.5]
    detector.whole_look_min_face = 128
    scales.clear()
    assert len(detector.detect(np.zeros((480, 640, 3), np.uint8))) == 2 and scales == [0.75]   # no rule: one look
    scales.clear()
    detector.detect(np.zeros((960, 1280, 3), np.uint8), stream=True)
    assert scales == [0.5]                                                 # a stream's frame keeps its budget


def test_big_portraits_are_found_whole(data_dir):
    """The first 40 ExpW val crops of faces.csv enlarged 12x (1344 px, the face two thirds of it): with one look
    such portraits are found about 0.70 of the time, with the whole look 0.97 (BENCHMARKS.md, detector 2.3.1)."""
    import csv

    from emoscope.evaluation.detection import assign

    rows = [row for row in csv.DictReader(open(data_dir / "expw" / "faces.csv")) if row["split"] == "val"][:40]
    detector, found = create_detector("emoscope"), 0
    for row in rows:
        image = cv2.imread(str(data_dir / "expw" / row["file"]))
        box = np.array([float(row[k]) for k in "xywh"], np.float32) * 12
        detections = detector.detect(cv2.resize(image, None, fx=12, fy=12, interpolation=cv2.INTER_LINEAR))
        found += bool((assign(box[None], detections.boxes, detections.scores) == 0).any())
    assert found >= 36, found


def test_a_photo_with_a_face_found_gets_no_second_look(monkeypatch, example_image):
    detector = create_detector("emoscope")
    assert detector.info.second_look_border > 0     # the bundled model has one
    looks = []
    detect = OnnxFaceDetector._detect
    monkeypatch.setattr(OnnxFaceDetector, "_detect", lambda self, *args, **options: looks.append(args) or
                        detect(self, *args, **options))
    assert len(detector.detect(example_image)) == 1 and len(looks) == 1


def test_the_second_look_finds_grey_close_ups_the_first_misses(data_dir):
    """FER2013 PublicTest faces as 4x grey close-ups (benchmarks/detection.py's set h, its validation split)."""
    from emoscope.data import load_split

    faces = load_split("fer2013", data_dir / "fer2013" / "fer2013.csv.gz", "val").images[:400]
    close_ups = [cv2.cvtColor(cv2.resize(cv2.copyMakeBorder(face, 24, 24, 24, 24, cv2.BORDER_REPLICATE), (384, 384),
                                         interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR) for face in faces]
    detector = create_detector("emoscope")
    with_second_look = sum(len(detector.detect(image)) > 0 for image in close_ups)
    detector.info = replace(detector.info, second_look_border=0.0)
    first_look_only = sum(len(detector.detect(image)) > 0 for image in close_ups)
    assert with_second_look >= first_look_only + 10, (first_look_only, with_second_look)   # 368 -> 387 measured


def test_the_dark_look_finds_faces_of_photos_at_a_quarter_of_their_levels(data_dir):
    """The 149 WIDER val photos at 0.25 of their levels: faces of at least 24 px found with the bundled detector's
    dark look and without it."""
    from emoscope.data.widerface import load_widerface, read_images
    from emoscope.evaluation.detection import assign

    photos = read_images(load_widerface(data_dir / "widerface", "val"))
    detector = create_detector("emoscope")
    assert detector.info.dark_level > 0     # the bundled model has one

    def found() -> int:
        count = 0
        for image, entry in photos:
            boxes = np.asarray(entry.boxes, np.float32).reshape(-1, 4)
            boxes = boxes[np.sqrt(boxes[:, 2] * boxes[:, 3]) >= 24]
            faces = detector.detect(cv2.convertScaleAbs(image, alpha=0.25))
            count += int((assign(boxes, faces.boxes, faces.scores) >= 0).sum())
        return count
    with_dark_look = found()
    detector.info = replace(detector.info, dark_level=0.0)
    assert with_dark_look >= found() + 20, with_dark_look    # 181 -> 210 of 284 measured


def test_a_photo_is_seen_larger_than_a_stream_frame():
    detector = create_detector("emoscope")
    detector.info = replace(detector.info, input_max_side=320, photo_max_side=416, min_face_input=10.0)
    assert detector.input_scale(300, 400, stream=True) == 0.8     # the frame's budget: 320 px
    assert detector.input_scale(300, 400) == 1.0                  # a photo: up to 416 px, never enlarged
    assert detector.input_scale(480, 640) == 0.65 and detector.input_scale(480, 640, stream=True) == 0.5
    assert detector.input_scale(1200, 1600) == detector.input_scale(1200, 1600, stream=True) == 0.5  # min-face rule
    detector.info = replace(detector.info, photo_max_side=None)   # a model from before photo_max_side
    assert detector.input_scale(300, 400) == 0.8


def test_streams_detect_within_the_frame_budget_and_photos_do_not(monkeypatch, example_image):
    from emoscope import Analyzer

    seen = []
    detect = OnnxFaceDetector._detect
    monkeypatch.setattr(OnnxFaceDetector, "_detect", lambda self, image, stream: seen.append(stream) or
                        detect(self, image, stream))
    analyzer = Analyzer("emoscope", threads=1)
    assert len(analyzer.analyze(example_image).faces) == 1 and seen == [False]
    results = list(analyzer.stream([example_image] * 4, settings=StreamSettings(detect_every=3)))
    assert len(results) == 4 and seen == [False, True, True]     # frames 0 and 3 are detected
    before = len(seen)
    create_detector("emoscope", region=(0, 0, 400, 300)).detect(example_image, stream=True)
    assert seen[before:] == [True]


def test_no_detector_makes_the_whole_image_one_face():
    found = create_detector("none").detect(np.zeros((48, 64, 3), np.uint8))
    np.testing.assert_array_equal(found.boxes, [[0, 0, 64, 48]])


def test_region_limits_detection_and_maps_faces_back(example_image):
    x, y, w, h = 100, 20, 300, 260
    found = create_detector("none", region=(x, y, w, h)).detect(example_image)
    np.testing.assert_array_equal(found.boxes, [[x, y, w, h]])
    inside = create_detector("emoscope", region=(x, y, w, h)).detect(example_image)
    whole = create_detector("emoscope").detect(example_image)
    assert len(inside) == 1
    np.testing.assert_allclose(inside.boxes[0], whole.boxes[0], atol=15)   # the part is seen at another scale
    assert len(create_detector("emoscope", region=(0, 400, 100, 100)).detect(example_image)) == 0
    assert len(create_detector("haar", region=(5000, 5000, 10, 10)).detect(example_image)) == 0


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "0,0,0,10", "-1,0,5,5"])
def test_bad_regions_are_one_clear_error(text):
    with pytest.raises(InputError, match="region"):
        parse_region(text)


def test_analyzer_without_a_detector_classifies_each_image_as_one_face(example_image):
    from emoscope import Analyzer

    face = example_image[40:220, 130:300]
    result = Analyzer(detector=None, threads=1).analyze(face)
    assert len(result.faces) == 1 and result.faces[0].box == (0, 0, face.shape[1], face.shape[0])
    region = Analyzer("none", threads=1, region=(130, 40, 170, 180)).analyze(example_image)
    assert region.faces[0].box == (130, 40, 170, 180)


def test_registry_refuses_unknown_detectors_and_options_they_do_not_take(tmp_path):
    with pytest.raises(InputError, match="unknown detector 'mtcnn'"):
        check_options("mtcnn")
    with pytest.raises(InputError, match="a score threshold does not apply to the haar detector"):
        create_detector("haar", settings=DetectorSettings(score_threshold=0.5))
    with pytest.raises(InputError, match="a detector model file does not apply to the none detector"):
        create_detector(None, tmp_path / "x.onnx")
    assert REGISTRY["yunet"].landmarks == "yes" and not REGISTRY["haar"].score_threshold
    assert check_options("emoscope", 0.5).name == "emoscope"


@pytest.mark.parametrize("command", [["image", "photo.jpg"], ["batch", "photo.jpg", "--out", "results"]])
def test_cli_refuses_a_score_threshold_for_haar_in_one_line(tmp_path, capsys, command):
    from emoscope.cli import main

    cv2.imwrite(str(tmp_path / "photo.jpg"), np.zeros((32, 32, 3), np.uint8))
    command = [str(tmp_path / part) if part in ("photo.jpg", "results") else part for part in command]
    assert main([*command, "--detector", "haar", "--score-threshold", "0.5"]) == 1
    error = capsys.readouterr().err.strip()
    assert error == "emoscope: error: a score threshold does not apply to the haar detector (no calibrated scores)"
    assert not (tmp_path / "results").exists()
