"""Scoring face detections against labelled boxes: greedy matching, and faces cut out with margins.

One matching rule for the benchmarks and the detector's threshold choice: a detection matches a face
at IoU >= ``MATCH_IOU``, the strongest detections choosing first.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..tracking import iou_matrix

MATCH_IOU = 0.4


def assign(truth: np.ndarray, found: np.ndarray, scores: np.ndarray, min_iou: float = MATCH_IOU) -> np.ndarray:
    """Greedy matching by score: for each detection, the index of the box in ``truth`` it matched, or -1."""
    owner = np.full(len(found), -1)
    if len(truth) and len(found):
        overlaps = iou_matrix(np.asarray(found, np.float32), np.asarray(truth, np.float32))
        taken = np.zeros(len(truth), bool)
        for d in np.argsort(-np.asarray(scores), kind="stable"):
            candidates = np.where(taken, 0, overlaps[d])
            if candidates.max() >= min_iou:
                owner[d] = candidates.argmax()
                taken[owner[d]] = True
    return owner


def cut_out(image: np.ndarray, box, sides: float, top: float | None = None,
            bottom: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The face ``box`` with margins of ``sides`` x its width left and right and ``top``/``bottom`` x its
    height above and below (default: ``sides``), edges replicated where the cut leaves the image; and
    the cut's top-left corner in the image as x, y, 0, 0 (subtract it from a box to have it in the cut)."""
    x, y, w, h = (float(v) for v in box)
    top, bottom = sides if top is None else top, sides if bottom is None else bottom
    x0, y0 = round(x - sides * w), round(y - top * h)
    x1, y1 = max(x0 + 1, round(x + w + sides * w)), max(y0 + 1, round(y + h + bottom * h))
    height, width = image.shape[:2]
    pad_top, pad_left = max(0, -y0), max(0, -x0)
    padded = cv2.copyMakeBorder(image, pad_top, max(0, y1 - height), pad_left, max(0, x1 - width),
                                cv2.BORDER_REPLICATE)
    return padded[y0 + pad_top:y1 + pad_top, x0 + pad_left:x1 + pad_left], np.array([x0, y0, 0, 0], np.float32)
