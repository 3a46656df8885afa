"""The face detector's training side: WIDER FACE labels, augmentation, assignment, a tiny run, export."""
import dataclasses
import json
import logging

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from emoscope.cli import main  # noqa: E402
from emoscope.data import DatasetError  # noqa: E402
from emoscope.data.widerface import load_widerface, part_of, parse_labels, read_images  # noqa: E402
from emoscope.detection import DetectorSettings, OnnxFaceDetector  # noqa: E402
from emoscope.detection.onnx_detector import DetectorInfo  # noqa: E402
from emoscope.training.detector_augment import (DetectorAugment, DetectorSample, close_up, geometric,  # noqa: E402
                                                photometric, tiles)
from emoscope.training.detector_data import TIGHT_CROP_PAD, face_crop_samples, tight_crop_samples  # noqa: E402
from emoscope.training.detector_export import export_detector, max_relative_difference  # noqa: E402
from emoscope.training.detector_loss import assign, detection_loss, grid_points  # noqa: E402
from emoscope.training.detector_model import ExportWrapper, FaceDetectorNet  # noqa: E402
from emoscope.training.detector_selection import Candidate, choose, choose_photo_side  # noqa: E402
from emoscope.training.detector_warm_start import warm_start  # noqa: E402
from emoscope.training.detector_trainer import DetectorTrainConfig, train_detector  # noqa: E402
from emoscope.training.trainer import TrainingError  # noqa: E402

LABELS = """a/one.jpg
2
10 20 30 40 0 0 0 0 0 0
5 5 8 8 2 0 0 1 0 0
a/empty.jpg
0
0 0 0 0 0 0 0 0 0 0
a/zero.jpg
1
50 50 0 12 0 0 0 0 0 0
"""


def test_labels_parse_faces_ignore_regions_and_zero_face_entries(tmp_path, caplog):
    label_file = tmp_path / "gt.txt"
    label_file.write_text(LABELS)
    with caplog.at_level(logging.WARNING):
        one, empty, zero = parse_labels(label_file, tmp_path)
    np.testing.assert_array_equal(one.boxes, [[10, 20, 30, 40]])
    np.testing.assert_array_equal(one.ignore, [[5, 5, 8, 8]])          # flagged invalid
    assert empty.boxes.shape == (0, 4) and empty.ignore.shape == (0, 4)
    assert zero.boxes.shape == (0, 4) and len(zero.ignore) == 1        # zero width: ignored, counted
    assert "1 zero-sized boxes" in caplog.text
    assert one.path == tmp_path / "a" / "one.jpg"


@pytest.mark.parametrize("text, line", [
    ("a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", 2),           # promises 2 boxes, file ends after 1
    ("a.jpg\nmany\n", 2),                                # count is not a number
    ("a.jpg\n1\n1 2 3\n", 3),                            # box line too short
    ("a.jpg\n", 1),                                      # ends before the count
])
def test_malformed_label_files_name_the_file_and_line(tmp_path, text, line):
    label_file = tmp_path / "gt.txt"
    label_file.write_text(text)
    with pytest.raises(DatasetError, match=f"gt.txt:{line}: "):
        parse_labels(label_file, tmp_path)


def test_held_out_split_is_stable_and_about_fifteen_percent():
    names = [f"WIDER_val/images/x/{i}.jpg" for i in range(4000)]
    parts = [part_of(n) for n in names]
    assert parts == [part_of(n) for n in names]
    held = [p != "train" for p in parts]
    assert 0.03 < parts.count("val") / len(names) < 0.07
    assert 0.12 < np.mean(held) < 0.18


