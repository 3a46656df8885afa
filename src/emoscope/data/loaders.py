"""Loaders that turn each common facial-expression data set layout into one :class:`FaceDataset`.

Each loader maps its data set's label scheme onto EmoScope's order (:mod:`emoscope.labels`)
through an explicit table, and reports malformed rows or files by name. ``on_error="skip"``
leaves a bad item out with a warning; ``"fail"`` raises :class:`DatasetError`.
"""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import cv2
import numpy as np

from ..labels import EMOTIONS, EMOTIONS_WITH_CONTEMPT, canonical_label
from .dataset import IMAGE_SUFFIXES, DatasetError, FaceDataset, one_hot, open_text

FER2013_SPLITS = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
"""Our split names and FER2013's ``Usage`` values (the usual protocol)."""


def _problem(message: str, on_error: str) -> None:
    if on_error == "fail":
        raise DatasetError(message)
    warnings.warn(message + " (skipped)", stacklevel=3)


def _read_fer2013_rows(csv_path: Path):
    """Yield (row_number, emotion_text, pixels_text, usage) from a FER2013 CSV."""
    with open_text(csv_path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:3]] != ["emotion", "pixels", "Usage"]:
            raise DatasetError(f"{csv_path}: expected the header 'emotion,pixels,Usage', got {header}")
        for number, row in enumerate(reader):
            yield number, row


def _parse_fer_pixels(text: str) -> np.ndarray | None:
    values = text.split()
    if len(values) != 48 * 48:
        return None
    try:
        pixels = np.array(values, dtype=np.int32)
    except ValueError:
        return None
    if pixels.min() < 0 or pixels.max() > 255:
        return None
    return pixels.astype(np.uint8).reshape(48, 48)


def load_fer2013(csv_path: str | Path, split: str, on_error: str = "fail") -> FaceDataset:
    """FER2013 CSV (``emotion,pixels,Usage``, plain or gzip); split is train, val or test."""
    return _load_fer2013_rows(csv_path, split, on_error)


def _load_fer2013_rows(csv_path: str | Path, split: str, on_error: str) -> FaceDataset:
    """The FER2013 split, with the CSV data-row number of each of its images."""
    usage = FER2013_SPLITS.get(split)
    if usage is None:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(FER2013_SPLITS)}")
    images, labels, rows = [], [], []
    for number, row in _read_fer2013_rows(Path(csv_path)):
        if len(row) != 3:
            _problem(f"{csv_path}: row {number + 1} has {len(row)} fields, expected 3", on_error)
            continue
        emotion, pixels, row_usage = row
        if row_usage.strip() != usage:
            continue
        image = _parse_fer_pixels(pixels)
        if image is None:
            _problem(f"{csv_path}: row {number + 1} does not hold 2304 pixel values in 0..255", on_error)
            continue
        if not emotion.strip().isdigit() or int(emotion) >= len(EMOTIONS):
            _problem(f"{csv_path}: row {number + 1} has emotion {emotion!r}, expected 0..6", on_error)
            continue
        images.append(image)
        labels.append(int(emotion))
        rows.append(number)
    if not images:
        raise DatasetError(f"{csv_path}: no rows for split {split} ({usage})")
    return FaceDataset(np.stack(images), one_hot(labels, len(EMOTIONS)), EMOTIONS, f"fer2013/{split}",
                       rows=np.array(rows))


# FER+ vote columns, in the file's order, and our label for each (None: not an emotion).
FERPLUS_VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
FERPLUS_TO_EMOSCOPE = {
    "neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
    "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": "contempt",
    "unknown": None, "NF": None,
}
FERPLUS_SCHEMES = ("majority", "plurality", "soft")
"""majority: the single most-voted column (ties dropped) — the usual benchmark protocol;
plurality: the most-voted emotions, ties shared equally; soft: the vote distribution."""


def ferplus_target(votes: np.ndarray, scheme: str, labels: tuple[str, ...]) -> np.ndarray | None:
    """Our target vector from one row of FER+ votes (file column order), or None where the row is dropped.

    Rows whose top vote is ``unknown`` or ``NF`` are dropped in every scheme. With 7 labels
    (contempt folded away) contempt votes are ignored and contempt-topped rows dropped.
    """
    top = votes.max()
    if top <= 0:
        return None
    winners = [FERPLUS_TO_EMOSCOPE[c] for c, v in zip(FERPLUS_VOTE_COLUMNS, votes) if v == top]
    if None in winners or any(w not in labels for w in winners):
        return None
    if scheme == "majority" and len(winners) > 1:
        return None
    target = np.zeros(len(labels), np.float32)
    if scheme == "soft":
        for column, count in zip(FERPLUS_VOTE_COLUMNS, votes):
            ours = FERPLUS_TO_EMOSCOPE[column]
            if ours in labels:
                target[labels.index(ours)] += count
    else:
        for winner in winners:
            target[labels.index(winner)] = 1.0
    return target / target.sum()


