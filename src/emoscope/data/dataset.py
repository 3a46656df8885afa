"""The one in-memory form of a labelled face data set, and what every loader shares."""
from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class DatasetError(InputError):
    """A data set file or row that cannot be read or labelled."""


@dataclass
class FaceDataset:
    """Grayscale face images and their targets, in EmoScope's label order.

    ``images`` is ``(N, H, W)`` uint8. ``targets`` is ``(N, K)`` float32: one-hot for hard labels,
    a probability distribution for soft (vote) labels. ``labels`` names the K classes.
    """

    images: np.ndarray
    targets: np.ndarray
    labels: tuple[str, ...]
    name: str = ""
    soft_targets: np.ndarray | None = None
    """Optional second label set for the same images, ``(N, len(soft_labels))`` distributions;
    an all-zero row means "no label" (FER+ rows whose votes say unknown or not a face)."""
    soft_labels: tuple[str, ...] = ()
    rows: np.ndarray | None = None
    """Optional position of each image among its source file's data rows (the FER2013 CSV), so that
    per-image values computed over the whole file (teacher logits) can be matched to it."""
    sources: np.ndarray | None = None
    """Optional name of the data set each image comes from, for data sets joined by
    :func:`combine_datasets` (balanced sampling and validation weigh each source alike)."""

    def __post_init__(self):
        if self.sources is not None and len(self.sources) != len(self.images):
            raise DatasetError(f"{self.name}: {len(self.sources)} source names for {len(self.images)} images")
        if self.rows is not None and len(self.rows) != len(self.images):
            raise DatasetError(f"{self.name}: {len(self.rows)} row numbers for {len(self.images)} images")
        if self.soft_targets is not None and self.soft_targets.shape != (len(self.images), len(self.soft_labels)):
            raise DatasetError(f"{self.name}: soft targets {self.soft_targets.shape} do not match "
                               f"{len(self.images)} images and labels {self.soft_labels}")
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise DatasetError(f"{self.name}: images must be (N, H, W) uint8, got {self.images.shape} {self.images.dtype}")
        if self.targets.shape != (len(self.images), len(self.labels)):
            raise DatasetError(f"{self.name}: targets {self.targets.shape} do not match {len(self.images)} images")
        if len(self.images) == 0:
            raise DatasetError(f"{self.name}: the split is empty")

    @property
    def hard_labels(self) -> np.ndarray:
        return self.targets.argmax(axis=1)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.hard_labels, minlength=len(self.labels))
        return dict(zip(self.labels, counts.tolist()))

    def __len__(self) -> int:
        return len(self.images)


def combine_datasets(datasets: list[FaceDataset], size: int) -> FaceDataset:
    """One data set from several with the same labels, every image fitted to ``size`` pixels square
    (:func:`emoscope.preprocess.fit_to_input`, as the model's input). Each image keeps its source's
    name in ``sources``; a source without the second label set (FER+ votes) gets all-zero rows
    there, which training reads as "no label"."""
    from ..preprocess import fit_all

    if len({d.labels for d in datasets}) != 1:
        raise DatasetError(f"cannot combine data sets with different labels: {[d.labels for d in datasets]}")
    soft_labels = {d.soft_labels for d in datasets if d.soft_targets is not None}
    if len(soft_labels) > 1:
        raise DatasetError(f"cannot combine data sets with different vote labels: {sorted(soft_labels)}")
    soft_labels = next(iter(soft_labels), ())

    return FaceDataset(
        images=np.concatenate([fit_all(d.images, (size, size)) for d in datasets]),
        targets=np.concatenate([d.targets for d in datasets]),
        labels=datasets[0].labels,
        name=" + ".join(d.name for d in datasets),
        soft_targets=np.concatenate([d.soft_targets if d.soft_targets is not None
                                     else np.zeros((len(d), len(soft_labels)), np.float32) for d in datasets])
        if soft_labels else None,
        soft_labels=soft_labels,
        sources=np.concatenate([d.sources if d.sources is not None else np.full(len(d), name)
                                for d, name in zip(datasets, _distinct_names(datasets))]),
    )


def _distinct_names(datasets: list[FaceDataset]) -> list[str]:
    """Each data set's name, numbered where two share one (two class folders both called ``train``), so
    that balanced sampling and selection treat them as the separate sources they are."""
    names = [d.name for d in datasets]
    return [f"{name} #{names[:i].count(name) + 1}" if names.count(name) > 1 else name for i, name in enumerate(names)]


def one_hot(indices: list[int], num_classes: int) -> np.ndarray:
    targets = np.zeros((len(indices), num_classes), np.float32)
    targets[np.arange(len(indices)), indices] = 1.0
    return targets


def open_text(path: Path):
    """A data file as text, plain or gzip; a missing file is a DatasetError."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")
