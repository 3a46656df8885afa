"""Charts for evaluation reports (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def confusion_png(matrix, labels, path: Path, normalise: bool, title: str = "Confusion matrix",
                  missed=None) -> None:
    """The confusion matrix as a heat map; ``missed`` (count per true class) adds a "no face" column
    for faces the pipeline did not find, so that a row still sums to its class's faces."""
    matrix = np.asarray(matrix, dtype=float)
    columns = list(labels)
    if missed is not None:
        matrix = np.column_stack([matrix, np.asarray(missed, dtype=float)])
        columns.append("no face")
    if normalise:
        matrix = matrix / np.clip(matrix.sum(axis=1, keepdims=True), 1, None)
    fig, ax = plt.subplots(figsize=(7 + 0.6 * (len(columns) - len(labels)), 6))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    ax.set(xticks=range(len(columns)), yticks=range(len(labels)), xticklabels=columns, yticklabels=labels,
           xlabel="predicted", ylabel="true", title=title + (" (row-normalised)" if normalise else ""))
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    for i in range(len(labels)):
        for j in range(len(columns)):
            text = f"{matrix[i, j]:.2f}" if normalise else f"{int(matrix[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def distribution_png(counts: dict[str, int], path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(list(counts), list(counts.values()), color="#4a7fb5")
    ax.set(ylabel="images", title=title)
    for i, value in enumerate(counts.values()):
        ax.text(i, value, str(value), ha="center", va="bottom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def reliability_png(bins: list[dict], ece: float, path: Path, title: str = "Reliability") -> None:
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    centres = [(b["low"] + b["high"]) / 2 for b in bins]
    ax.bar(centres, [b["accuracy"] for b in bins], width=1 / 15, edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color="darkred", label="accuracy at the bin's mean confidence")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=f"{title} (ECE {ece:.3f})")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
