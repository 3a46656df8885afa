"""Emotion models on dark faces, on validation crops only: how much a dark face costs, and whether brightening the
crop before the model reads it gives that back.

The three validation crop sets (FER+ PublicTest majority, FER2013 PublicTest, ExpW val crops; ``_emotion_sets``)
are read as they are and in each form of ``_faces.LOW_LIGHT`` (levels x0.35; x0.2 with sensor noise, seeded per
crop). Each model reads them in each way named by ``--ways``:

- ``as-is``: as the model reads crops now;
- ``brightened``: a crop whose mean grey level is under ``--below`` is brightened to a mean of 120 (gain at most 4:
  the detector's ``emoscope.detection.onnx_detector.brightened``, which the detector uses with 110) before the model
  reads it (every crop is read again, the bright ones unchanged: a data set is not cut into parts here; once
  for both ways);
- ``both``: such a crop is read as it is and brightened, and the two logits averaged.

Prints balanced accuracy (the mean over the three sets, then each set) per model, way and light, and the share of
crops under ``--below`` (the mean of the three sets' shares).

    python benchmarks/low_light_emotion.py --models fast accurate --below 60

The rule for a way of reading dark crops, fixed before the first run of this script's scratch form (2026-12-07; an
earlier look at the fast model alone had seen brightening lose in the noisy dark): it is adopted if, for both the
fast and the accurate model, the mean balanced accuracy falls by at most 0.002 as they are, rises by at least 0.01
at x0.35 and falls by at most 0.01 at x0.2 with noise.
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from _emotion_sets import crop_sets, true_classes
from _faces import LOW_LIGHT, in_light
from emoscope.classification import EmotionClassifier
from emoscope.detection.onnx_detector import brightened
from emoscope.errors import ModelNotFoundError
from emoscope.evaluation.metrics import classification_metrics
from emoscope.evaluation.run import dataset_logits

LIGHTS = {"as it is": (1.0, 0.0), **LOW_LIGHT}
WAYS = ("as-is", "brightened", "both")
CROP_TARGET_LEVEL = 120.0


def read_ways(classifier: EmotionClassifier, dataset, images: np.ndarray, ways, below: float) -> dict[str, float]:
    """Balanced accuracy of the model reading ``images`` (``dataset``'s faces in one light) in each way."""
    plain = dataset_logits(classifier, dataclasses.replace(dataset, images=images))
    dark = images.reshape(len(images), -1).mean(axis=1) < below
    lit_logits = plain
    if dark.any() and set(ways) - {"as-is"}:
        lit = images.copy()
        lit[dark] = np.stack([brightened(image, CROP_TARGET_LEVEL) for image in images[dark]])
        lit_logits = dataset_logits(classifier, dataclasses.replace(dataset, images=lit))
    truth = true_classes(classifier, dataset)
    scores = {}
    for way in ways:
        logits = plain.copy()
        if way != "as-is":
            logits[dark] = lit_logits[dark] if way == "brightened" else (plain[dark] + lit_logits[dark]) / 2
        scores[way] = classification_metrics(truth, logits.argmax(axis=1), classifier.labels)["balanced_accuracy"]
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["fast", "accurate"], help="emotion models (names or files)")
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--below", type=float, default=60.0, help="mean grey level under which a crop is dark")
    args = parser.parse_args()
    try:   # every file checked before the data is read
        classifiers = [(model, EmotionClassifier(model, threads=2)) for model in args.models]
    except ModelNotFoundError as error:
        raise SystemExit(f"low_light_emotion.py: {error}") from None
    notes = []
    print("| model | way | " + " | ".join(LIGHTS) + " |")
    print("|---" * (2 + len(LIGHTS)) + "|")
    for model, classifier in classifiers:
        sets = crop_sets(classifier, "val")
        scores, shares = {}, {}      # (light, set name) -> {way: balanced accuracy}; light -> share of dark crops
        for light, (gain, noise) in LIGHTS.items():
            darkened = {name: np.stack(list(in_light(dataset.images, gain, noise))) for name, dataset in sets.items()}
            for name, dataset in sets.items():
                scores[light, name] = read_ways(classifier, dataset, darkened[name], args.ways, args.below)
            shares[light] = np.mean([(images.reshape(len(images), -1).mean(axis=1) < args.below).mean()
                                     for images in darkened.values()])
        for way in args.ways:
            cells = []
            for light in LIGHTS:
                by_set = [scores[light, name][way] for name in sets]
                cells.append(f"{np.mean(by_set):.4f} ({' / '.join(f'{score:.3f}' for score in by_set)})")
            print(f"| {model} | {way} | " + " | ".join(cells) + " |", flush=True)
        notes.append(f"{model}: crops under level {args.below:g}: " +
                     ", ".join(f"{light} {share:.3f}" for light, share in shares.items()))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
