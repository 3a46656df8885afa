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


# A warp that shrinks by more than 2x samples pixels it skips between (aliasing: a large face's skin and hair
# become speckle); the face is then first averaged down by pixel areas (``benchmarks/crop_resampling.py``).
_AREA_BEFORE_WARP = 0.5
_WARP_SCALE_AFTER_AREA = 0.75   # the bilinear shrink left to the warp, about the training crops' (ExpW's: ~0.8)


def crop_face(image: np.ndarray, box, landmarks, spec: CropSpec, size: tuple[int, int],
              out: np.ndarray | None = None) -> np.ndarray:
    """The face crop of ``size`` (height, width) from ``image``; pixels beyond the border are replicated.
    ``out``: a contiguous uint8 array of the crop's shape to write it into (no new array)."""
    matrix = crop_transform(box, landmarks, spec, size)
    scale = math.hypot(matrix[0, 0], matrix[0, 1])   # crop pixels per image pixel
    if scale < _AREA_BEFORE_WARP and np.isfinite(matrix).all():
        image, matrix = _area_shrunk(image, matrix, size, scale / _WARP_SCALE_AFTER_AREA)
    return cv2.warpAffine(image, matrix, (size[1], size[0]), dst=out, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def _area_shrunk(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int],
                 factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of ``image`` the crop covers, shrunk by ``factor`` averaging pixel areas, and the crop's
    matrix from it. The part reaches the image's border wherever the crop does, so replicating its border
    in the warp replicates the image's."""
    height, width = size
    corners = cv2.invertAffineTransform(matrix) @ np.array([[0, width, 0, width], [0, 0, height, height], [1, 1, 1, 1]],
                                                           np.float64)
    pad = math.ceil(1.0 / factor) + 1   # a shrunk pixel beyond the crop's edge on every side, for the bilinear step
    x0, y0 = (max(0, int(math.floor(v)) - pad) for v in corners.min(axis=1))
    x1 = min(image.shape[1], int(math.ceil(corners[0].max())) + pad)
    y1 = min(image.shape[0], int(math.ceil(corners[1].max())) + pad)
    if x1 - x0 < 2 or y1 - y0 < 2:   # the crop lies wholly outside the image: nothing to average
        return image, matrix
    part = image[y0:y1, x0:x1]
    small = cv2.resize(part, (max(1, round(part.shape[1] * factor)), max(1, round(part.shape[0] * factor))),
                       interpolation=cv2.INTER_AREA)
    fx, fy = small.shape[1] / part.shape[1], small.shape[0] / part.shape[0]
    # image x = (small u + 0.5) / fx - 0.5 + x0 (pixel centres), and likewise for y
    to_image = np.array([[1 / fx, 0, 0.5 / fx - 0.5 + x0], [0, 1 / fy, 0.5 / fy - 0.5 + y0], [0, 0, 1]])
    return small, matrix @ to_image
