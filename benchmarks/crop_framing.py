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
import dataclasses
import itertools

import numpy as np

from _data import MODELS, require
from _emotion_sets import EXPW, FER2013, best_match, expw_images, fer2013_close_ups
from emoscope.classification import EmotionClassifier
from emoscope.detection import create_detector
from emoscope.evaluation.metrics import classification_metrics
from emoscope.models import CropSpec
MARGINS = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15)
SHIFTS = (-0.1, -0.05, 0.0, 0.05)


def found_faces(detector, samples):
    """(image, box, landmarks or None, label index) of each (image, label index, known box) sample whose face the
    detector finds (``best_match``)."""
    faces = []
    for image, label, box in samples:
        if image is None:
            continue
        found = detector.detect(image)
        match = best_match(found.boxes, box)
        if match is not None:
            landmarks = None if found.landmarks is None else found.landmarks[match]
            faces.append((image, found.boxes[match], landmarks, label))
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
    parser.add_argument("--model", help="ONNX emotion model file or bundled name (default: fast)")
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
    fer = found_faces(detector, fer2013_close_ups(require(FER2013), "val", classifier.labels, args.fer_limit))
    expw = found_faces(detector, expw_images(require(EXPW), "val", classifier.labels))
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
