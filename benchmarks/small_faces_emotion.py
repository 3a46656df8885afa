"""Emotion models on small faces: the crop sets read as they are and shrunk, as a face of that many pixels in a photo
reaches the model (the pipeline enlarges a small face's crop to the model's input).

The three crop sets of a split (FER+ majority, FER2013, ExpW crops; ``_emotion_sets``) are read as they are and with
every crop shrunk by area averaging to each side in ``--sides`` (FER2013's crops are 48 px; ExpW's are cut at the
model's input size), then read as usual. Prints balanced accuracy per model and form: the mean of the three sets,
then each set.

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
    parser.add_argument("--sides", nargs="+", type=int, default=[32, 24], help="px sides of the shrunk forms "
                        "(default: 32 24)")
    parser.add_argument("--split", choices=("val", "test"), default="val")
    args = parser.parse_args()
    if any(side < 8 for side in args.sides):
        raise SystemExit("small_faces_emotion.py: --sides must be 8 px or more")
    try:   # every file checked before the data is read
        classifiers = [(model, EmotionClassifier(model, threads=2)) for model in args.models]
    except ModelNotFoundError as error:
        raise SystemExit(f"small_faces_emotion.py: {error}") from None
    forms = ["as it is", *(f"{side} px" for side in args.sides)]
    titles = None
    for model, classifier in classifiers:
        sets = crop_sets(classifier, args.split)
        if titles is None:   # the header once the data is found
            print("| model | " + " | ".join(forms) + " |")
            print("|---" * (1 + len(forms)) + "|")
        titles = [TITLES[name, args.split] for name in sets]
        cells = []
        for form in forms:
            by_set = [balanced_accuracy(classifier, dataset, dataset.images if form == "as it is" else
                                        shrunk(dataset.images, int(form.split()[0])))
                      for dataset in sets.values()]
            cells.append(f"{np.mean(by_set):.4f} ({' / '.join(f'{score:.3f}' for score in by_set)})")
        print(f"| {model} | " + " | ".join(cells) + " |", flush=True)
    print(f"balanced accuracy: the mean of the three sets ({' / '.join(titles)})")


if __name__ == "__main__":
    main()
