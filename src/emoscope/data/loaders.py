"""Loaders that turn each common facial-expression data set layout into one :class:`FaceDataset`.

Each loader maps its data set's label scheme onto EmoScope's order (:mod:`emoscope.labels`)
through an explicit table, and reports malformed rows or files by name. ``on_error="skip"``
leaves a bad item out with a warning; ``"fail"`` raises :class:`DatasetError`.
"""
from __future__ import annotations

import csv
import gzip
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..labels import EMOTIONS, EMOTIONS_WITH_CONTEMPT, canonical_label


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
    from ..preprocess import fit_to_input

    if len({d.labels for d in datasets}) != 1:
        raise DatasetError(f"cannot combine data sets with different labels: {[d.labels for d in datasets]}")
    soft_labels = {d.soft_labels for d in datasets if d.soft_targets is not None}
    if len(soft_labels) > 1:
        raise DatasetError(f"cannot combine data sets with different vote labels: {sorted(soft_labels)}")
    soft_labels = next(iter(soft_labels), ())

    return FaceDataset(
        images=np.stack([fit_to_input(image, (size, size)) for d in datasets for image in d.images]),
        targets=np.concatenate([d.targets for d in datasets]),
        labels=datasets[0].labels,
        name=" + ".join(d.name for d in datasets),
        soft_targets=np.concatenate([d.soft_targets if d.soft_targets is not None
                                     else np.zeros((len(d), len(soft_labels)), np.float32) for d in datasets])
        if soft_labels else None,
        soft_labels=soft_labels,
        sources=np.concatenate([d.sources if d.sources is not None else np.full(len(d), d.name) for d in datasets]),
    )


def _one_hot(indices: list[int], num_classes: int) -> np.ndarray:
    targets = np.zeros((len(indices), num_classes), np.float32)
    targets[np.arange(len(indices)), indices] = 1.0
    return targets


def _problem(message: str, on_error: str) -> None:
    if on_error == "fail":
        raise DatasetError(message)
    warnings.warn(message + " (skipped)", stacklevel=3)


def _open_text(path: Path):
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


FER2013_SPLITS = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
"""Our split names and FER2013's ``Usage`` values (the usual protocol)."""


