"""The emotion model's labelled face-crop sets, by split, for benchmarks/model_accuracy.py (test),
benchmarks/prior_correction.py and low_light_emotion.py (validation): one definition, so that all read the same faces.

- ``ferplus``: FER+ majority vote, 7 classes (rows whose top vote is tied, contempt, unknown or not-a-face left out);
- ``fer2013``: FER2013's original single-annotator labels;
- ``expw``: ExpW in-the-wild crops, each face cut from its 112x112 crop by the model's own crop rule around
  the labelled box (``emoscope.data.load_split("expw", ...)``), so it reaches the model framed as in the pipeline.

``val`` is FER2013 PublicTest and ExpW val; ``test`` is FER2013 PrivateTest and ExpW test.

JAFFE is split by subject (``JAFFE_SUBJECTS``): posed faces for validation, and held-out ones for test.

The whole-image sets that go through a detector (model_accuracy.py's pipeline sets, crop_framing.py, detection.py's
JAFFE) are read here too, as (BGR image, class index, the face's known box or None), with ``best_match``, the rule
that says which detection is the labelled face.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np

from _data import DATA, require
from _faces import FER_CLOSE_UP_BOX, expw_rows, fer2013_close_up, fer2013_faces
from emoscope.data import load_split
from emoscope.labels import EMOTIONS, canonical_label
from emoscope.tracking import iou_matrix

FER2013 = DATA / "fer2013" / "fer2013.csv.gz"
VOTES = DATA / "ferplus" / "fer2013new.csv"
EXPW = DATA / "expw"
JAFFE = DATA / "jaffe" / "jaffe_128px_png.zip"
JAFFE_SUBJECTS = {"val": ("KA", "KM", "MK", "NM", "UY"), "test": ("KL", "KR", "NA", "TM", "YM")}
"""JAFFE's ten women split in two (every other one, sorted by code), fixed on 2026-12-07 before either half was read:
the first half's posed faces may choose a correction or train a model (benchmarks/jaffe_training_folder.py), the
second half is held out."""
MIN_IOU = 0.3
"""A face found must overlap the face's known box this much to be that face."""

TITLES = {("ferplus", "val"): "FER+ PublicTest, majority, 7 classes", ("fer2013", "val"): "FER2013 PublicTest",
          ("expw", "val"): "ExpW val, crops", ("ferplus", "test"): "FER+ PrivateTest, majority, 7 classes",
          ("fer2013", "test"): "FER2013 PrivateTest", ("expw", "test"): "ExpW test, crops"}


def crop_sets(classifier, split: str) -> dict:
    """name -> FaceDataset of the three crop sets' ``split`` (val or test), in the order above."""
    info = classifier.info
    return {
        "ferplus": load_split("ferplus", require(FER2013), split, votes=require(VOTES), with_contempt=False),
        "fer2013": load_split("fer2013", FER2013, split),
        "expw": load_split("expw", require(EXPW), split, crop=info.crop, size=info.input_size[0]),
    }



def true_classes(classifier, dataset) -> np.ndarray:
    """Each face's true class as an index into the model's labels (a data set may order its labels otherwise)."""
    return np.array([classifier.labels.index(dataset.labels[y]) for y in dataset.hard_labels])

def best_match(boxes, box) -> int | None:
    """Index of the box in ``boxes`` (x, y, w, h) that overlaps ``box`` most, if at IoU >= ``MIN_IOU``; else None."""
    if not len(boxes):
        return None
    overlap = iou_matrix(np.asarray(box, np.float32).reshape(1, 4), np.asarray(boxes, np.float32).reshape(-1, 4))[0]
    best = int(overlap.argmax())
    return best if overlap[best] >= MIN_IOU else None


def expw_images(root: Path, split: str, labels):
    """ExpW crops of a split as (BGR image, class index, the labelled face box in the crop)."""
    for path, box, emotion in expw_rows(root, split):
        yield cv2.imread(str(path), cv2.IMREAD_COLOR), labels.index(canonical_label(emotion)), box.tolist()


def fer2013_close_ups(fer_csv: Path, split: str, labels, limit: int | None = None):
    """FER2013 faces of ``split`` as close-ups (``_faces.fer2013_close_up``; every k-th for ``limit``): (BGR image,
    class index, the face's place in it)."""
    for face, label in fer2013_faces(fer_csv, split, limit):
        yield fer2013_close_up(face), labels.index(EMOTIONS[label]), FER_CLOSE_UP_BOX.tolist()


def jaffe_images(zip_path: Path, labels, split: str | None = None):
    """JAFFE's photos as (BGR image, class index, None), all or those of ``split``'s subjects (``JAFFE_SUBJECTS``);
    the subject and the label are the codes in the name (KA.AN1.39)."""
    with zipfile.ZipFile(zip_path) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".png")):
            subject, code = name.rsplit("/", 1)[-1].split(".")[:2]
            if split is not None and subject not in JAFFE_SUBJECTS[split]:
                continue
            label = canonical_label(code[:2])
            yield cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_COLOR), labels.index(label), None
