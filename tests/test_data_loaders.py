"""Every data set layout on small fixtures written here in that layout."""
import gzip

import cv2
import numpy as np
import pytest

from emoscope.data import DatasetError, load_split, load_train_val
from emoscope.data.loaders import (ferplus_target, load_affectnet, load_fer2013, load_ferplus, load_image_folder,
                                   load_rafdb)
from emoscope.labels import EMOTIONS, EMOTIONS_WITH_CONTEMPT

PIXELS = " ".join(["7"] * 2304)


def write_fer2013(path, rows, gz=False):
    text = "emotion,pixels,Usage\n" + "".join(f"{e},{p},{u}\n" for e, p, u in rows)
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


FER_ROWS = [(3, PIXELS, "Training"), (0, PIXELS, "Training"), (6, PIXELS, "PublicTest"), (1, PIXELS, "PrivateTest")]


@pytest.mark.parametrize("gz", [False, True])
def test_fer2013_splits_and_labels(tmp_path, gz):
    path = write_fer2013(tmp_path / ("f.csv.gz" if gz else "f.csv"), FER_ROWS, gz)
    train = load_fer2013(path, "train")
    assert train.images.shape == (2, 48, 48) and train.images[0, 0, 0] == 7
    assert [EMOTIONS[i] for i in train.hard_labels] == ["happy", "angry"]
    assert [EMOTIONS[i] for i in load_fer2013(path, "val").hard_labels] == ["neutral"]
    assert [EMOTIONS[i] for i in load_fer2013(path, "test").hard_labels] == ["disgust"]


@pytest.mark.parametrize("bad_row, message", [
    ("3,1 2 3,Training", "row 2 does not hold 2304"),
    ("9," + PIXELS + ",Training", "row 2 has emotion '9'"),
    ("3," + " ".join(["300"] * 2304) + ",Training", "row 2 does not hold 2304"),
    ("3,Training", "row 2 has 2 fields"),
])
def test_fer2013_malformed_rows_fail_or_skip_by_row(tmp_path, bad_row, message):
    path = tmp_path / "f.csv"
    path.write_text(f"emotion,pixels,Usage\n3,{PIXELS},Training\n{bad_row}\n")
    with pytest.raises(DatasetError, match=message):
        load_fer2013(path, "train", on_error="fail")
    with pytest.warns(UserWarning, match=message):
        assert len(load_fer2013(path, "train", on_error="skip")) == 1


def test_fer2013_empty_split_and_wrong_header(tmp_path):
    path = write_fer2013(tmp_path / "f.csv", FER_ROWS[:1])
    with pytest.raises(DatasetError, match="no rows for split val"):
        load_fer2013(path, "val")
    (tmp_path / "g.csv").write_text("a,b,c\n")
    with pytest.raises(DatasetError, match="expected the header"):
        load_fer2013(tmp_path / "g.csv", "train")


# FER+ votes in the file's column order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
@pytest.mark.parametrize("votes, scheme, labels, expected", [
    ([0, 8, 2, 0, 0, 0, 0, 0, 0, 0], "majority", EMOTIONS_WITH_CONTEMPT, {"happy": 1.0}),
    ([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], "majority", EMOTIONS_WITH_CONTEMPT, None),           # tie dropped
    ([5, 5, 0, 0, 0, 0, 0, 0, 0, 0], "plurality", EMOTIONS_WITH_CONTEMPT, {"neutral": 0.5, "happy": 0.5}),
    ([1, 0, 0, 0, 0, 0, 0, 0, 6, 3], "majority", EMOTIONS_WITH_CONTEMPT, None),           # unknown wins
    ([0, 0, 0, 0, 0, 0, 0, 0, 0, 10], "soft", EMOTIONS_WITH_CONTEMPT, None),              # not a face
    ([6, 0, 0, 2, 0, 0, 0, 0, 2, 0], "soft", EMOTIONS_WITH_CONTEMPT, {"neutral": 0.75, "sad": 0.25}),
    ([1, 0, 0, 0, 0, 0, 0, 7, 2, 0], "majority", EMOTIONS_WITH_CONTEMPT, {"contempt": 1.0}),
    ([1, 0, 0, 0, 0, 0, 0, 7, 2, 0], "majority", EMOTIONS, None),                         # contempt folded away
    ([6, 0, 0, 0, 0, 0, 0, 4, 0, 0], "soft", EMOTIONS, {"neutral": 1.0}),
])
def test_ferplus_targets(votes, scheme, labels, expected):
    target = ferplus_target(np.array(votes, np.float32), scheme, labels)
    if expected is None:
        assert target is None
    else:
        assert {labels[i]: round(float(v), 4) for i, v in enumerate(target) if v} == expected


