"""Choose the face framing of the emotion crops (margin, vertical shift, eye alignment) for a detector's boxes,
by measuring the whole pipeline (detector -> crop -> classify) on validation faces only:

- FER2013 PublicTest re-detected: each 48x48 face padded by half its side, upscaled 4x (a soft grey close-up),
  found again by the detector and re-cropped; the framing that best reproduces the
  crops the model learnt from scores highest;
- ExpW val through the detector.

In both, the face is the detection that overlaps the face's known box most (IoU >= 0.3).

A face the detector does not find is left out (the same faces for every framing: this compares framings, not
detectors). Prints accuracy and balanced accuracy (mean per-class recall) per framing on both, sorted by the mean
of the two balanced accuracies. No test split is read.

    python benchmarks/crop_framing.py [--model FILE] [--detector emoscope|yunet] [--detector-model FILE]
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools

import cv2
import numpy as np

from _data import DATA, MODELS, require
from _faces import FER_CLOSE_UP_BOX, fer2013_close_up, fer2013_faces
from emoscope.classification import EmotionClassifier
from emoscope.detection import create_detector
from emoscope.evaluation.metrics import classification_metrics
from emoscope.labels import canonical_label
from emoscope.models import CropSpec
from emoscope.tracking import iou_matrix

MIN_IOU = 0.3
"""A face found must overlap the labelled box this much to be that face (as model_accuracy.py)."""
MARGINS = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15)
SHIFTS = (-0.1, -0.05, 0.0, 0.05)


def fer2013_val_faces(detector, limit: int | None):
    """(image, box, landmarks, label index) of each FER2013 PublicTest close-up whose face the detector finds: the
    detection that overlaps the face's place most (IoU >= 0.3)."""
    faces = []
    for face, label in fer2013_faces(require(DATA / "fer2013" / "fer2013.csv.gz"), "val", limit):
        image = fer2013_close_up(face)
        found = _matching(detector.detect(image), FER_CLOSE_UP_BOX)
        if found:
            faces.append((image, *found, label))
    return faces


def _matching(found, box):
    """(box, landmarks or None) of the detection in ``found`` that overlaps ``box`` most, if at IoU >= MIN_IOU."""
    if not len(found):
        return None
    overlap = iou_matrix(np.asarray(box, np.float32)[None], found.boxes)[0]
    best = int(overlap.argmax())
    if overlap[best] < MIN_IOU:
        return None
    return found.boxes[best], None if found.landmarks is None else found.landmarks[best]


def expw_val_faces(detector, labels):
    """(image, box, landmarks, label index) of each ExpW val crop whose labelled face the detector finds."""
    root = require(DATA / "expw")
    with open(root / "faces.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "val"]
    faces = []
    for row in rows:
        image = cv2.imread(str(root / row["file"]), cv2.IMREAD_COLOR)
        found = None if image is None else _matching(detector.detect(image), [float(row[k]) for k in "xywh"])
        if found:
            faces.append((image, *found, labels.index(canonical_label(row["emotion"]))))
    return faces


def scores_per_framing(classifier, faces, framings) -> dict:
    """framing -> (accuracy, balanced accuracy) of the model on ``faces`` cropped with that framing."""
    info = classifier.info
    truth = np.array([t for *_, t in faces])
    scores = {}
    for framing in framings:
        classifier.info = dataclasses.replace(info, crop=CropSpec(*framing))
        crops = [classifier.crop(image, box, marks) for image, box, marks, _ in faces]
        m = classification_metrics(truth, classifier.predict(crops).argmax(1), classifier.labels)
        scores[framing] = (m["accuracy"], m["balanced_accuracy"])
    classifier.info = info
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="ONNX emotion model (default: the bundled one)")
    parser.add_argument("--detector", choices=("emoscope", "yunet"), default="emoscope",
                        help="whose boxes the crops are framed around (default: the bundled detector)")
    parser.add_argument("--detector-model", help="EmoScope detector ONNX file (default: the bundled one)")
    parser.add_argument("--fer-limit", type=int, help="at most this many FER2013 PublicTest faces (every k-th)")
    args = parser.parse_args()
    if args.detector_model and args.detector != "emoscope":
        parser.error("--detector-model is an EmoScope detector file: give it with --detector emoscope")
    if args.detector == "yunet":
        require(MODELS / "yunet")
    detector = create_detector(args.detector, args.detector_model if args.detector == "emoscope" else None)
    classifier = EmotionClassifier(args.model)
    fer = fer2013_val_faces(detector, args.fer_limit)
    expw = expw_val_faces(detector, classifier.labels)
    shipped = dataclasses.astuple(classifier.info.crop)
    version = f" {detector.info.version}" if args.detector == "emoscope" else ""
    where = f" ({args.detector_model})" if args.detector_model else ""
    print(f"boxes: {args.detector}{version}{where}; emotion model "
          f"{classifier.path.name} {classifier.info.metadata.get('version')}, its framing (margin, shift_y, align eyes): {shipped}")
    print(f"FER2013 PublicTest close-ups found: {len(fer)}; ExpW val faces found: {len(expw)}\n")
    framings = list(itertools.product(MARGINS, SHIFTS, (True, False)))
    on_fer, on_expw = scores_per_framing(classifier, fer, framings), scores_per_framing(classifier, expw, framings)
    print("| margin | shift_y | align eyes | FER2013 val close-ups acc / bal | ExpW val acc / bal | mean bal |")
    print("|---|---|---|---|---|---|")
    for framing in sorted(framings, key=lambda f: -(on_fer[f][1] + on_expw[f][1])):
        mark = " (the model's)" if framing == shipped else ""
        print(f"| {framing[0]} | {framing[1]} | {framing[2]}{mark} | {on_fer[framing][0]:.3f} / {on_fer[framing][1]:.3f}"
              f" | {on_expw[framing][0]:.3f} / {on_expw[framing][1]:.3f}"
              f" | {(on_fer[framing][1] + on_expw[framing][1]) / 2:.3f} |")


if __name__ == "__main__":
    main()