def load_ferplus(
    fer2013_csv: str | Path,
    votes_csv: str | Path,
    split: str,
    scheme: str = "majority",
    with_contempt: bool = True,
    on_error: str = "fail",
) -> FaceDataset:
    """FER2013 images with FER+ crowd labels, joined by row position (the two files share row order)."""
    if scheme not in FERPLUS_SCHEMES:
        raise DatasetError(f"unknown FER+ scheme {scheme!r}; use one of {', '.join(FERPLUS_SCHEMES)}")
    usage = FER2013_SPLITS.get(split)
    if usage is None:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(FER2013_SPLITS)}")
    labels = EMOTIONS_WITH_CONTEMPT if with_contempt else EMOTIONS
    with open_text(Path(votes_csv)) as handle:
        vote_rows = list(csv.reader(handle))
    header, vote_rows = vote_rows[0], vote_rows[1:]
    if [h.strip() for h in header[2:12]] != list(FERPLUS_VOTE_COLUMNS):
        raise DatasetError(f"{votes_csv}: unexpected FER+ header {header}")
    images, targets, rows = [], [], []
    for number, row in _read_fer2013_rows(Path(fer2013_csv)):
        if number >= len(vote_rows):
            raise DatasetError(f"{votes_csv}: has {len(vote_rows)} rows, fewer than {fer2013_csv}")
        if len(row) != 3 or row[2].strip() != usage:
            continue
        vote_row = vote_rows[number]
        if vote_row[0].strip() != usage:
            raise DatasetError(f"{votes_csv}: row {number + 2} is {vote_row[0]!r} but FER2013 row is {usage!r}; files out of order")
        try:
            votes = np.array([float(v) for v in vote_row[2:12]], np.float32)
        except ValueError:
            _problem(f"{votes_csv}: row {number + 2} has non-numeric votes", on_error)
            continue
        target = ferplus_target(votes, scheme, labels)
        if target is None:
            continue
        image = _parse_fer_pixels(row[1])
        if image is None:
            _problem(f"{fer2013_csv}: row {number + 1} does not hold 2304 pixel values in 0..255", on_error)
            continue
        images.append(image)
        targets.append(target)
        rows.append(number)
    if not images:
        raise DatasetError(f"{votes_csv}: no usable rows for split {split}")
    return FaceDataset(np.stack(images), np.stack(targets), labels, f"ferplus-{scheme}/{split}", rows=np.array(rows))


def load_fer2013_with_votes(fer2013_csv: str | Path, votes_csv: str | Path, split: str,
                            on_error: str = "fail") -> FaceDataset:
    """FER2013 images with both label sets: the original single-annotator labels as ``targets`` and
    the FER+ vote distributions (8 classes with contempt) as ``soft_targets``, so one model can
    learn from both (rows whose votes are mostly unknown / not a face get an all-zero soft row)."""
    dataset = _load_fer2013_rows(fer2013_csv, split, on_error)
    with open_text(Path(votes_csv)) as handle:
        vote_rows = list(csv.reader(handle))
    header, vote_rows = vote_rows[0] if vote_rows else [], vote_rows[1:]
    if [h.strip() for h in header[2:12]] != list(FERPLUS_VOTE_COLUMNS):
        raise DatasetError(f"{votes_csv}: unexpected FER+ header {header}")
    soft = np.zeros((len(dataset), len(EMOTIONS_WITH_CONTEMPT)), np.float32)
    for i, number in enumerate(dataset.rows.tolist()):
        if number >= len(vote_rows):
            raise DatasetError(f"{votes_csv}: has {len(vote_rows)} rows, fewer than {fer2013_csv}")
        vote_row = vote_rows[number]
        if len(vote_row) < 12 or vote_row[0].strip() != FER2013_SPLITS[split]:
            raise DatasetError(f"{votes_csv}: row {number + 2} does not line up with {fer2013_csv} "
                               f"(expected usage {FER2013_SPLITS[split]!r})")
        try:
            votes = np.array([float(v) for v in vote_row[2:12]], np.float32)
        except ValueError:
            raise DatasetError(f"{votes_csv}: row {number + 2} has non-numeric votes") from None
        target = ferplus_target(votes, "soft", EMOTIONS_WITH_CONTEMPT)
        if target is not None:
            soft[i] = target
    dataset.soft_targets, dataset.soft_labels = soft, EMOTIONS_WITH_CONTEMPT
    dataset.name = f"fer2013+ferplus/{split}"
    return dataset


