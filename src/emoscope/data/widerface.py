"""WIDER FACE in its official label format, and the project's fixed train / held-out split of it.

Label file: an image path (relative to ``WIDER_<split>/images/``), a line with the number of boxes,
then one line per box ``x y w h blur expression illumination invalid occlusion pose``; an image
with no face has count 0 followed by one line of zeros. Boxes flagged invalid, and boxes of zero
width or height, are kept apart as ``ignore`` regions: training neither rewards nor punishes
detections there.

The held-out part is chosen by a hash of the image's path, so it is the same on every machine and
never depends on the order of the files; training never reads it. It is cut in two by the same hash:
``val`` (a third) for choosing thresholds and input policy, ``test`` for the numbers reported.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .dataset import DatasetError

log = logging.getLogger(__name__)

SPLITS = ("train", "val")
HELD_OUT_PERCENT = 15
VAL_PERCENT = 5                 # of the held-out 15 %, the part that chooses thresholds
PARTS = ("train", "held_out", "val", "test", "all")


@dataclass
class WiderImage:
    """One photo's labels: ``boxes`` (N, 4) x, y, w, h of faces to find, ``ignore`` (M, 4) regions to skip."""

    path: Path
    boxes: np.ndarray
    ignore: np.ndarray


def _bucket(name: str) -> int:
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) % 100


def part_of(name: str) -> str:
    """``train``, ``val`` or ``test``: which part of the split ``name`` belongs to."""
    bucket = _bucket(name)
    return "val" if bucket < VAL_PERCENT else "test" if bucket < HELD_OUT_PERCENT else "train"


def parse_labels(label_file: Path, image_root: Path) -> list[WiderImage]:
    """Every entry of one label file; one clear error naming the file and line where it is malformed.

    Boxes reaching outside the image are clipped when the images are loaded (see ``clip_boxes``);
    zero-sized boxes become ignore regions and are counted in one warning.
    """
    lines = Path(label_file).read_text().splitlines()
    entries, index, degenerate = [], 0, 0

    def fail(line_no: int, what: str):
        raise DatasetError(f"{label_file}:{line_no}: {what}")

    while index < len(lines):
        name = lines[index].strip()
        if not name:
            index += 1
            continue
        if index + 1 >= len(lines):
            fail(index + 1, f"entry {name!r} ends before its box count")
        try:
            count = int(lines[index + 1])
        except ValueError:
            fail(index + 2, f"expected a box count, got {lines[index + 1]!r}")
        rows = max(count, 1)            # a zero-face entry still has one line of zeros
        if count < 0 or index + 2 + rows > len(lines):
            fail(index + 2, f"entry {name!r} promises {count} boxes but the file ends first")
        boxes, ignore = [], []
        for offset in range(count):
            line_no = index + 3 + offset
            fields = lines[line_no - 1].split()
            try:
                x, y, w, h, invalid = (float(fields[0]), float(fields[1]), float(fields[2]), float(fields[3]),
                                       int(fields[7]))
            except (ValueError, IndexError):
                fail(line_no, f"expected 'x y w h blur expression illumination invalid occlusion pose', "
                              f"got {lines[line_no - 1]!r}")
            if w <= 0 or h <= 0:
                degenerate += 1
                ignore.append((x, y, max(w, 1.0), max(h, 1.0)))
            elif invalid:
                ignore.append((x, y, w, h))
            else:
                boxes.append((x, y, w, h))
        entries.append(WiderImage(Path(image_root) / name, np.array(boxes, np.float32).reshape(-1, 4),
                                  np.array(ignore, np.float32).reshape(-1, 4)))
        index += 2 + rows
    if degenerate:
        log.warning("%s: %d zero-sized boxes kept as ignore regions", label_file, degenerate)
    return entries


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes cut to the image; a box wholly outside comes back with zero width or height."""
    x1 = np.clip(boxes[:, 0], 0, width)
    y1 = np.clip(boxes[:, 1], 0, height)
    x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
    y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.float32)


def load_widerface(root: Path, part: str = "train") -> list[WiderImage]:
    """The entries of both label files in ``root``, filtered to ``part``: one of :data:`PARTS`
    (``held_out`` is ``val`` and ``test`` together)."""
    root = Path(root)
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    entries = []
    for split in SPLITS:
        label_file = root / "wider_face_split" / f"wider_face_{split}_bbx_gt.txt"
        if not label_file.is_file():
            raise DatasetError(f"{label_file}: WIDER FACE label file not found")
        entries += parse_labels(label_file, root / f"WIDER_{split}" / "images")
    if part == "all":
        return entries
    wanted = ("val", "test") if part == "held_out" else (part,)
    return [e for e in entries if part_of(e.path.relative_to(root).as_posix()) in wanted]


def read_images(entries: list[WiderImage]) -> list[tuple[np.ndarray, WiderImage]]:
    """Decode every photo once (BGR) with its boxes clipped to it; unreadable photos are skipped and counted."""
    loaded, unreadable, outside = [], 0, 0
    for entry in entries:
        image = cv2.imread(str(entry.path), cv2.IMREAD_COLOR)
        if image is None:
            unreadable += 1
            continue
        height, width = image.shape[:2]
        boxes = clip_boxes(entry.boxes, width, height)
        inside = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        outside += int((~inside).sum())
        loaded.append((image, WiderImage(entry.path, boxes[inside], clip_boxes(entry.ignore, width, height))))
    if unreadable:
        log.warning("%d WIDER FACE photos could not be read and were skipped", unreadable)
    if outside:
        log.warning("%d WIDER FACE boxes lie wholly outside their photo and were dropped", outside)
    return loaded
