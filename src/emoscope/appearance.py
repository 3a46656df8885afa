"""Cheap appearance descriptors: is this the same person, is this the same shot?

A face's look has two halves, both blind to the lighting's brightness and colour cast: the
layout of its box as a 16x16 gray thumbnail (zero mean, unit length), and its colours (hair,
skin, collar) as a hue/saturation histogram after gray-world white balance. Similarity is the
mean of the thumbnails' correlation (the best over a box moved by a pixel of the thumbnail) and the
histograms' intersection: 1 for the same picture, lower for another person; the thresholds that
tell them apart are in ``StreamSettings``, chosen in benchmarks/tracking.py.
"""
from __future__ import annotations

import statistics
from collections import deque

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_THUMB = 16
_SHIFT = 1                          # thumbnail pixels a box may have moved by
_BINS = (8, 4)                      # hue, saturation
_THUMB_LENGTH = _THUMB * _THUMB
_FRAME_THUMB = (64, 48)
_FRAME_BINS = (8, 4, 4)            # hue, saturation, value


def _look(patch: np.ndarray) -> np.ndarray:
    gray = cv2.resize(cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY), (_THUMB, _THUMB),
                      interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    gray -= gray.mean()
    gray /= np.linalg.norm(gray) + 1e-6
    balanced = patch.astype(np.float32) * (128.0 / (patch.reshape(-1, 3).mean(0) + 1e-6))
    hsv = cv2.cvtColor(np.clip(balanced, 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, list(_BINS), [0, 180, 0, 256]).ravel()
    return np.concatenate([gray, hist / max(hist.sum(), 1e-9)])


def face_looks(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """One descriptor per box (N, D); boxes as x, y, w, h in ``image`` (BGR)."""
    height, width = image.shape[:2]
    looks = np.zeros((len(boxes), _THUMB_LENGTH + _BINS[0] * _BINS[1]), np.float32)
    for i, (x, y, w, h) in enumerate(np.asarray(boxes, np.float32).reshape(-1, 4)):
        x0, y0 = int(max(0, x)), int(max(0, y))
        x1, y1 = int(min(width, x + w)), int(min(height, y + h))
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            looks[i] = _look(image[y0:y1, x0:x1])
    return looks


def _layout_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correlation of the thumbnails' inner parts, the best over shifts of one thumbnail pixel either
    way: a detector's box moves by a few pixels from frame to frame, and a small face's thumbnail
    changes more with that than with the face (measured in benchmarks/tracking.py)."""
    inner = _THUMB - 2 * _SHIFT
    centres = _unit(a[:, :_THUMB_LENGTH].reshape(-1, _THUMB, _THUMB)[:, _SHIFT:_THUMB - _SHIFT, _SHIFT:_THUMB - _SHIFT])
    # every inner-sized window of b's thumbnails: (M, shifts, shifts, inner, inner)
    windows = sliding_window_view(b[:, :_THUMB_LENGTH].reshape(-1, _THUMB, _THUMB), (inner, inner), axis=(1, 2))
    shifted = _unit(windows.reshape(-1, inner, inner))                         # (M * shifts², inner²)
    # einsum, not a BLAS product: products this small gain nothing from BLAS threads, whose spinning takes
    # the core from a stream's other work (a video held to one core ran at half speed; measured)
    correlation = np.einsum("ik,jk->ij", centres, shifted).reshape(len(a), len(b), -1)
    return np.clip(correlation.max(axis=2), 0, 1)


def _unit(thumbs: np.ndarray) -> np.ndarray:
    flat = thumbs.reshape(len(thumbs), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    return flat / (np.linalg.norm(flat, axis=1, keepdims=True) + 1e-6)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Similarity of every look in ``a`` (N, D) with every look in ``b`` (M, D): (N, M) in 0..1.
    ``a``'s thumbnails are the fixed ones (their centres) and ``b``'s are shifted over them, so the
    measure is nearly, not exactly, symmetric: callers put what they know (a track) first."""
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    colours = np.minimum(a[:, None, _THUMB_LENGTH:], b[None, :, _THUMB_LENGTH:]).sum(-1)
    return 0.5 * _layout_similarity(a, b) + 0.5 * colours


class SceneCuts:
    """Tells, frame by frame, whether the picture changed too much to be the same shot: the colour
    histograms of this frame and the last one differ by more than ``threshold`` (0..1) and by much
    more than frames of this shot usually do (so that a pan or a zoom is not a cut)."""

    def __init__(self, threshold: float, history: int = 10, jump: float = 3.0):
        self.threshold, self.jump = threshold, jump
        self._last: np.ndarray | None = None
        self._changes: deque[float] = deque(maxlen=history)

    def is_cut(self, image: np.ndarray) -> bool:
        small = cv2.resize(image, _FRAME_THUMB, interpolation=cv2.INTER_AREA)
        hist = cv2.calcHist([cv2.cvtColor(small, cv2.COLOR_BGR2HSV)], [0, 1, 2], None, list(_FRAME_BINS),
                            [0, 180, 0, 256, 0, 256]).ravel()
        hist /= max(hist.sum(), 1e-9)
        last, self._last = self._last, hist
        if last is None:
            return False
        change = 1.0 - float(np.minimum(last, hist).sum())
        usual = statistics.median(self._changes) if self._changes else 0.0   # numpy's: 0.14 ms a frame
        cut = change > self.threshold and change > self.jump * usual
        if cut:
            self._changes.clear()
        else:
            self._changes.append(change)
        return cut
