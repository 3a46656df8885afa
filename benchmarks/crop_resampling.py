"""Large faces: the emotion crop averaged down before its warp (``emoscope.align``) against the bare bilinear warp.

A face many times the crop's size (a portrait photo, an HD video frame) shrinks to the model's 64 px in one
bilinear warp by sampling a few of its pixels and skipping the rest: skin, hair and stubble alias into speckle
the model never saw in training. Since 2026-12-07 the crop averages pixel areas first wherever the warp would
shrink by more than 2x. This measures both ways, on the same detections by the bundled detector (the face is the
detection overlapping the known box most, IoU >= 0.3; JAFFE: the most confident; a face not found is wrong):

- validation, where the choice is made: ExpW val crops (566, 112 px, face about 75 px) enlarged k times
  (bicubic), and FER2013 PublicTest faces as close-ups (3,589; each 48-px face padded and upscaled 4x, as
  ``crop_framing.py`` uses them: a 192-px soft grey face);
- test, read once for the record: ExpW test crops (557) and JAFFE (213, 128 px) enlarged alike.

At k = 1 no ExpW or JAFFE face is shrunk by more than 2x, so both ways are the same crop. Enlarged photos are
smoother than real ones of that size (no detail finer than the original's), so real large faces alias more.
Also the median ms per crop (one thread) either way.

    python benchmarks/crop_resampling.py [--factors 1 2 4 8] [--model NAME|FILE] [--no-test]
"""
from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import cv2
import numpy as np

from _data import require
from _emotion_sets import EXPW, FER2013, JAFFE, best_match, expw_images, fer2013_close_ups, jaffe_images
from emoscope import align
from emoscope.classification import EmotionClassifier
from emoscope.detection import create_detector
from emoscope.evaluation.metrics import classification_metrics


@contextmanager
def bare_warp():
    """Crops cut as before 2026-12-07: one bilinear warp whatever the shrink."""
    kept = align._AREA_BEFORE_WARP
    align._AREA_BEFORE_WARP = 0.0
    try:
        yield
    finally:
        align._AREA_BEFORE_WARP = kept


def detected_faces(detector, samples, factor: int):
    """(enlarged image, box, landmarks, label) of each sample, box None where the detector finds no face."""
    faces = []
    for image, label, box in samples:
        big = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC) if factor > 1 else image
        found = detector.detect(big)
        if box is None:
            match = int(np.argmax(found.scores)) if len(found) else None
        else:
            match = best_match(found.boxes, np.asarray(box) * factor)
        if match is None:
            faces.append((big, None, None, label))
        else:
            faces.append((big, found.boxes[match], None if found.landmarks is None else found.landmarks[match], label))
    return faces


def scored(classifier, faces) -> tuple[float, float]:
    """Accuracy and balanced accuracy (a face not found is wrong: answer -1)."""
    crops = [classifier.crop(image, box, landmarks) for image, box, landmarks, _ in faces if box is not None]
    answers = iter(classifier.predict(crops).argmax(1))
    predicted = [-1 if box is None else next(answers) for _, box, _, _ in faces]
    metrics = classification_metrics([label for *_, label in faces], predicted, classifier.labels)
    return metrics["accuracy"], metrics["balanced_accuracy"]


def crop_ms(classifier, faces) -> float:
    """The median ms to cut the crop of a face found."""
    seconds = []
    for image, box, landmarks, _ in faces:
        if box is not None:
            started = time.perf_counter()
            classifier.crop(image, box, landmarks)
            seconds.append(time.perf_counter() - started)
    return 1000 * float(np.median(seconds))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 4, 8], help="enlargements (default 1 2 4 8)")
    parser.add_argument("--model", help="emotion model file or bundled name (default: fast)")
    parser.add_argument("--no-test", action="store_true", help="validation sets only")
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model, threads=1)
    detector = create_detector("auto", threads=1)
    labels = classifier.labels
    sets = {"ExpW val": (list(expw_images(require(EXPW), "val", labels)), args.factors),
            "FER2013 PublicTest close-ups": (list(fer2013_close_ups(require(FER2013), "val", labels)), [1])}
    if not args.no_test:
        sets["ExpW test (test)"] = (list(expw_images(EXPW, "test", labels)), args.factors)
        sets["JAFFE (all 213)"] = ([(image, label, None) for image, label, _ in jaffe_images(require(JAFFE), labels)],
                                   args.factors)
    print(f"model {classifier.path.name} {classifier.info.metadata.get('version', '')}; accuracy / balanced accuracy, "
          "a face not found counting as wrong\n")
    print("| set | enlarged | face px | faces found | area step, then warp | bare warp | ms per crop: area / bare |")
    print("|---|---|---|---|---|---|---|")
    for name, (samples, factors) in sets.items():
        for factor in factors:
            faces = detected_faces(detector, samples, factor)
            boxes = [box for _, box, _, _ in faces if box is not None]
            side = np.median([max(box[2], box[3]) for box in boxes])
            area = (*scored(classifier, faces), crop_ms(classifier, faces))
            with bare_warp():
                bare = (*scored(classifier, faces), crop_ms(classifier, faces))
            print(f"| {name} | {factor}x | {side:.0f} | {len(boxes)} of {len(faces)} | {area[0]:.3f} / {area[1]:.3f} "
                  f"| {bare[0]:.3f} / {bare[1]:.3f} | {area[2]:.3f} / {bare[2]:.3f} |", flush=True)


if __name__ == "__main__":
    main()
