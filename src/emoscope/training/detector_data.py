"""Training samples of the face detector: WIDER FACE photos and close-up face crops, with landmarks.

Landmarks are pseudo-labels: YuNet (OpenCV zoo, MIT) run on each training photo, its five points
kept for the labelled face its box overlaps best (IoU >= ``MATCH_IOU``); a face YuNet does not find
has no landmarks and trains only its box. They are computed once per run folder and cached there.

Close-up crops come from a folder with a ``faces.csv`` (ExpW's layout: ``file, split, x, y, w, h``,
the face box inside each crop). Such crops show one labelled face; other faces that YuNet finds in a
crop become ignore regions, so the model is not punished for finding them.

Tight grey face crops without boxes (FER2013's 48x48 faces: soft, expressive, cut at the brow and
chin, like aligned movie faces and webcam close-ups) take YuNet's box and landmarks as pseudo-labels;
a face YuNet does not find is left out.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import cv2
import numpy as np

from ..data.widerface import read_images
from ..detection.base import DetectorSettings
from ..detection.yunet import YuNetDetector
from ..evaluation.detection import MATCH_IOU
from ..tracking import iou_matrix
from .detector_augment import DetectorSample
from .errors import TrainingError

log = logging.getLogger(__name__)

PSEUDO_LABEL_SCORE = 0.5          # YuNet's threshold for pseudo-labels: low, since boxes come from the labels
CROP_UPSCALE = 2                  # small crops are enlarged before YuNet looks at them
TIGHT_CROP_PAD = 0.5              # a tight face crop is padded by this share of its side (border repeated) ...
TIGHT_CROP_UPSCALE = 4            # ... and enlarged, so that YuNet sees a whole face of a size it finds


class PseudoLabeller:
    """YuNet's landmarks for labelled faces, and its detections that match no label."""

    def __init__(self, yunet_path: Path):
        self._yunet = YuNetDetector(yunet_path, DetectorSettings(score_threshold=PSEUDO_LABEL_SCORE, min_face=1))

    def detect(self, image: np.ndarray, upscale: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """YuNet's boxes (M, 4) and landmarks (M, 5, 2) in ``image``, looked for in a copy ``upscale`` times larger."""
        big = cv2.resize(image, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_LINEAR) if upscale > 1 else image
        found = self._yunet.detect(big)
        return found.boxes / upscale, found.landmarks / upscale

    def __call__(self, image: np.ndarray, boxes: np.ndarray, upscale: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks (N, 5, 2) for ``boxes`` (NaN where unmatched) and the unmatched detections (M, 4)."""
        found_boxes, found_points = self.detect(image, upscale)
        landmarks = np.full((len(boxes), 5, 2), np.nan, np.float32)
        matched = np.zeros(len(found_boxes), bool)
        if len(boxes) and len(found_boxes):
            overlaps = iou_matrix(boxes, found_boxes)
            for face in np.argsort(-overlaps.max(1)):
                candidates = np.where(matched, 0, overlaps[face])
                if candidates.max() >= MATCH_IOU:
                    best = int(candidates.argmax())
                    matched[best] = True
                    landmarks[face] = found_points[best]
        return landmarks, found_boxes[~matched]


def _cached_labels(cache: Path | None, keys: list[str], compute) -> list[np.ndarray]:
    """``compute(i)`` for each of ``keys``, read from ``cache`` where it holds the same keys (None: no cache)."""
    if cache is None:
        return [compute(i) for i in range(len(keys))]
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as stored:
            if list(stored["keys"]) == keys:
                return [stored[f"l{i}"] for i in range(len(keys))]
            log.warning("%s: made for other photos; computing the landmarks again", cache)
    values = [compute(i) for i in range(len(keys))]
    np.savez_compressed(cache, keys=np.array(keys), **{f"l{i}": v for i, v in enumerate(values)})
    return values


def wider_samples(entries, labeller: PseudoLabeller | None, cache: Path | None) -> list[DetectorSample]:
    """WIDER photos as samples, with YuNet's landmarks where a labeller is given."""
    loaded = read_images(entries)
    if labeller is None:
        return [DetectorSample.of(image, entry.boxes, entry.ignore) for image, entry in loaded]
    keys = [str(entry.path) for _, entry in loaded]
    landmarks = _cached_labels(cache, keys, lambda i: labeller(loaded[i][0], loaded[i][1].boxes)[0])
    found = sum(int((~np.isnan(points[:, 0, 0])).sum()) for points in landmarks)
    log.info("landmarks for %d of %d WIDER faces", found, sum(len(entry.boxes) for _, entry in loaded))
    return [DetectorSample.of(image, entry.boxes, entry.ignore, points)
            for (image, entry), points in zip(loaded, landmarks)]


def face_crop_samples(root: Path, split: str, labeller: PseudoLabeller | None, cache: Path | None,
                      limit: int | None = None) -> list[DetectorSample]:
    """The crops of ``split`` listed in ``root/faces.csv``; rows whose file is missing or unreadable,
    or whose box lies outside its crop, are left out and counted in one warning."""
    table = Path(root) / "faces.csv"
    if not table.is_file():
        raise TrainingError(f"{table}: no faces.csv (file, split, x, y, w, h per face crop)")
    with table.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("split") == split]
    if rows and not {"file", "x", "y", "w", "h"} <= set(rows[0]):
        raise TrainingError(f"{table}: needs the columns file, split, x, y, w, h")
    rows = rows[:limit] if limit else rows
    crops, problems = [], {"missing or unreadable": 0, "box outside its crop": 0}
    for row in rows:
        image = cv2.imread(str(Path(root) / row["file"]), cv2.IMREAD_COLOR)
        if image is None:
            problems["missing or unreadable"] += 1
            continue
        box = np.array([[float(row[k]) for k in ("x", "y", "w", "h")]], np.float32)
        height, width = image.shape[:2]
        if box[0, 2] <= 0 or box[0, 3] <= 0 or box[0, 0] < -1 or box[0, 1] < -1 or \
                box[0, 0] + box[0, 2] > width + 1 or box[0, 1] + box[0, 3] > height + 1:
            problems["box outside its crop"] += 1
            continue
        crops.append((row["file"], image, box))
    for problem, count in problems.items():
        if count:
            log.warning("%s: %d %s rows left out (%s)", table, count, split, problem)
    if labeller is None:
        return [DetectorSample.of(image, box) for _, image, box in crops]
    labels = _cached_labels(cache, [name for name, _, _ in crops],
                            lambda i: np.concatenate([a.reshape(-1) for a in
                                                      labeller(crops[i][1], crops[i][2], CROP_UPSCALE)]))
    samples = []
    for (_, image, box), flat in zip(crops, labels):
        landmarks, others = flat[:10].reshape(1, 5, 2), flat[10:].reshape(-1, 4)
        centres = others[:, :2] + others[:, 2:] / 2     # YuNet's own box of the labelled face is no other face
        x, y, w, h = box[0]
        others = others[~((centres[:, 0] > x) & (centres[:, 0] < x + w) & (centres[:, 1] > y) & (centres[:, 1] < y + h))]
        samples.append(DetectorSample.of(image, box, others, landmarks))
    return samples


def _tight_crop_label(face: np.ndarray, labeller: PseudoLabeller) -> np.ndarray:
    """YuNet's box (4, cut to the crop) and landmarks (10, as YuNet puts them) of the face filling the grey
    crop ``face``; NaN where YuNet finds no face overlapping the crop at IoU >= ``MATCH_IOU``."""
    side = face.shape[0]
    pad = int(round(side * TIGHT_CROP_PAD))
    padded = cv2.cvtColor(cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE), cv2.COLOR_GRAY2BGR)
    boxes, points = labeller.detect(padded, TIGHT_CROP_UPSCALE)
    overlaps = iou_matrix(np.array([[pad, pad, face.shape[1], side]], np.float32), boxes)[0] if len(boxes) else []
    if not len(overlaps) or overlaps.max() < MATCH_IOU:
        return np.full(14, np.nan, np.float32)
    best = int(overlaps.argmax())
    x0, y0 = np.maximum(boxes[best, :2] - pad, 0)
    x1, y1 = np.minimum(boxes[best, :2] + boxes[best, 2:] - pad, [face.shape[1], side])
    return np.concatenate([[x0, y0, x1 - x0, y1 - y0], (points[best] - pad).reshape(-1)]).astype(np.float32)


def tight_crop_samples(faces: list[np.ndarray], keys: list[str], labeller: PseudoLabeller | None,
                       cache: Path | None) -> list[DetectorSample]:
    """Grey face crops that the face fills (FER2013's), each with YuNet's box and landmarks as its label;
    ``keys`` name the faces in the cache (a key of the face's place and its pixels' checksum is safe).
    Faces YuNet does not find are left out and counted in the log."""
    if labeller is None:
        raise TrainingError("tight face crops have no boxes: they need YuNet's pseudo-labels (--landmarks-from)")
    labels = _cached_labels(cache, keys, lambda i: _tight_crop_label(faces[i], labeller))
    samples = [DetectorSample.of(cv2.cvtColor(face, cv2.COLOR_GRAY2BGR), label[:4], None, label[4:].reshape(1, 5, 2))
               for face, label in zip(faces, labels) if not np.isnan(label[0])]
    log.info("tight face crops: YuNet labelled %d of %d; the rest are left out", len(samples), len(faces))
    return samples
