"""Box-aware augmentation for detector training: random scale and square crop, flip, colour, blur, JPEG.

Boxes are x, y, w, h in pixels and follow every geometric step. A face cut by the crop to less than
half of itself, or left smaller than ``min_face`` pixels, becomes an ignore region: the model is
neither asked to find it nor punished for finding it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..detection.onnx_detector import DetectorInfo


@dataclass(frozen=True)
class DetectorAugment:
    size: int = 320                     # square training crop
    scale_range: tuple[float, float] = (0.4, 2.2)   # photo rescaled by a log-uniform factor in this range
    min_face: float = 6.0               # faces smaller than this (after scaling) are ignored
    min_visible: float = 0.5            # share of a face that must stay inside the crop to count
    flip: float = 0.5
    colour: float = 0.8
    gray: float = 0.05
    blur: float = 0.15
    jpeg: float = 0.2


def _transform(boxes: np.ndarray, scale: float, dx: float, dy: float) -> np.ndarray:
    out = boxes * scale
    out[:, 0] -= dx
    out[:, 1] -= dy
    return out


def _cut(boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to the crop, and the share of each box's area that stayed inside."""
    x1, y1 = np.clip(boxes[:, 0], 0, size), np.clip(boxes[:, 1], 0, size)
    x2, y2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, size), np.clip(boxes[:, 1] + boxes[:, 3], 0, size)
    clipped = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    area = np.maximum(boxes[:, 2] * boxes[:, 3], 1e-6)
    return clipped, clipped[:, 2] * clipped[:, 3] / area


def geometric(image: np.ndarray, boxes: np.ndarray, ignore: np.ndarray, rng: np.random.Generator,
              cfg: DetectorAugment, scale: float | None = None, offset: tuple[float, float] | None = None,
              flip: bool | None = None):
    """Scale, crop to ``cfg.size`` squared (padding where the photo is smaller), maybe flip.

    Returns the crop and its ``boxes`` and ``ignore`` arrays. ``scale``, ``offset`` and ``flip``
    are drawn from ``rng`` unless given (the tests give them).
    """
    size = cfg.size
    if scale is None:
        scale = float(np.exp(rng.uniform(*np.log(cfg.scale_range))))
    height, width = image.shape[:2]
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    scaled = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    if offset is None:
        offset = (rng.uniform(min(0, new_w - size), max(0, new_w - size)),
                  rng.uniform(min(0, new_h - size), max(0, new_h - size)))
    dx, dy = int(round(offset[0])), int(round(offset[1]))
    crop = np.full((size, size, 3), DetectorInfo.pad_value, np.uint8)   # the grey inference pads with
    sx0, sy0 = max(dx, 0), max(dy, 0)
    sx1, sy1 = min(dx + size, new_w), min(dy + size, new_h)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - dy:sy1 - dy, sx0 - dx:sx1 - dx] = scaled[sy0:sy1, sx0:sx1]
    boxes, visible = _cut(_transform(boxes.astype(np.float32), scale, dx, dy), size)
    ignore, _ = _cut(_transform(ignore.astype(np.float32), scale, dx, dy), size)
    keep = (visible >= cfg.min_visible) & (np.minimum(boxes[:, 2], boxes[:, 3]) >= cfg.min_face)
    ignore = np.concatenate([ignore, boxes[~keep]])
    boxes = boxes[keep]
    ignore = ignore[(ignore[:, 2] > 0) & (ignore[:, 3] > 0)]
    if flip is None:
        flip = rng.random() < cfg.flip
    if flip:
        crop = crop[:, ::-1].copy()
        boxes[:, 0] = size - boxes[:, 0] - boxes[:, 2]
        ignore[:, 0] = size - ignore[:, 0] - ignore[:, 2]
    return crop, boxes, ignore


def photometric(image: np.ndarray, rng: np.random.Generator, cfg: DetectorAugment) -> np.ndarray:
    """Brightness, contrast, saturation, grey, blur and JPEG artefacts; boxes are unaffected."""
    out = image
    if rng.random() < cfg.colour:
        work = out.astype(np.float32)
        gray = work.mean(axis=2, keepdims=True)
        work = gray + (work - gray) * rng.uniform(0.5, 1.5)
        work = work * rng.uniform(0.6, 1.4) + rng.uniform(-32, 32)
        out = np.clip(work, 0, 255).astype(np.uint8)
    if rng.random() < cfg.gray:
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < cfg.blur:
        kernel = int(rng.choice([3, 5]))
        out = cv2.GaussianBlur(out, (kernel, kernel), 0)
    if rng.random() < cfg.jpeg:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 90))])
        if ok:
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out


def augment(image, boxes, ignore, rng, cfg: DetectorAugment):
    crop, boxes, ignore = geometric(image, boxes, ignore, rng, cfg)
    return photometric(crop, rng, cfg), boxes, ignore
