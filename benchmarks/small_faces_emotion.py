"""Emotion models on small faces: the crop sets read as they are and shrunk, as the crop of a small face in a photo
reaches the model (the pipeline enlarges it to the model's input).

The three crop sets of a split (FER+ majority, FER2013, ExpW crops; ``_emotion_sets``) are read as they are and with
every crop shrunk by area averaging to each side in ``--sides`` (FER2013's crops are 48 px; ExpW's are cut at the
model's input size), then read as usual. A crop's side is the face's and the crop rule's margin: a 24-px crop holds
a face of about 20 px (the pipeline's default ``--min-face``). Prints balanced accuracy per model and form: the mean
of the three sets, then each set.

Then the same through the whole pipeline (``--pipeline``): each ExpW crop of the split (112 px, its face about 75
px), as cut or shrunk so that its labelled face is ``--face-sides`` px wide, is set in the middle of a 320x240
canvas of its mean colour (under the detector's input size, so the detector sees the face at that size too) and read
as a photo is: the bundled detector finds the faces, and each model reads the crop the pipeline cuts from that
detection (the detection overlapping the labelled face, IoU >= 0.3; every model reads the same detections).
Balanced accuracy, a face not found counting as wrong: not the same setup as ``model_accuracy.py``'s "ExpW test,
pipeline", which reads the crops as they are, without a canvas.

    python benchmarks/small_faces_emotion.py --models fast accurate              # validation crop sets
    python benchmarks/small_faces_emotion.py --models fast candidate.onnx --split test
    python benchmarks/small_faces_emotion.py --models fast accurate --pipeline --split test

Choices are made on ``val``; ``test`` is for measuring a model once chosen.
"""
from __future__ import annotations

import argparse
import dataclasses

import cv2
import numpy as np

from _data import require
from _emotion_sets import EXPW, TITLES, best_match, crop_sets, expw_images, true_classes
from crop_resampling import scored
from emoscope.classification import EmotionClassifier
from emoscope.detection import create_detector
from emoscope.settings import DetectorSettings
from emoscope.errors import ModelNotFoundError
from emoscope.evaluation.metrics import classification_metrics
from emoscope.evaluation.run import dataset_logits

SMALLEST_CROP = 48
""":func:`shrunk` must make every crop smaller: FER2013's are the smallest."""
SIDES = (32, 24)
"""Default px sides of the shrunk crops and of ``--pipeline``'s faces."""
CANVAS = (240, 320)
"""Height and width of the photo a shrunk ExpW face is set in."""
LARGEST_FACE_SIDE = 64
"""``--face-sides`` must shrink ExpW's faces (about 75 px as cut)."""


def shrunk(images: np.ndarray, side: int) -> np.ndarray:
    """Each crop averaged down to ``side`` x ``side`` px."""
    return np.stack([cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA) for image in images])


def balanced_accuracy(classifier: EmotionClassifier, dataset, images) -> float:
    logits = dataset_logits(classifier, dataclasses.replace(dataset, images=images))
    return classification_metrics(true_classes(classifier, dataset), logits.argmax(axis=1),
                                  classifier.labels)["balanced_accuracy"]


def on_canvas(image: np.ndarray, box, face_side: int | None):
    """``image`` shrunk so that ``box``'s longer side is ``face_side`` px (as it is for None), in the middle of a
    ``CANVAS`` of its mean colour; and the box moved with it."""
    scale = 1.0 if face_side is None else face_side / max(box[2], box[3])
    small = image if scale == 1 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.empty((*CANVAS, 3), np.uint8)
    canvas[:] = image.reshape(-1, 3).mean(axis=0)
    top, left = (CANVAS[0] - small.shape[0]) // 2, (CANVAS[1] - small.shape[1]) // 2
    canvas[top: top + small.shape[0], left: left + small.shape[1]] = small
    x, y, w, h = (float(v) * scale for v in box)
    return canvas, [x + left, y + top, w, h]


