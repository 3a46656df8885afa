"""Emotion models on dark faces, on validation crops only: how much a dark face costs, and whether brightening the
crop before the model reads it gives that back.

The three validation crop sets (FER+ PublicTest majority, FER2013 PublicTest, ExpW val crops; ``_emotion_sets``)
are read as they are and in each form of ``_faces.LOW_LIGHT`` (levels x0.35; x0.2 with sensor noise, seeded per
crop). Each model reads them in each way named by ``--ways``:

- ``as-is``: as the model reads crops now;
- ``brightened``: a crop whose mean grey level is under ``--below`` is brightened to a mean of 120 (gain at most 4:
  the detector's ``emoscope.detection.onnx_detector.brightened``, which the detector uses with 110) before the model
  reads it (every crop is read again, the bright ones unchanged: a data set is not cut into parts here);
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

from _emotion_sets import crop_sets
from _faces import LOW_LIGHT, low_light
from emoscope.classification import EmotionClassifier
from emoscope.detection.onnx_detector import brightened
from emoscope.errors import ModelNotFoundError
from emoscope.evaluation.metrics import classification_metrics
from emoscope.evaluation.run import dataset_logits

LIGHTS = {"as it is": (1.0, 0.0), **LOW_LIGHT}
WAYS = ("as-is", "brightened", "both")
CROP_TARGET_LEVEL = 120.0


def read_balanced_accuracy(classifier: EmotionClassifier, dataset, images: np.ndarray, way: str, below: float) -> float:
    logits = dataset_logits(classifier, dataclasses.replace(dataset, images=images))
    dark = images.reshape(len(images), -1).mean(axis=1) < below
    if way != "as-is" and dark.any():
        lit = images.copy()
        lit[dark] = np.stack([brightened(image, CROP_TARGET_LEVEL) for image in images[dark]])
        lit_logits = dataset_logits(classifier, dataclasses.replace(dataset, images=lit))
        logits[dark] = lit_logits[dark] if way == "brightened" else (logits[dark] + lit_logits[dark]) / 2
    truth = np.array([classifier.labels.index(dataset.labels[y]) for y in dataset.hard_labels])
    return classification_metrics(truth, logits.argmax(axis=1), classifier.labels)["balanced_accuracy"]


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
        dark_sets = {light: {name: dataset.images if gain == 1 and not noise else
                             np.stack([low_light(image, gain, noise, seed=i) for i, image in enumerate(dataset.images)])
                             for name, dataset in sets.items()} for light, (gain, noise) in LIGHTS.items()}
        for way in args.ways:
            cells = []
            for light in LIGHTS:
                scores = [read_balanced_accuracy(classifier, dataset, dark_sets[light][name], way, args.below)
                          for name, dataset in sets.items()]
                cells.append(f"{np.mean(scores):.4f} ({' / '.join(f'{score:.3f}' for score in scores)})")
            print(f"| {model} | {way} | " + " | ".join(cells) + " |", flush=True)
        shares = {light: np.mean([(images.reshape(len(images), -1).mean(axis=1) < args.below).mean()
                                  for images in by_name.values()]) for light, by_name in dark_sets.items()}
        notes.append(f"{model}: crops under level {args.below:g}: " +
                     ", ".join(f"{light} {share:.3f}" for light, share in shares.items()))
    print("\n".join(notes))


if __name__ == "__main__":
    main()
