"""Emotion models on small faces: the crop sets read as they are and shrunk, as the crop of a small face in a photo
reaches the model (the pipeline enlarges it to the model's input).

The three crop sets of a split (FER+ majority, FER2013, ExpW crops; ``_emotion_sets``) are read as they are and with
every crop shrunk by area averaging to each side in ``--sides`` (FER2013's crops are 48 px; ExpW's are cut at the
model's input size), then read as usual. A crop's side is the face's and the crop rule's margin: a 24-px crop holds
a face of about 20 px (the pipeline's default ``--min-face``). Prints balanced accuracy per model and form: the mean
of the three sets, then each set.

    python benchmarks/small_faces_emotion.py --models fast accurate              # validation crop sets
    python benchmarks/small_faces_emotion.py --models fast candidate.onnx --split test

Choices are made on ``val``; ``test`` is for measuring a model once chosen.
"""
from __future__ import annotations

import argparse
import dataclasses

import cv2
import numpy as np

from _emotion_sets import TITLES, crop_sets
from emoscope.classification import EmotionClassifier
from emoscope.errors import ModelNotFoundError
from emoscope.evaluation.metrics import classification_metrics
from emoscope.evaluation.run import dataset_logits

SMALLEST_CROP = 48
""":func:`shrunk` must make every crop smaller: FER2013's are the smallest."""


def shrunk(images: np.ndarray, side: int) -> np.ndarray:
    """Each crop averaged down to ``side`` x ``side`` px."""
    return np.stack([cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA) for image in images])


def balanced_accuracy(classifier: EmotionClassifier, dataset, images) -> float:
    logits = dataset_logits(classifier, dataclasses.replace(dataset, images=images))
    truth = np.array([classifier.labels.index(dataset.labels[y]) for y in dataset.hard_labels])
    return classification_metrics(truth, logits.argmax(axis=1), classifier.labels)["balanced_accuracy"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["fast", "accurate"], help="emotion models (names or files)")
    parser.add_argument("--sides", nargs="+", type=int, default=[32, 24], help="px sides of the shrunk crops "
                        "(default: %(default)s)")
    parser.add_argument("--split", choices=("val", "test"), default="val")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
