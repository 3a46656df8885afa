"""Face crops as a model expects them: one affine warp from the image to the model's input,
levelling the eyes when landmarks are known and framing the face as the model's CropSpec says."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .models import CropSpec


def crop_transform(box, landmarks, spec: CropSpec, size: tuple[int, int]) -> np.ndarray:
    """The 2x3 affine matrix that maps image pixels onto a (height, width) = size crop."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * (1.0 + 2.0 * spec.margin)
    cx, cy = x + w / 2.0, y + h / 2.0 + spec.shift_y * side
    angle = 0.0
    if spec.align_eyes and landmarks is not None:
        (rx, ry), (lx, ly) = landmarks[0], landmarks[1]
        angle = math.degrees(math.atan2(ly - ry, lx - rx))
    out_h, out_w = size
    matrix = cv2.getRotationMatrix2D((cx, cy), angle, out_w / side)
    matrix[0, 2] += out_w / 2.0 - cx
    matrix[1, 2] += out_h / 2.0 - cy
    return matrix


def crop_face(image: np.ndarray, box, landmarks, spec: CropSpec, size: tuple[int, int],
              out: np.ndarray | None = None) -> np.ndarray:
    """The face crop of ``size`` (height, width) from ``image``; pixels beyond the border are replicated.
    ``out``: a contiguous uint8 array of the crop's shape to write it into (no new array)."""
    matrix = crop_transform(box, landmarks, spec, size)
    return cv2.warpAffine(image, matrix, (size[1], size[0]), dst=out, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