def test_ferplus_joins_by_row_position(tmp_path):
    fer = write_fer2013(tmp_path / "f.csv", FER_ROWS)
    votes = tmp_path / "v.csv"
    votes.write_text("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
                     "Training,a.png,0,0,9,0,0,0,0,0,1,0\nTraining,,0,0,0,0,0,0,0,0,0,10\n"
                     "PublicTest,c.png,10,0,0,0,0,0,0,0,0,0\nPrivateTest,d.png,0,0,0,0,0,10,0,0,0,0\n")
    train = load_ferplus(fer, votes, "train")
    assert len(train) == 1 and train.labels[train.hard_labels[0]] == "surprise"  # FER2013 said happy; FER+ wins
    assert load_split("ferplus", fer, "test", votes=votes).labels == EMOTIONS  # folded by default in load_split


def test_ferplus_detects_files_out_of_order(tmp_path):
    fer = write_fer2013(tmp_path / "f.csv", FER_ROWS)
    votes = tmp_path / "v.csv"
    votes.write_text("Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
                     + "PublicTest,x,1,0,0,0,0,0,0,0,0,0\n" * 4)
    with pytest.raises(DatasetError, match="out of order"):
        load_ferplus(fer, votes, "train")


def _image(path, value=100, size=(60, 60)):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full(size, value, np.uint8))


def test_image_folder_maps_class_names(tmp_path):
    for folder in ("anger", "Happiness", "sad", "neutral"):
        _image(tmp_path / folder / "1.png")
        _image(tmp_path / folder / "sub" / "2.jpg")
    data = load_image_folder(tmp_path)
    assert data.images.shape == (8, 48, 48)
    assert data.class_counts() == {"angry": 2, "disgust": 0, "fear": 0, "happy": 2, "sad": 2, "surprise": 0, "neutral": 2}


def test_image_folder_unknown_class_and_unreadable_image(tmp_path):
    _image(tmp_path / "happy" / "1.png")
    (tmp_path / "confused").mkdir()
    (tmp_path / "happy" / "2.png").write_bytes(b"nope")
    with pytest.raises(DatasetError, match="unknown class folder 'confused'"):
        load_image_folder(tmp_path)
    with pytest.warns(UserWarning):
        assert len(load_image_folder(tmp_path, on_error="skip")) == 1


def test_folder_layout_with_train_and_test_splits(tmp_path):
    for split in ("train", "test"):
        for folder in ("happy", "sad"):
            _image(tmp_path / split / folder / "a.png")
    train, val = load_train_val("folder", tmp_path)
    assert len(train) == 2 and len(val) == 2


def test_folder_without_validation_gets_a_stratified_holdout(tmp_path):
    for folder in ("happy", "sad"):
        for i in range(10):
            _image(tmp_path / folder / f"{i}.png", value=i)
    train, val = load_train_val("folder", tmp_path, seed=1)
    assert len(train) == 18 and sorted(val.hard_labels.tolist()) == [3, 4]
    # a data set added to another one's (train --also) keeps all its faces for training and adds no validation
    train, val = load_train_val("folder", tmp_path, seed=1, holdout=False)
    assert len(train) == 20 and val is None


def test_rafdb_layout(tmp_path):
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text(
        "train_00001.jpg 4\ntrain_00002.jpg 6\ntest_0001.jpg 1\n")
    for stem in ("train_00001", "train_00002", "test_0001"):
        _image(tmp_path / "Image" / "aligned" / f"{stem}_aligned.jpg", size=(100, 100))
    train = load_rafdb(tmp_path, "train")
    assert [train.labels[i] for i in train.hard_labels] == ["happy", "angry"]
    test = load_rafdb(tmp_path, "test")
    assert [test.labels[i] for i in test.hard_labels] == ["surprise"]
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 9\n")
    with pytest.raises(DatasetError, match="line 1"):
        load_rafdb(tmp_path, "train")


def test_affectnet_layout(tmp_path):
    (tmp_path / "annotations").mkdir()
    for name, label in (("1", 1), ("2", 6), ("3", 7), ("4", 9)):
        _image(tmp_path / "images" / f"{name}.jpg")
        np.save(tmp_path / "annotations" / f"{name}_exp.npy", np.array(str(label)).astype(np.int64))
    data = load_affectnet(tmp_path)
    assert [data.labels[i] for i in data.hard_labels] == ["happy", "angry"]  # contempt and 'none' left out
    with_contempt = load_affectnet(tmp_path, with_contempt=True)
    assert "contempt" in [with_contempt.labels[i] for i in with_contempt.hard_labels]
    np.save(tmp_path / "annotations" / "5_exp.npy", np.array(0))
    with pytest.raises(DatasetError, match="no image 5.jpg"):
        load_affectnet(tmp_path)


def test_real_fer2013_counts(data_dir):
    counts = load_fer2013(data_dir / "fer2013" / "fer2013.csv.gz", "test").class_counts()
    assert sum(counts.values()) == 3589 and counts["disgust"] == 55


def test_real_ferplus_majority_counts(data_dir):
    data = load_ferplus(data_dir / "fer2013" / "fer2013.csv.gz", data_dir / "ferplus" / "fer2013new.csv", "test")
    assert data.class_counts() == {"angry": 316, "disgust": 22, "fear": 92, "happy": 909, "sad": 424,
                                   "surprise": 421, "neutral": 1166, "contempt": 26}
