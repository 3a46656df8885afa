"""Face crops listed in a table of boxes (the ExpW subset's layout): each face cut out by the model's crop rule."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import cv2
import numpy as np

from ..labels import EMOTIONS, canonical_label
from .dataset import IMAGE_SUFFIXES, DatasetError, FaceDataset, one_hot, open_text


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
    with open_text(table) as handle:
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
    return FaceDataset(np.stack(images), one_hot(indices, len(EMOTIONS)), EMOTIONS, f"{root.name}/{split}")