def pipeline_scores(classifiers, samples, face_side: int | None, detector) -> tuple[int, list[float]]:
    """Faces found, and each model's balanced accuracy over all ``samples`` ((image, emotion name, box); a face not
    found is wrong)."""
    faces = []   # (photo, box or None, landmarks, emotion name), as crop_resampling.scored reads them
    for image, label, box in samples:
        photo, moved = on_canvas(image, box, face_side)
        detections = detector.detect(photo)
        match = best_match(detections.boxes, moved)
        if match is None:
            faces.append((photo, None, None, label))
        else:
            landmarks = None if detections.landmarks is None else detections.landmarks[match]
            faces.append((photo, detections.boxes[match], landmarks, label))
    scores = [scored(classifier, [(*face[:3], classifier.labels.index(face[3])) for face in faces])[1]
              for classifier in classifiers]
    return sum(face[1] is not None for face in faces), scores


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["fast", "accurate"], help="emotion models (names or files)")
    parser.add_argument("--sides", nargs="+", type=int, default=list(SIDES), help="px sides of the shrunk crops "
                        "(default: %(default)s)")
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--pipeline", action="store_true", help="also ExpW photos with small faces through the "
                        "bundled detector and the crop")
    parser.add_argument("--face-sides", nargs="+", type=int, help="px sides of the faces in --pipeline's photos "
                        f"(default: {' '.join(map(str, SIDES))})")
    args = parser.parse_args()
    if args.face_sides and not args.pipeline:
        raise SystemExit("small_faces_emotion.py: --face-sides is for --pipeline")
    face_sides = args.face_sides or list(SIDES)
    smallest_face = DetectorSettings().min_face
    if any(not smallest_face <= side < LARGEST_FACE_SIDE for side in face_sides):
        raise SystemExit(f"small_faces_emotion.py: --face-sides must be from {smallest_face} px (the detector's "
                         f"--min-face) to under {LARGEST_FACE_SIDE} px, so that every face is shrunk and can be found")
    if any(not 8 <= side < SMALLEST_CROP for side in args.sides):
        raise SystemExit(f"small_faces_emotion.py: --sides must be from 8 px to under {SMALLEST_CROP} px (FER2013's "
                         "crops), so that every crop is shrunk")
    try:   # every file checked before the data is read
        classifiers = [(model, EmotionClassifier(model, threads=2)) for model in args.models]
    except ModelNotFoundError as error:
        raise SystemExit(f"small_faces_emotion.py: {error}") from None
    forms = {"as it is": None, **{f"crop {side} px": side for side in args.sides}}
    titles = None
    for model, classifier in classifiers:
        sets = crop_sets(classifier, args.split)
        if titles is None:   # the header once the data is found
            print("| model | " + " | ".join(forms) + " |")
            print("|---" * (1 + len(forms)) + "|")
        titles = [TITLES[name, args.split] for name in sets]
        cells = []
        for side in forms.values():
            by_set = [balanced_accuracy(classifier, dataset, dataset.images if side is None else
                                        shrunk(dataset.images, side))
                      for dataset in sets.values()]
            cells.append(f"{np.mean(by_set):.4f} ({' / '.join(f'{score:.3f}' for score in by_set)})")
        print(f"| {model} | " + " | ".join(cells) + " |", flush=True)
    print(f"balanced accuracy: the mean of the three sets ({' / '.join(titles)})")
    if args.pipeline:
        try:
            detector = create_detector("auto", threads=2)
        except ModelNotFoundError as error:
            raise SystemExit(f"small_faces_emotion.py: {error}") from None
        labels = classifiers[0][1].labels
        samples = [(image, labels[label], box) for image, label, box in expw_images(require(EXPW), args.split, labels)]
        print(f"\nExpW {args.split} crops ({len(samples)}) on a {CANVAS[1]}x{CANVAS[0]} canvas through the bundled "
              "detector, each face at a side of:")
        print("| face | found | " + " | ".join(model for model, _ in classifiers) + " |")
        print("|---" * (2 + len(classifiers)) + "|")
        for side in [None, *face_sides]:
            found, scores = pipeline_scores([classifier for _, classifier in classifiers], samples, side, detector)
            print(f"| {'as cut (about 75 px)' if side is None else f'{side} px'} | {found} | "
                  + " | ".join(f"{score:.4f}" for score in scores) + " |", flush=True)
        print("balanced accuracy over all the faces, a face not found counting as wrong")


if __name__ == "__main__":
    main()
