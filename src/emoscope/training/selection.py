"""Which epoch, and which mix of the two heads, is best: the scores validation compares.

With one label set the score is the accuracy (or the balanced accuracy averaged over the data sets); with
FER2013 labels and FER+ votes it is taken for each share of the vote head in the blended output, and the best
share is what export writes into the model.
"""
from __future__ import annotations

import numpy as np

from ..data import FaceDataset
from .errors import TrainingError


def blend_log_probabilities(logits: np.ndarray, num_labels: int, soft_share: float) -> np.ndarray:
    """One output from two heads: ``(1 - s) * log p_hard + s * log p_soft`` over the first
    ``num_labels`` classes (the soft head's extra classes, e.g. contempt, renormalised away)."""
    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    hard = log_softmax(logits[:, :num_labels])
    if logits.shape[1] == num_labels:
        return hard
    soft = log_softmax(logits[:, num_labels: 2 * num_labels])
    return (1.0 - soft_share) * hard + soft_share * soft


BLEND_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Soft-head shares that validation compares; the best is recorded and exported."""


def majority_labels(soft_targets: np.ndarray, num_labels: int) -> np.ndarray:
    """FER+ majority protocol: the index of a row's single most-voted class, or -1 where the top is
    tied, absent, or outside the first ``num_labels`` classes (contempt in the 7-class protocol)."""
    top = soft_targets.max(1, keepdims=True)
    winners = (soft_targets == top) & (top > 0)
    labels = soft_targets.argmax(1)
    unique = winners.sum(1) == 1
    return np.where(unique & (labels < num_labels), labels, -1)


def _balanced_score(predicted: np.ndarray, dataset: FaceDataset, majority: np.ndarray | None) -> float:
    """Balanced accuracy averaged over the sources; a source with votes scores the mean of its hard-label
    and vote-majority balanced accuracies."""
    from sklearn.metrics import balanced_accuracy_score

    sources = dataset.sources if dataset.sources is not None else np.full(len(dataset), dataset.name)
    scores = []
    for name in np.unique(sources):
        rows = sources == name
        score = balanced_accuracy_score(dataset.hard_labels[rows], predicted[rows])
        voted = rows & (majority >= 0) if majority is not None else np.zeros_like(rows)
        if voted.any():
            score = (score + balanced_accuracy_score(majority[voted], predicted[voted])) / 2
        scores.append(score)
    return float(np.mean(scores))


def validation_scores(logits: np.ndarray, dataset: FaceDataset, selection: str = "accuracy") -> dict:
    """Accuracy on the hard labels and, with a second label set, FER+-majority accuracy for each blend.

    ``score`` (what selects the best epoch) is, with ``selection="accuracy"``, the hard-label accuracy,
    or with two label sets the best mean of the two accuracies over the blends, whose share is kept as
    ``soft_share``; with ``selection="balanced"`` it is :func:`_balanced_score` instead.
    """
    if selection not in ("accuracy", "balanced"):
        raise TrainingError(f"unknown selection {selection!r}; use accuracy or balanced")
    k = len(dataset.labels)
    hard = dataset.hard_labels
    if dataset.soft_targets is None:
        predicted = logits[:, :k].argmax(1)
        accuracy = float((predicted == hard).mean())
        return {"accuracy": accuracy,
                "score": accuracy if selection == "accuracy" else _balanced_score(predicted, dataset, None)}
    majority = majority_labels(dataset.soft_targets, k)
    has_majority = majority >= 0
    blends = {}
    for share in BLEND_SHARES:
        predicted = blend_log_probabilities(logits, k, share).argmax(1)
        blends[share] = {"hard_accuracy": float((predicted == hard).mean()),
                         "majority_accuracy": float((predicted[has_majority] == majority[has_majority]).mean())}
        blends[share]["score"] = ((blends[share]["hard_accuracy"] + blends[share]["majority_accuracy"]) / 2
                                  if selection == "accuracy" else _balanced_score(predicted, dataset, majority))
    best = max(blends, key=lambda s: blends[s]["score"])
    return {"accuracy": blends[0.0]["hard_accuracy"], "blends": {str(s): v for s, v in blends.items()},
            "soft_share": best, "score": blends[best]["score"]}
