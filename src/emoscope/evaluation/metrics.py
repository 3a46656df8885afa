"""Classification and calibration metrics from predictions and labels (no model code here)."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...] | list[str]) -> dict:
    """Accuracy, balanced accuracy, macro-F1, per-class precision/recall/F1/support, the share of each class
    among the predictions beside its share among the labels, and the confusion matrix (counts).

    A prediction of -1 means "no answer" (a face the pipeline did not find): wrong for every score, left
    out of the confusion matrix and the predicted shares. Balanced accuracy is the mean recall over the
    classes present in ``y_true`` (as ``sklearn.metrics.balanced_accuracy_score``)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    indices = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=indices, zero_division=0)
    predicted = np.bincount(y_pred[y_pred >= 0], minlength=len(labels))
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "balanced_accuracy": float(np.mean(recall[support > 0])),
        "macro_f1": float(f1_score(y_true, y_pred, labels=indices, average="macro", zero_division=0)),
        "predicted_share": dict(zip(labels, (predicted / len(y_pred)).tolist())),
        "true_share": dict(zip(labels, (support / len(y_true)).tolist())),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=indices).tolist(),
    }


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def reliability(probabilities: np.ndarray, y_true: np.ndarray, bins: int = 15) -> dict:
    """Expected calibration error (Guo et al. 2017) and the per-bin confidence/accuracy behind it."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    ece, rows = 0.0, []
    for b in range(bins):
        members = which == b
        if members.any():
            gap = abs(correct[members].mean() - confidence[members].mean())
            ece += members.mean() * gap
            rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "count": int(members.sum()),
                         "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean())})
    return {"ece": float(ece), "bins": rows}


def fit_temperature(logits: np.ndarray, y_true: np.ndarray, *more_sets: tuple[np.ndarray, np.ndarray]) -> float:
    """The softmax temperature that minimises negative log-likelihood (temperature scaling). Further
    ``(logits, y_true)`` sets count alike: the mean of each set's mean NLL is minimised, so that a
    large set does not decide alone."""
    from scipy.optimize import minimize_scalar

    sets = [(logits, y_true), *more_sets]

    def nll(t):
        return np.mean([-np.log(np.clip(softmax(z, t)[np.arange(len(y)), y], 1e-12, None)).mean() for z, y in sets])

    return float(minimize_scalar(nll, bounds=(0.25, 8.0), method="bounded").x)