def _read_gray(path: Path, size: int | None, on_error: str) -> np.ndarray | None:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        _problem(f"{path}: not a readable image", on_error)
        return None
    if size is not None and image.shape != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def _from_files(items: list[tuple[Path, str]], size: int, name: str, on_error: str) -> FaceDataset:
    labels = EMOTIONS_WITH_CONTEMPT if any(label == "contempt" for _, label in items) else EMOTIONS
    images, indices = [], []
    for path, label in items:
        image = _read_gray(path, size, on_error)
        if image is not None:
            images.append(image)
            indices.append(labels.index(label))
    if not images:
        raise DatasetError(f"{name}: no readable images")
    return FaceDataset(np.stack(images), one_hot(indices, len(labels)), labels, name)


def load_image_folder(root: str | Path, size: int = 48, on_error: str = "fail") -> FaceDataset:
    """One folder per class (Kaggle FER2013 JPGs, CK+48, any ImageFolder tree); class names mapped
    through :data:`emoscope.labels.LABEL_ALIASES` (anger/angry, happiness/happy, ...)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    items: list[tuple[Path, str]] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = canonical_label(folder.name)
        if label is None:
            _problem(f"{folder}: unknown class folder {folder.name!r}", on_error)
            continue
        items += [(f, label) for f in sorted(folder.rglob("*")) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        raise DatasetError(f"{root}: no class folders with images")
    return _from_files(items, size, f"folder/{root.name}", on_error)


# RAF-DB basic: 1 surprise, 2 fear, 3 disgust, 4 happiness, 5 sadness, 6 anger, 7 neutral.
RAFDB_TO_EMOSCOPE = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "angry", 7: "neutral"}


def load_rafdb(root: str | Path, split: str, size: int = 48, on_error: str = "fail") -> FaceDataset:
    """RAF-DB basic: ``EmoLabel/list_patition_label.txt`` (``train_00001.jpg 5``) and
    ``Image/aligned/train_00001_aligned.jpg``; split is train or test."""
    root = Path(root)
    list_file = root / "EmoLabel" / "list_patition_label.txt"
    if split not in ("train", "test"):
        raise DatasetError(f"RAF-DB has splits train and test, not {split!r}")
    if not list_file.exists():
        raise DatasetError(f"{list_file}: no such file")
    items = []
    for number, line in enumerate(list_file.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in RAFDB_TO_EMOSCOPE:
            _problem(f"{list_file}: line {number} {line!r} is not 'NAME LABEL' with LABEL 1..7", on_error)
            continue
        if not parts[0].startswith(split + "_"):
            continue
        stem = Path(parts[0]).stem
        items.append((root / "Image" / "aligned" / f"{stem}_aligned.jpg", RAFDB_TO_EMOSCOPE[int(parts[1])]))
    if not items:
        raise DatasetError(f"{list_file}: no entries for split {split}")
    return _from_files(items, size, f"rafdb/{split}", on_error)


# AffectNet: 0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust, 6 anger, 7 contempt.
AFFECTNET_TO_EMOSCOPE = {0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "angry", 7: "contempt"}


def load_affectnet(root: str | Path, size: int = 48, with_contempt: bool = False, on_error: str = "fail") -> FaceDataset:
    """AffectNet layout: ``images/N.jpg`` and ``annotations/N_exp.npy`` (one class index each);
    indices 8+ (none, uncertain, no-face) are left out, contempt too unless ``with_contempt``."""
    root = Path(root)
    images_dir, notes_dir = root / "images", root / "annotations"
    if not images_dir.is_dir() or not notes_dir.is_dir():
        raise DatasetError(f"{root}: expected folders images/ and annotations/")
    items = []
    for note in sorted(notes_dir.glob("*_exp.npy")):
        try:
            value = int(np.load(note).reshape(-1)[0])
        except (ValueError, OSError, IndexError) as error:
            _problem(f"{note}: unreadable expression label ({error})", on_error)
            continue
        label = AFFECTNET_TO_EMOSCOPE.get(value)
        if label is None or (label == "contempt" and not with_contempt):
            continue
        stem = note.name[: -len("_exp.npy")]
        image = next((p for p in (images_dir / f"{stem}{s}" for s in (".jpg", ".png")) if p.exists()), None)
        if image is None:
            _problem(f"{note}: no image {stem}.jpg in {images_dir}", on_error)
            continue
        items.append((image, label))
    if not items:
        raise DatasetError(f"{root}: no labelled images")
    return _from_files(items, size, f"affectnet/{root.name}", on_error)