def _wider_tree(root, count=6, size=160):
    """A WIDER-format folder of generated photos with drawn faces (see ``face_image``)."""
    rng = np.random.default_rng(1)
    for split in ("train", "val"):
        lines = []
        for i in range(count):
            sample = face_image(rng, size)
            image, boxes = sample.image, sample.boxes
            name = f"0--Gen/{split}_{i}.jpg"
            path = root / f"WIDER_{split}" / "images" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), image)
            lines += [name, str(len(boxes))] + [" ".join(str(int(v)) for v in b) + " 0 0 0 0 0 0" for b in boxes]
        (root / "wider_face_split").mkdir(exist_ok=True)
        (root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt").write_text("\n".join(lines) + "\n")
    return root


def test_loading_clips_boxes_and_drops_those_wholly_outside(tmp_path, caplog):
    root = _wider_tree(tmp_path)
    label = root / "wider_face_split" / "wider_face_train_bbx_gt.txt"
    lines = label.read_text().splitlines()
    lines[1:2] = [str(int(lines[1]) + 2), "150 150 40 40 0 0 0 0 0 0", "500 500 10 10 0 0 0 0 0 0"]
    label.write_text("\n".join(lines) + "\n")
    entries = load_widerface(root, "all")
    assert len(entries) == 12
    with caplog.at_level(logging.WARNING):
        (image, first), *_ = read_images(entries[:1])
    assert "1 WIDER FACE boxes lie wholly outside" in caplog.text
    assert (first.boxes[:, 0] + first.boxes[:, 2]).max() <= 160          # clipped to the 160 px photo
    assert [150, 150, 10, 10] in first.boxes.tolist()
    train, held = load_widerface(root, "train"), load_widerface(root, "held_out")
    assert len(train) + len(held) == 12 and not {e.path for e in train} & {e.path for e in held}


@pytest.mark.parametrize("scale, offset, flip", [(1.0, (0, 0), False), (0.5, (-20, -10), True), (2.0, (60, 40), False),
                                                 (2.5, (140, 115), True)])
def test_geometric_augmentation_moves_boxes_with_the_pixels(scale, offset, flip):
    image = np.zeros((200, 240, 3), np.uint8)
    box = np.array([[60, 50, 64, 48]], np.float32)
    image[50:98, 60:124] = 255
    out = geometric(DetectorSample.of(image, box), np.random.default_rng(0),
                    DetectorAugment(size=160, min_face=4), scale=scale, offset=offset, flip=flip)
    assert out.image.shape == (160, 160, 3) and len(out.boxes) == 1 and len(out.ignore) == 0
    ys, xs = np.nonzero(out.image[..., 0] > 127)
    drawn = [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]
    np.testing.assert_allclose(out.boxes[0], drawn, atol=1.5 if scale < 1 else 0.6)


def test_faces_cut_by_the_crop_or_too_small_become_ignore_regions():
    image = np.zeros((200, 200, 3), np.uint8)
    boxes = np.array([[150, 10, 40, 40], [10, 10, 3, 3], [40, 40, 30, 30]], np.float32)
    out = geometric(DetectorSample.of(image, boxes), np.random.default_rng(0),
                    DetectorAugment(size=160, min_face=6), scale=1.0, offset=(0, 0), flip=False)
    np.testing.assert_array_equal(out.boxes, [[40, 40, 30, 30]])
    assert len(out.ignore) == 2 and out.landmarks.shape == (1, 5, 2)


def _dotted_face(size=200):
    """A grey photo with one white face box and five coloured dots as its landmarks, each dot a
    different channel pattern so it can be found again after any crop or flip."""
    image = np.full((size, size, 3), 60, np.uint8)
    box = np.array([[50, 40, 80, 100]], np.float32)
    image[40:140, 50:130] = 200
    points = np.array([[[70, 75], [110, 75], [90, 100], [75, 120], [105, 120]]], np.float32)
    for (x, y), colour in zip(points[0], [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]):
        cv2.circle(image, (int(x), int(y)), 3, colour, -1)
    return DetectorSample.of(image, box, landmarks=points)


def _dot_centre(image, colour):
    mask = np.all(np.abs(image.astype(int) - colour) < 60, axis=2)
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


@pytest.mark.parametrize("seed", range(6))
def test_close_up_keeps_boxes_and_landmarks_on_the_face_and_swaps_sides_when_flipped(seed):
    rng = np.random.default_rng(seed)
    cfg = DetectorAugment(size=160, fill_range=(0.5, 0.9), max_upscale=4.0, min_face=4)
    out = close_up(_dotted_face(), 0, rng, cfg)
    assert len(out.boxes) == 1
    x, y, w, h = out.boxes[0]
    assert max(w, h) >= 0.5 * 0.5 * 160                      # the face fills about half the crop or more
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
    flipped = out.landmarks[0, 0, 0] > out.landmarks[0, 1, 0]   # never: a flip also swaps right and left
    assert not flipped
    for point, colour in zip(out.landmarks[0], colours):
        inside = 3 <= point[0] < 157 and 3 <= point[1] < 157
        if inside:
            seen = _dot_centre(out.image, colour)
            swapped = _dot_centre(out.image, colours[[1, 0, 2, 4, 3][colours.index(colour)]])
            assert np.linalg.norm(seen - point) < 3 or np.linalg.norm(swapped - point) < 3


def test_flip_swaps_left_and_right_landmarks():
    sample = _dotted_face()
    out = geometric(sample, np.random.default_rng(0), DetectorAugment(size=200, min_face=4), scale=1.0,
                    offset=(0, 0), flip=True)
    expected = sample.landmarks[0][[1, 0, 2, 4, 3]].copy()
    expected[:, 0] = 200 - expected[:, 0]
    np.testing.assert_allclose(out.landmarks[0], expected)
    np.testing.assert_allclose(_dot_centre(out.image, (0, 255, 0)), out.landmarks[0, 0], atol=1.0)


def test_tiles_paste_close_ups_on_a_background():
    rng = np.random.default_rng(2)
    out = tiles([[_dotted_face()]], rng, DetectorAugment(size=320, min_face=4))
    assert out.image.shape == (320, 320, 3) and len(out.boxes) >= 1
    assert len(out.landmarks) == len(out.boxes)
    for x, y, w, h in out.boxes:                          # each tile's face is bright where its box says
        assert out.image[int(y + 0.12 * h), int(x + 0.12 * w)].mean() > 150


def test_a_face_filling_the_whole_input_is_assigned_to_the_coarsest_level():
    points, strides, levels = grid_points((320, 320))
    owner, _ = assign(points, strides, levels, torch.tensor([[0.0, 0.0, 320.0, 320.0]]), torch.zeros((0, 4)))
    assert set(strides[owner == 0].tolist()) == {64.0} and (owner == 0).sum() >= 4


def test_landmark_loss_counts_only_faces_with_landmarks():
    torch.manual_seed(0)
    net = FaceDetectorNet()
    outputs = net.eval()(torch.zeros(1, 3, 64, 64))
    box = torch.tensor([[16.0, 16.0, 32.0, 32.0]])
    unknown = torch.full((1, 5, 2), float("nan"))
    known = torch.tensor([[[24.0, 28.0], [40.0, 28.0], [32.0, 36.0], [26.0, 42.0], [38.0, 42.0]]])
    without = detection_loss(outputs, [(box, torch.zeros((0, 4)), unknown)], (64, 64))
    with_points = detection_loss(outputs, [(box, torch.zeros((0, 4)), known)], (64, 64))
    assert float(without["landmark"]) == 0 and float(with_points["landmark"]) > 0
    assert torch.isfinite(without["loss"]) and float(with_points["loss"]) > float(without["loss"])


def test_face_crop_table_leaves_out_missing_files_and_boxes_outside_their_crop(tmp_path, caplog):
    (tmp_path / "train").mkdir()
    for name in ("a.jpg", "b.jpg"):
        cv2.imwrite(str(tmp_path / "train" / name), np.full((112, 112, 3), 128, np.uint8))
    (tmp_path / "faces.csv").write_text("file,split,x,y,w,h\n"
                                        "train/a.jpg,train,18.7,18.7,74.7,74.7\n"
                                        "train/b.jpg,train,90,90,74.7,74.7\n"
                                        "train/gone.jpg,train,18.7,18.7,74.7,74.7\n"
                                        "train/a.jpg,test,18.7,18.7,74.7,74.7\n")
    with caplog.at_level(logging.WARNING):
        samples = face_crop_samples(tmp_path, "train", None, None)
    assert len(samples) == 1 and np.isnan(samples[0].landmarks).all()
    assert "1 train rows left out (missing or unreadable)" in caplog.text
    assert "1 train rows left out (box outside its crop)" in caplog.text
    with pytest.raises(TrainingError, match="no faces.csv"):
        face_crop_samples(tmp_path / "train", "train", None, None)


class _FixedLabeller:
    """Stands in for YuNet: the same detections for every padded tight crop, as (boxes, landmarks)."""

    def __init__(self, boxes, points):
        self.boxes, self.points = np.float32(boxes).reshape(-1, 4), np.float32(points).reshape(-1, 5, 2)
        self.seen = []

    def detect(self, image, upscale=1):
        self.seen.append(image.shape)
        return self.boxes, self.points


def test_tight_crops_take_yunets_box_cut_to_the_crop_and_leave_out_faces_it_misses(caplog):
    pad = round(48 * TIGHT_CROP_PAD)
    points = np.float32([[15, 20], [33, 20], [24, 30], [17, 38], [31, 38]]) + pad
    # in the padded crop: from 4 px left of the face crop to 6 px inside its right edge, 3 px above its top
    # to 5 px below its bottom
    face = _FixedLabeller([[pad - 4, pad - 3, 46, 56]], points)
    faces = [np.full((48, 48), 100, np.uint8), np.full((48, 48), 50, np.uint8)]
    samples = tight_crop_samples(faces, ["a", "b"], face, None)
    assert len(samples) == 2 and face.seen[0][:2] == (48 + 2 * pad, 48 + 2 * pad)
    np.testing.assert_allclose(samples[0].boxes, [[0, 0, 42, 48]])      # cut to the 48-px crop
    np.testing.assert_allclose(samples[0].landmarks[0], points - pad)
    assert samples[0].image.shape == (48, 48, 3) and samples[1].image[0, 0, 0] == 50
    elsewhere = _FixedLabeller([[0, 0, 20, 20]], points)                # a detection that is not the face
    nothing = _FixedLabeller(np.zeros((0, 4)), np.zeros((0, 5, 2)))
    with caplog.at_level(logging.INFO):
        assert tight_crop_samples(faces, ["a", "b"], elsewhere, None) == []
        assert tight_crop_samples(faces[:1], ["a"], nothing, None) == []
    assert "YuNet labelled 0 of 2; the rest are left out" in caplog.text
    with pytest.raises(TrainingError, match="need YuNet's pseudo-labels"):
        tight_crop_samples(faces, ["a", "b"], None, None)


def test_tight_crop_labels_are_cached_by_key(tmp_path):
    points = np.float32([[15, 20], [33, 20], [24, 30], [17, 38], [31, 38]]) + 24
    labeller = _FixedLabeller([[26, 26, 40, 44]], points)
    faces = [np.full((48, 48), 100, np.uint8)]
    first = tight_crop_samples(faces, ["train/0"], labeller, tmp_path / "labels.npz")
    again = tight_crop_samples(faces, ["train/0"], labeller, tmp_path / "labels.npz")
    assert len(labeller.seen) == 1 and np.array_equal(first[0].boxes, again[0].boxes)
    tight_crop_samples(faces, ["train/1"], labeller, tmp_path / "labels.npz")      # other faces: labelled again
    assert len(labeller.seen) == 2


def test_pseudo_labeller_maps_yunets_findings_in_the_enlarged_copy_back_to_the_image():
    from emoscope.training.detector_data import PseudoLabeller
    from emoscope.types import Detections

    class StubYuNet:
        def detect(self, image):
            self.shape = image.shape
            points = np.float32([[120, 140], [170, 140], [150, 170], [125, 200], [175, 200]])[None]
            return Detections(np.float32([[90, 80, 200, 220]]), np.float32([0.9]), points)

    labeller = PseudoLabeller.__new__(PseudoLabeller)
    labeller._yunet = StubYuNet()
    boxes, points = labeller.detect(np.zeros((96, 96, 3), np.uint8), upscale=4)
    assert labeller._yunet.shape[:2] == (384, 384)
    np.testing.assert_allclose(boxes, [[22.5, 20, 50, 55]])
    np.testing.assert_allclose(points[0, 0], [30, 35])
    # the same through a tight 48-px crop: padded by 24 px, so 24 px less in each coordinate, cut to the crop
    samples = tight_crop_samples([np.zeros((48, 48), np.uint8)], ["k"], labeller, None)
    np.testing.assert_allclose(samples[0].boxes, [[0, 0, 48, 48]])
    np.testing.assert_allclose(samples[0].landmarks[0, 0], [30 - 24, 35 - 24])


class _ThreeLevelExport(torch.nn.Module):
    """What a 1.x detector file holds: scores and box distances of three levels, batch norms folded."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, bgr):
        return tuple(t for score, box, _ in self.net(bgr) for t in (torch.sigmoid(score), box))


def _shipped_detector(net, wrapper, path, side: int) -> torch.Tensor:
    """Give ``net`` running statistics away from 0 and 1, write it to ``path`` as ``wrapper`` exports
    it and return the random photos it saw."""
    torch.manual_seed(0)
    photos = torch.rand(8, 3, side, side) * 255
    net.train()(photos)
    torch.onnx.export(wrapper(net.eval()), (photos[:1],), str(path), input_names=["input"], opset_version=17,
                      dynamo=False)
    _mark_as_detector(path)
    return photos


def _mark_as_detector(path) -> None:
    """Write EmoScope detector metadata into the ONNX file ``path``, as export-detector does."""
    import onnx

    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, DetectorInfo().to_metadata())
    onnx.save(proto, str(path))


def test_warm_start_reproduces_a_three_level_onnx_detector(tmp_path):
    old, path = FaceDetectorNet(strides=(8, 16, 32)), tmp_path / "old.onnx"
    photos = _shipped_detector(old, _ThreeLevelExport, path, 96)
    new = FaceDetectorNet()
    left_new = warm_start(new, path, photos)
    assert any(key.startswith("landmark") for key in left_new) and any(".3." in key for key in left_new)
    with torch.no_grad():
        expected, got = old.eval()(photos[:2]), new.eval()(photos[:2])
    for (score, box, _), (new_score, new_box, _) in zip(expected, got[:3]):
        torch.testing.assert_close(new_score, score, atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(new_box, box, atol=1e-3, rtol=1e-3)
    # the new coarsest level learns: a big face's loss reaches its branch
    big_face = [(torch.tensor([[4.0, 4.0, 88.0, 88.0]]), torch.zeros((0, 4)), torch.full((1, 5, 2), float("nan")))]
    detection_loss(new.train()(photos[:1]), big_face, (96, 96))["loss"].backward()
    for name in ("stage6.0.0.0.weight", "lateral.3.0.weight", "lateral.3.1.weight"):
        assert new.get_parameter(name).grad.abs().sum() > 0, name


def test_warm_start_copies_a_four_level_detector_with_landmarks_whole(tmp_path):
    shipped, path = FaceDetectorNet(), tmp_path / "shipped.onnx"
    photos = _shipped_detector(shipped, ExportWrapper, path, 128)
    continued = FaceDetectorNet()
    assert warm_start(continued, path, photos) == []      # nothing left new
    with torch.no_grad():
        expected, got = shipped.eval()(photos[:2]), continued.eval()(photos[:2])
    assert len(got) == 4
    for want, have in zip(expected, got):
        for a, b in zip(want, have):                      # scores, boxes and landmarks of every level
            torch.testing.assert_close(b, a, atol=1e-3, rtol=1e-3)


def test_warm_start_refuses_a_file_of_another_layout(tmp_path):
    class OneOutput(torch.nn.Module):
        def forward(self, bgr):
            return bgr.mean(dim=1)

    path = tmp_path / "other.onnx"
    torch.onnx.export(OneOutput(), (torch.zeros(1, 3, 32, 32),), str(path), opset_version=17, dynamo=False)
    with pytest.raises(TrainingError, match="other.onnx: not an EmoScope face detector .metadata 'kind' is missing"):
        warm_start(FaceDetectorNet(), path, torch.zeros(1, 3, 32, 32))     # YuNet's file, say
    _mark_as_detector(path)
    with pytest.raises(TrainingError, match="1 outputs"):
        warm_start(FaceDetectorNet(), path, torch.zeros(1, 3, 32, 32))
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(TrainingError, match="broken.onnx: not a readable ONNX detector"):
        warm_start(FaceDetectorNet(), tmp_path / "broken.onnx", torch.zeros(1, 3, 32, 32))


def test_photometric_augmentation_keeps_shape_and_type():
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    config = DetectorAugment(colour=1, gray=1, blur=1, jpeg=1, low_light=1)
    out = photometric(image, np.random.default_rng(0), config)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_low_light_darkens_and_adds_noise_and_draws_nothing_when_off():
    image = np.full((64, 64, 3), 200, np.uint8)
    config = DetectorAugment(colour=0, gray=0, blur=0, jpeg=0, low_light=1, low_light_gain=(0.25, 0.25),
                             low_light_noise=6.0)
    darker = [photometric(image, np.random.default_rng(seed), config).astype(np.float32) for seed in range(8)]
    assert all(abs(d.mean() - 50) < 2 for d in darker)                 # 200 x 0.25, noise about zero
    spread = [d.std() for d in darker]
    assert max(spread) - min(spread) > 1 and max(spread) < 6.5   # sigma drawn from 0 to 6, one per image
    assert (photometric(image, np.random.default_rng(0), dataclasses.replace(config, low_light=0.0)) == image).all()

    class Counting:
        def __init__(self):
            self.generator, self.calls = np.random.default_rng(0), 0

        def __getattr__(self, name):
            self.calls += 1
            return getattr(self.generator, name)

    off, on = Counting(), Counting()
    photometric(image, off, dataclasses.replace(config, low_light=0.0))
    photometric(image, on, config)
    assert off.calls == 4 and on.calls > 4   # off: one draw per other chance, as before it existed


def test_assignment_picks_the_level_by_face_size_and_respects_ignore_regions():
    points, strides, levels = grid_points((128, 128))
    boxes = torch.tensor([[40.0, 40.0, 16.0, 16.0], [10.0, 10.0, 100.0, 100.0]])
    ignore = torch.tensor([[100.0, 0.0, 28.0, 20.0]])
    owner, _ = assign(points, strides, levels, boxes, ignore)
    assert set(strides[owner == 0].tolist()) == {8.0}           # 16 px face: stride 8 only
    assert set(strides[owner == 1].tolist()) == {32.0}          # 100 px face: stride 32
    assert (owner == -2).any()
    tiny = torch.tensor([[61.0, 61.0, 4.0, 4.0]])               # smaller than a stride: still one point
    owner, _ = assign(points, strides, levels, tiny, torch.zeros((0, 4)))
    assert (owner == 0).sum() >= 1


def face_image(rng, size=160):
    """A noisy photo with one or two drawn "faces": a skin-coloured ellipse with eyes and a mouth."""
    image = rng.integers(40, 90, (size, size, 3), dtype=np.uint8)
    boxes = []
    for _ in range(rng.integers(1, 3)):
        w = int(rng.integers(24, 60))
        h = int(w * 1.2)
        x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
        cv2.ellipse(image, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, (150, 180, 230), -1)
        for eye in (0.3, 0.7):
            cv2.circle(image, (x + int(eye * w), y + int(0.4 * h)), max(2, w // 10), (30, 30, 30), -1)
        cv2.line(image, (x + w // 3, y + int(0.75 * h)), (x + 2 * w // 3, y + int(0.75 * h)), (40, 40, 120), 2)
        boxes.append((x, y, w, h))
    return DetectorSample.of(image, np.array(boxes, np.float32))


def _recall(detector, seeds) -> float:
    found = total = 0
    for seed in seeds:
        sample = face_image(np.random.default_rng(seed))
        got = detector.detect(sample.image).boxes
        total += len(sample.boxes)
        for x, y, w, h in sample.boxes:
            if len(got):
                iw = np.minimum(x + w, got[:, 0] + got[:, 2]) - np.maximum(x, got[:, 0])
                ih = np.minimum(y + h, got[:, 1] + got[:, 3]) - np.maximum(y, got[:, 1])
                inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
                found += (inter / (w * h + got[:, 2] * got[:, 3] - inter)).max() >= 0.5
    return found / total


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A short training run on generated faces; the exported detector must find them."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    samples = [face_image(rng) for _ in range(48)]
    out = tmp_path_factory.mktemp("run")
    config = DetectorTrainConfig(epochs=30, batch_size=8, size=128, warmup_steps=30, lr=1e-2, log_every=30)
    return train_detector(samples, out, config), samples, config


def test_tiny_training_run_learns_and_exports(tiny_run, tmp_path):
    last, _, _ = tiny_run
    lines = (last.parent / "metrics.jsonl").read_text().splitlines()
    import json
    losses = [json.loads(line)["loss"] for line in lines]
    assert losses[-1] < 0.8 * losses[0]
    onnx_path = export_detector(last, tmp_path / "det.onnx", DetectorInfo(score_threshold=0.3, version="test"))
    assert max_relative_difference(last, onnx_path) < 1e-4
    detector = OnnxFaceDetector(onnx_path, DetectorSettings(min_face=0))
    assert detector.info.version == "test" and detector.info.strides == (8, 16, 32, 64) and detector.info.landmarks
    assert _recall(detector, range(100, 115)) >= 0.7
    found = detector.detect(face_image(np.random.default_rng(100)).image)
    assert found.landmarks is not None and found.landmarks.shape == (len(found), 5, 2)


def test_a_detector_file_whose_outputs_do_not_match_its_metadata_is_refused(tiny_run, tmp_path):
    import onnx

    last, _, _ = tiny_run
    path = export_detector(last, tmp_path / "det.onnx", DetectorInfo(version="test"))
    proto = onnx.load(str(path))
    for entry in proto.metadata_props:
        if entry.key == "landmarks":
            entry.value = "false"
    onnx.save(proto, str(tmp_path / "lying.onnx"))
    from emoscope import ModelNotFoundError
    with pytest.raises(ModelNotFoundError, match="lying.onnx: 12 outputs, but its metadata promises 8"):
        OnnxFaceDetector(tmp_path / "lying.onnx", DetectorSettings())


def test_a_finished_run_resumes_longer_and_refuses_other_settings(tiny_run):
    last, samples, config = tiny_run
    longer = dataclasses.replace(config, epochs=config.epochs + 1)
    train_detector(samples, last.parent, longer)
    assert torch.load(last, weights_only=False)["step"] == (len(samples) // config.batch_size) * longer.epochs
    with pytest.raises(TrainingError, match="another configuration"):
        train_detector(samples, last.parent, dataclasses.replace(longer, lr=0.5))
    # a run written before a setting existed resumes with that setting's default
    config_file = last.parent / "config.json"
    older = json.loads(config_file.read_text())
    del older["tight_crops"]
    config_file.write_text(json.dumps(older))
    train_detector(samples, last.parent, longer)
    with pytest.raises(TrainingError, match="another configuration"):
        config_file.write_text(json.dumps(older))
        train_detector(samples, last.parent, dataclasses.replace(longer, tight_crops="fer2013.csv x 10"))


def test_cli_trains_on_a_wider_format_folder(tmp_path, capsys):
    root = _wider_tree(tmp_path / "wider")
    out = tmp_path / "run"
    assert main(["train-detector", "--data", str(root), "--out", str(out), "--epochs", "1", "--batch-size", "2",
                 "--size", "64", "--low-light", "0.5"]) == 0
    assert (out / "last.pt").is_file() and "training photos" in capsys.readouterr().out
    assert main(["export-detector", str(out / "last.pt"), "--out", str(tmp_path / "d.onnx")]) == 0
    info = OnnxFaceDetector(tmp_path / "d.onnx", DetectorSettings()).info
    assert info.trained_on.startswith("WIDER FACE") and info.photo_side == info.input_max_side == 320
    assert info.second_look_border == info.dark_level == 0    # no second look nor dark look unless asked
    assert json.loads((out / "config.json").read_text())["low_light"] == 0.5
    assert main(["export-detector", str(out / "last.pt"), "--out", str(tmp_path / "p.onnx"), "--input-max-side",
                 "256", "--photo-max-side", "416", "--second-look-border", "0.25", "--second-look-threshold",
                 "0.6", "--dark-level", "70"]) == 0
    info = OnnxFaceDetector(tmp_path / "p.onnx", DetectorSettings()).info
    assert (info.input_max_side, info.photo_max_side) == (256, 416)
    assert (info.second_look_border, info.second_look_threshold, info.dark_level) == (0.25, 0.6, 70.0)
    capsys.readouterr()
    assert main(["export-detector", str(out / "last.pt"), "--out", str(tmp_path / "s.onnx"), "--second-look-border",
                 "0.25"]) == 1   # a border with no threshold of its own would look again and keep nothing
    assert "--second-look-border needs --second-look-threshold" in capsys.readouterr().err
    assert not (tmp_path / "s.onnx").exists()
    capsys.readouterr()
    # the generated tree has no photo in the val part, and no face crops are given: refused in one line
    assert main(["tune-detector", str(tmp_path / "d.onnx"), "--data", str(root), "--sides", "64"]) == 1
    assert capsys.readouterr().err.strip().startswith("emoscope: error: no close-ups to measure")


def test_photos_get_the_best_side_at_the_threshold_chosen_for_frames():
    def candidate(side, threshold, recall, precision, close_up):
        return Candidate(side, threshold, recall, precision, close_up)

    candidates = [candidate(320, 0.40, 0.69, 0.92, 0.945), candidate(320, 0.45, 0.65, 0.966, 0.93),
                  candidate(416, 0.40, 0.72, 0.945, 0.945), candidate(416, 0.45, 0.708, 0.957, 0.93),
                  candidate(512, 0.45, 0.715, 0.936, 0.93)]
    frames = choose([c for c in candidates if c.input_max_side == 320])   # 0.40 falls below the precision floor
    assert (frames.input_max_side, frames.score_threshold) == (320, 0.45)
    assert choose(candidates).score_threshold == 0.40         # what the photos would get at any threshold
    photo = choose_photo_side(candidates, frames, (320, 416, 512))       # 512 falls below the precision floor
    assert (photo.input_max_side, photo.score_threshold) == (416, 0.45)
    assert choose_photo_side(candidates, frames, (320,)) == frames


def test_tune_detector_prints_every_candidate_and_the_choice(tiny_run, tmp_path, capsys):
    last, _, _ = tiny_run
    model = export_detector(last, tmp_path / "det.onnx", DetectorInfo(version="test"))
    root = _wider_tree(tmp_path / "wider")
    for label in root.glob("wider_face_split/*.txt"):       # rename the photos into the val part
        label.write_text(label.read_text().replace("0--Gen/", "0--Gen/d"))
    for photo in root.glob("WIDER_*/images/0--Gen/*.jpg"):
        photo.rename(photo.with_name("d" + photo.name))
    from emoscope.data.widerface import load_widerface as load
    assert load(root, "val"), "no generated photo falls in the val part"
    crops = tmp_path / "crops"
    (crops / "val").mkdir(parents=True)
    sample = face_image(np.random.default_rng(5))
    cv2.imwrite(str(crops / "val" / "a.jpg"), sample.image)
    x, y, w, h = sample.boxes[0]
    (crops / "faces.csv").write_text(f"file,split,x,y,w,h\nval/a.jpg,val,{x},{y},{w},{h}\n")
    assert main(["tune-detector", str(model), "--data", str(root), "--close-ups", str(crops), "--sides", "128",
                 "--photo-sides", "128", "160", "--json", str(tmp_path / "tune.json")]) == 0
    out = capsys.readouterr().out
    rows = out.splitlines()
    assert sum(row.startswith(" 128 ") for row in rows) == sum(row.startswith(" 160 ") for row in rows) == 7
    import json
    choice = json.loads((tmp_path / "tune.json").read_text())
    frames, photos = choice["frames"], choice["photos"]
    assert frames["input_max_side"] == 128 and photos["score_threshold"] == frames["score_threshold"]
    marked = {role: [row for row in rows if "<- chosen" in row and role in row.split("<- chosen")[1]]
              for role in ("frames", "photos")}
    assert [len(found) for found in marked.values()] == [1, 1]
    assert marked["photos"][0].startswith(f" {photos['input_max_side']} ")
    assert f"--input-max-side 128 --photo-max-side {photos['input_max_side']}" in out


def test_training_refuses_an_empty_data_set(tmp_path):
    with pytest.raises(TrainingError, match="no training images"):
        train_detector([], tmp_path)
