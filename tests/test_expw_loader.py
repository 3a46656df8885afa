"""The ExpW layout (class folders + faces.csv with each face box) on small folders written here."""
import warnings

import cv2
import numpy as np
import pytest
from conftest import face_image, tiny_model, write_face_table

from emoscope.align import crop_face
from emoscope.classification import read_model_info
from emoscope.data import DATASET_KINDS, DatasetError, load_split, load_train_val
from emoscope.data.face_table import load_face_table
from emoscope.labels import EMOTIONS
from emoscope.models import CropSpec

BOX = (8.0, 6.0, 24.0, 24.0)
SPEC = CropSpec(margin=0.05, shift_y=-0.05, align_eyes=True)


def faces(split="test", folders=("happy", "sad", "angry"), **extra):
    return [{"split": split, "folder": folder, "name": f"{split}_{folder}_{i}", "box": BOX, **extra}
            for i, folder in enumerate(folders)]


def as_pipeline_reads(path):
    """A colour file as a gray model's pipeline sees it: decoded in colour, then converted."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)


def load_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a clean folder gives no warning
        return load_face_table(*args, **kwargs)


def test_each_face_is_cut_by_the_model_crop_rule_around_its_box(tmp_path):
    root = write_face_table(tmp_path, faces() + faces("train", ("fear", "neutral")))
    test = load_quietly(root, "test", SPEC, 32)
    assert "expw" in DATASET_KINDS
    assert test.images.shape == (3, 32, 32) and test.name == f"{root.name}/test"
    assert [EMOTIONS[i] for i in test.hard_labels] == ["happy", "sad", "angry"]
    assert [EMOTIONS[i] for i in load_quietly(root, "train", SPEC, 32).hard_labels] == ["fear", "neutral"]
    gray = as_pipeline_reads(root / "test/happy/test_happy_0.jpg")
    np.testing.assert_array_equal(test.images[0], crop_face(gray, BOX, None, SPEC, (32, 32)))
    # the face fills the crop as the detector's box does in the pipeline: margin 0 shows the box alone
    tight = load_quietly(root, "test", CropSpec(margin=0.0, shift_y=0.0), 24)
    assert tight.images[:, 2:-2, 2:-2].min() > 120


def test_expw_kind_frames_like_the_bundled_model_by_default_and_like_a_given_model(tmp_path):
    root = write_face_table(tmp_path, faces() + faces("val"))
    info = read_model_info()
    default = load_split("expw", root, "test")
    assert default.images.shape[1:] == tuple(info.input_size)
    gray = as_pipeline_reads(root / "test/sad/test_sad_1.jpg")
    np.testing.assert_array_equal(default.images[1], crop_face(gray, BOX, None, info.crop, info.input_size))
    assert load_split("expw", root, "test", crop=SPEC, size=20).images.shape == (3, 20, 20)
    # the folder kind reads faces.csv where there is one (not the whole crop, resized)
    np.testing.assert_array_equal(load_split("folder", root, "test").images, default.images)
    write_face_table(tmp_path / "both", faces("train") + faces("val"))
    train, val = load_train_val("expw", tmp_path / "both", crop=SPEC, size=20)
    assert len(train) == 3 and len(val) == 3


@pytest.mark.parametrize("bad, message", [
    ({"folder": "bored"}, "unknown class folder 'bored'"),
    ({"write": False}, "named in faces.csv but missing"),
    ({"box": (30.0, 6.0, 24.0, 24.0)}, "lies outside the 40x40 image"),
    ({"box": (8.0, 6.0, 0.0, 24.0)}, "lies outside the 40x40 image"),
    ({"emotion": "happy", "folder": "sad"}, "faces.csv says 'happy', its folder 'sad'"),
])
def test_a_bad_row_fails_naming_its_file_or_is_skipped_with_a_counted_warning(tmp_path, bad, message):
    odd = [{"split": "test", "folder": "happy", "name": f"odd{i}", "box": BOX, **bad} for i in range(2)]
    root = write_face_table(tmp_path, faces() + odd)
    with pytest.raises(DatasetError, match=f"odd0.jpg: .*{message}"):
        load_face_table(root, "test", SPEC, 32)
    with pytest.warns(UserWarning, match=f"faces.csv: 2 .* skipped; the first: .*odd0.jpg: .*{message}"):
        assert len(load_face_table(root, "test", SPEC, 32, on_error="skip")) == 3


def test_mixed_grey_and_colour_images_are_all_read_as_grey_with_one_counted_warning(tmp_path):
    root = write_face_table(tmp_path, faces(folders=("happy",) * 4) + [
        {"split": "test", "folder": "sad", "name": "grey", "box": BOX, "colour": False}])
    assert cv2.imread(str(root / "test/sad/grey.jpg"), cv2.IMREAD_UNCHANGED).ndim == 2
    with pytest.warns(UserWarning, match=r"1 of 5 images are grey and the rest colour \(e.g. test/sad/grey.jpg\)"):
        data = load_face_table(root, "test", SPEC, 32)
    assert data.images.shape == (5, 32, 32) and data.images.dtype == np.uint8


def test_images_the_table_leaves_out_are_counted_and_a_table_without_boxes_is_refused(tmp_path):
    root = write_face_table(tmp_path, faces())
    cv2.imwrite(str(root / "test/happy/stray.jpg"), face_image(BOX))
    with pytest.warns(UserWarning, match=r"1 images have no row in faces.csv and are left out \(e.g. test/happy/stray.jpg\)"):
        assert len(load_face_table(root, "test", SPEC, 32)) == 3
    with pytest.raises(DatasetError, match="no rows for split 'val'"):
        load_face_table(root, "val", SPEC, 32)
    (root / "faces.csv").write_text("file,split\ntest/happy/test_happy_0.jpg,test\n")
    with pytest.raises(DatasetError, match="lacks the column.*h, w, x, y"):
        load_face_table(root, "test", SPEC, 32)


def test_evaluate_reads_expw_framed_by_the_evaluated_model(tmp_path):
    from emoscope.evaluation.run import evaluate_model

    root = write_face_table(tmp_path / "expw", faces() + faces("val"))
    report = evaluate_model(tiny_model(tmp_path / "m.onnx"), "expw", root, "test", tmp_path / "report")
    metrics = report.data["metrics"]
    assert report.data["images"] == 3 and 0 <= metrics["balanced_accuracy"] <= 1
    assert sum(metrics["predicted_share"].values()) == pytest.approx(1) and metrics["true_share"]["happy"] == pytest.approx(1 / 3)
    assert report.data["temperature_scaling"]["fitted_on"] == "expw:val"
    assert "balanced accuracy" in (tmp_path / "report" / "report.md").read_text()


def test_train_cuts_the_faces_of_photos_at_the_input_size_of_the_architecture_it_trains(tmp_path, monkeypatch):
    """`train --also expw:PATH --arch mobilenet_v2_96` cuts each face at 96 px, not at the bundled model's 64
    and enlarged afterwards (which would throw away the detail a larger input is for)."""
    pytest.importorskip("torch")
    from emoscope import cli
    from emoscope.training import trainer

    root = write_face_table(tmp_path / "expw", faces("train") + faces("val"), size=112)
    seen = {}
    monkeypatch.setattr(trainer, "train", lambda config, train_set, val_set, out, restart: seen.update(
        config=config, train_set=train_set) or out)
    code = cli.main(["train", "--dataset", "expw", "--data", str(root), "--also", f"expw:{root}",
                     "--arch", "mobilenet_v2_96", "--out", str(tmp_path / "run")])
    info = read_model_info()
    expected = load_split("expw", root, "train", crop=info.crop, size=96).images
    assert code == 0 and seen["config"].arch == "mobilenet_v2_96"
    np.testing.assert_array_equal(seen["train_set"].images, np.concatenate([expected, expected]))
