"""Cheap appearance descriptors: is this the same person, is this the same scene?

A face's look is a hue/saturation histogram of three horizontal bands of its box (hair, face,
chin and collar), so it holds both colours and their rough layout; a frame's look is one
histogram of a thumbnail. Similarity is histogram intersection, from 0 (nothing shared) to 1.
"""
from __future__ import annotations

import cv2
import numpy as np

_BANDS = 3
_BINS = (8, 4)            # hue, saturation
_FACE_SIZE = (24, 24)
_FRAME_SIZE = (64, 48)


def _histogram(hsv: np.ndarray) -> np.ndarray:
    hist = cv2.calcHist([hsv], [0, 1], None, list(_BINS), [0, 180, 0, 256]).ravel()
    return hist / max(hist.sum(), 1e-9)


def face_looks(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """One descriptor per box (N, D), each summing to 1; boxes as x, y, w, h in ``image``."""
    height, width = image.shape[:2]
    looks = np.zeros((len(boxes), _BANDS * _BINS[0] * _BINS[1]), np.float32)
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, np.float32).reshape(-1, 4)):
        x0, y0 = int(max(0, x)), int(max(0, y))
        x1, y1 = int(min(width, x + w)), int(min(height, y + h))
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        patch = cv2.cvtColor(cv2.resize(image[y0:y1, x0:x1], _FACE_SIZE, interpolation=cv2.INTER_AREA),
                             cv2.COLOR_BGR2HSV)
        band = _FACE_SIZE[1] // _BANDS
        looks[i] = np.concatenate([_histogram(patch[b * band:(b + 1) * band]) for b in range(_BANDS)]) / _BANDS
    return looks


def frame_look(image: np.ndarray) -> np.ndarray:
    """A descriptor of the whole frame, to notice scene cuts."""
    small = cv2.resize(image, _FRAME_SIZE, interpolation=cv2.INTER_AREA)
    return _histogram(cv2.cvtColor(small, cv2.COLOR_BGR2HSV))


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Histogram intersection of every row of ``a`` (N, D) with every row of ``b`` (M, D): (N, M) in 0..1."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    return np.minimum(a[:, None, :], b[None, :, :]).sum(-1)