def _read_fer2013_rows(csv_path: Path):
    """Yield (row_number, emotion_text, pixels_text, usage) from a FER2013 CSV."""
    with _open_text(csv_path) as handle:
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
    return FaceDataset(np.stack(images), _one_hot(labels, len(EMOTIONS)), EMOTIONS, f"fer2013/{split}",
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
    with _open_text(Path(votes_csv)) as handle:
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
    with _open_text(Path(votes_csv)) as handle:
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


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


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
    return FaceDataset(np.stack(images), _one_hot(indices, len(labels)), labels, name)


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


FACE_TABLE = "faces.csv"
"""A class-folder tree may carry this table: one row per image, ``file`` (relative to the root), ``split`` and
the face box inside the image (``x, y, w, h``), as the ExpW subset does."""


class _Problems:
    """Bad items of one load. ``fail``: the first raises, naming its file. ``skip``: each is left out and every
    kind of problem is warned about once, with its count and its first file."""

    def __init__(self, source, on_error: str):
        self.source, self.on_error, self.found = source, on_error, {}

    def add(self, kind: str, message: str) -> None:
        if self.on_error == "fail":
            raise DatasetError(message)
        self.found.setdefault(kind, []).append(message)

    def warn(self) -> None:
        for kind, messages in self.found.items():
            warnings.warn(f"{self.source}: {len(messages)} {kind} skipped; the first: {messages[0]}", stacklevel=3)


def _box_inside(box: tuple[float, ...], height: int, width: int, slack: float = 0.5) -> bool:
    x, y, w, h = box
    return w > 0 and h > 0 and x >= -slack and y >= -slack and x + w <= width + slack and y + h <= height + slack


def load_face_table(root: str | Path, split: str, crop, size: int, on_error: str = "fail") -> FaceDataset:
    """A class-folder tree with a :data:`FACE_TABLE` (the ExpW subset's layout), each face cut from its image by
    the model's crop rule (``crop``: a :class:`emoscope.models.CropSpec`) around the table's box, at ``size``
    pixels square: the framing the model gets from a face detector's box in the pipeline (no landmarks, so
    no eye levelling). Colour images are read as grey, as the pipeline's gray models see them.

    The class is the image's folder name (:data:`emoscope.labels.LABEL_ALIASES`), checked against the
    table's ``emotion`` column where there is one. Unknown class folders, rows whose file is missing or
    unreadable, and boxes outside their image fail or are skipped (``on_error``), naming the file; images
    in the split's folders that the table leaves out are counted in a warning, and so is a mix of grey
    and colour files.
    """
    from ..align import crop_face

    root = Path(root)
    table = root / FACE_TABLE
    with _open_text(table) as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "x", "y", "w", "h"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{table}: lacks the column(s) {', '.join(sorted(missing))}")
        rows = [row for row in reader if (row.get("split") or Path(row["file"]).parts[0]) == split]
    if not rows:
        raise DatasetError(f"{table}: no rows for split {split!r}")
    problems = _Problems(table, on_error)
    images, indices, grey = [], [], {}
    for row in rows:
        path = root / row["file"]
        label = canonical_label(path.parent.name)
        if label is None or label == "contempt":
            problems.add("files in unknown class folders", f"{path}: unknown class folder {path.parent.name!r}")
            continue
        if row.get("emotion") and canonical_label(row["emotion"]) != label:
            problems.add("rows whose emotion disagrees with their folder",
                         f"{path}: {FACE_TABLE} says {row['emotion']!r}, its folder {path.parent.name!r}")
            continue
        try:
            box = tuple(float(row[k]) for k in ("x", "y", "w", "h"))
        except ValueError:
            problems.add("rows with a malformed box", f"{path}: box {[row[k] for k in 'xywh']} is not four numbers")
            continue
        if not path.is_file():
            problems.add("rows whose file is missing", f"{path}: named in {FACE_TABLE} but missing")
            continue
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None or image.ndim not in (2, 3) or image.dtype != np.uint8:
            problems.add("unreadable images", f"{path}: not a readable 8-bit image")
            continue
        if not _box_inside(box, *image.shape[:2]):
            problems.add("boxes outside their image",
                         f"{path}: face box {box} lies outside the {image.shape[1]}x{image.shape[0]} image")
            continue
        grey[row["file"]] = image.ndim == 2
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        images.append(crop_face(image, box, None, crop, (size, size)))
        indices.append(EMOTIONS.index(label))
    problems.warn()
    greys = sum(grey.values())
    if 0 < greys < len(grey):
        fewer_grey = greys <= len(grey) / 2   # name the rarer kind
        example = next(f for f, g in grey.items() if g == fewer_grey)
        warnings.warn(f"{root}: {greys if fewer_grey else len(grey) - greys} of {len(grey)} images are "
                      f"{'grey' if fewer_grey else 'colour'} and the rest {'colour' if fewer_grey else 'grey'} "
                      f"(e.g. {example}); all are read as grey", stacklevel=2)
    listed = {row["file"] for row in rows}
    unlisted = [p for p in sorted((root / split).rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES
                and p.relative_to(root).as_posix() not in listed] if (root / split).is_dir() else []
    if unlisted:
        warnings.warn(f"{root / split}: {len(unlisted)} images have no row in {FACE_TABLE} and are left out "
                      f"(e.g. {unlisted[0].relative_to(root)})", stacklevel=2)
    if not images:
        raise DatasetError(f"{table}: no usable rows for split {split!r}")
    return FaceDataset(np.stack(images), _one_hot(indices, len(EMOTIONS)), EMOTIONS, f"{root.name}/{split}")
