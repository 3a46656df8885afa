"""Box-aware augmentation for detector training, for faces of every size from 8 px to the whole input.

Every training crop is one of four kinds, drawn per crop (``DetectorAugment.mix``):

- ``scene``: a WIDER photo rescaled by a log-uniform factor and cut to a square: crowds, small faces;
- ``close_up``: the crop anchored on one face of the photo, drawn to fill 30-100% of the crop's
  side, placed anywhere that keeps most of it inside (faces cut by the border are what webcams and
  cropped photos show);
- ``crop``: the same framing of an extra close-up source (the ExpW face crops), padded with grey;
- ``tiles``: a grid of such close-ups on a plain or noisy background, like a video call.

Boxes are x, y, w, h in pixels and landmarks (N, 5, 2) follow every geometric step (NaN where a face
has none); a flip swaps the left and right points. A face cut by the crop to less than
``min_visible`` of itself, or left smaller than ``min_face`` pixels, becomes an ignore region: the
model is neither asked to find it nor punished for finding it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..detection.onnx_detector import DetectorInfo

FLIPPED_LANDMARKS = [1, 0, 2, 4, 3]      # right eye <-> left eye, right <-> left mouth corner
TILE_GRIDS = ((1, 2), (2, 1), (2, 2), (2, 3), (3, 3), (3, 4))


@dataclass
class DetectorSample:
    """One photo with ``boxes`` (N, 4) to find, ``ignore`` regions (M, 4) and ``landmarks`` (N, 5, 2)."""

    image: np.ndarray
    boxes: np.ndarray
    ignore: np.ndarray
    landmarks: np.ndarray

    @classmethod
    def of(cls, image, boxes, ignore=None, landmarks=None) -> "DetectorSample":
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        ignore = np.zeros((0, 4), np.float32) if ignore is None else np.asarray(ignore, np.float32).reshape(-1, 4)
        if landmarks is None:
            landmarks = np.full((len(boxes), 5, 2), np.nan, np.float32)
        return cls(image, boxes, ignore, np.asarray(landmarks, np.float32).reshape(-1, 5, 2))


@dataclass(frozen=True)
class DetectorAugment:
    size: int = 320                     # square training crop
    scale_range: tuple[float, float] = (0.4, 2.2)   # scene: photo rescaled by a log-uniform factor in this range
    fill_range: tuple[float, float] = (0.3, 1.0)    # close-up: face's longer side as a share of the crop's
    tile_fill_range: tuple[float, float] = (0.35, 0.9)   # tiles: the same, as a share of the tile's
    max_upscale: float = 4.0            # close-up: never enlarge a face more than this
    close_up_min_face: float = 20.0     # close-up: faces smaller than this in the photo are not anchors
    mix: tuple[float, float, float, float] = (0.5, 0.2, 0.15, 0.15)   # scene, close_up, crop, tiles
    min_face: float = 6.0               # faces smaller than this (after scaling) are ignored
    min_visible: float = 0.5            # share of a face that must stay inside the crop to count
    flip: float = 0.5
    colour: float = 0.8
    low_light: float = 0.0              # chance of a dark, noisy crop (a night scene, a film's frame)
    low_light_gain: tuple[float, float] = (0.15, 0.6)   # its levels scaled by a factor drawn in this range
    low_light_noise: float = 8.0        # the sensor noise's largest standard deviation, grey levels
    gray: float = 0.05
    blur: float = 0.15
    jpeg: float = 0.2


def _cut(boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to the crop, and the share of each box's area that stayed inside."""
    x1, y1 = np.clip(boxes[:, 0], 0, size), np.clip(boxes[:, 1], 0, size)
    x2, y2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, size), np.clip(boxes[:, 1] + boxes[:, 3], 0, size)
    clipped = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    area = np.maximum(boxes[:, 2] * boxes[:, 3], 1e-6)
    return clipped, clipped[:, 2] * clipped[:, 3] / area


def _moved(boxes: np.ndarray, scale: float, dx: int, dy: int) -> np.ndarray:
    out = boxes * scale
    out[:, 0] -= dx
    out[:, 1] -= dy
    return out


def geometric(sample: DetectorSample, rng: np.random.Generator, cfg: DetectorAugment, scale: float | None = None,
              offset: tuple[float, float] | None = None, flip: bool | None = None) -> DetectorSample:
    """Scale by ``scale``, cut the square ``cfg.size`` whose corner is at ``offset`` in the scaled
    photo (grey where it leaves the photo), maybe flip. Each is drawn from ``rng`` unless given
    (a scene crop; the tests and the close-up framing give them)."""
    size = cfg.size
    if scale is None:
        scale = float(np.exp(rng.uniform(*np.log(cfg.scale_range))))
    height, width = sample.image.shape[:2]
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    if offset is None:
        offset = (rng.uniform(min(0, new_w - size), max(0, new_w - size)),
                  rng.uniform(min(0, new_h - size), max(0, new_h - size)))
    dx, dy = int(round(offset[0])), int(round(offset[1]))
    if scale < 1:       # shrink with area averaging, then cut
        scaled = cv2.resize(sample.image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        crop = np.full((size, size, 3), DetectorInfo.pad_value, np.uint8)   # the grey inference pads with
        sx0, sy0 = max(dx, 0), max(dy, 0)
        sx1, sy1 = min(dx + size, new_w), min(dy + size, new_h)
        if sx1 > sx0 and sy1 > sy0:
            crop[sy0 - dy:sy1 - dy, sx0 - dx:sx1 - dx] = scaled[sy0:sy1, sx0:sx1]
    else:               # enlarge only the part that lands in the crop (a 4x close-up of a big photo is cheap)
        # warpAffine maps pixel centres; boxes use pixel corners: shift by half a pixel per unit of scale
        shift = 0.5 * (scale - 1)
        matrix = np.float32([[scale, 0, shift - dx], [0, scale, shift - dy]])
        crop = cv2.warpAffine(sample.image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(DetectorInfo.pad_value,) * 3)
    boxes, visible = _cut(_moved(sample.boxes.astype(np.float32), scale, dx, dy), size)
    ignore, _ = _cut(_moved(sample.ignore.astype(np.float32), scale, dx, dy), size)
    landmarks = sample.landmarks * scale - np.float32([dx, dy])
    keep = (visible >= cfg.min_visible) & (np.minimum(boxes[:, 2], boxes[:, 3]) >= cfg.min_face)
    ignore = np.concatenate([ignore, boxes[~keep]])
    boxes, landmarks = boxes[keep], landmarks[keep]
    ignore = ignore[(ignore[:, 2] > 0) & (ignore[:, 3] > 0)]
    if flip is None:
        flip = rng.random() < cfg.flip
    if flip:
        crop = crop[:, ::-1].copy()
        boxes[:, 0] = size - boxes[:, 0] - boxes[:, 2]
        ignore[:, 0] = size - ignore[:, 0] - ignore[:, 2]
        landmarks = landmarks[:, FLIPPED_LANDMARKS]
        landmarks[..., 0] = size - landmarks[..., 0]
    return DetectorSample(crop, boxes, ignore, landmarks.astype(np.float32))


def anchors(sample: DetectorSample, cfg: DetectorAugment) -> np.ndarray:
    """Indices of the faces big enough to anchor a close-up."""
    return np.flatnonzero(np.maximum(sample.boxes[:, 2], sample.boxes[:, 3]) >= cfg.close_up_min_face)


def close_up(sample: DetectorSample, face: int, rng: np.random.Generator, cfg: DetectorAugment) -> DetectorSample:
    """A crop in which face ``face`` fills a random share of the side, placed so that at least
    ``min_visible`` of each of its sides stays inside; the other faces follow."""
    x, y, w, h = sample.boxes[face]
    longer = max(w, h)
    low, high = cfg.fill_range
    high = min(high, cfg.max_upscale * longer / cfg.size)
    fill = rng.uniform(min(low, high), high)
    scale = fill * cfg.size / longer
    sw, sh = w * scale, h * scale
    slack = 1 - cfg.min_visible ** 0.5 - 0.05        # per side: keeps >= min_visible of the area inside
    left = rng.uniform(-slack * sw, cfg.size - (1 - slack) * sw)
    top = rng.uniform(-slack * sh, cfg.size - (1 - slack) * sh)
    return geometric(sample, rng, cfg, scale=scale, offset=(x * scale - left, y * scale - top))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:                                   # plain colour
        return np.full((size, size, 3), rng.integers(0, 256, 3), np.uint8)
    noise = rng.normal(rng.uniform(40, 200), rng.uniform(5, 60), (size, size, 3))
    if kind == 2:                                   # smooth blotches, like a blurred room
        noise = cv2.GaussianBlur(noise, (0, 0), rng.uniform(4, 16))
    return np.clip(noise, 0, 255).astype(np.uint8)


def tiles(pools: list[list[DetectorSample]], rng: np.random.Generator, cfg: DetectorAugment) -> DetectorSample:
    """A video-call grid: close-ups of faces, each from a random one of ``pools``, pasted on a background."""
    rows, cols = TILE_GRIDS[rng.integers(len(TILE_GRIDS))]
    gap = int(rng.integers(0, 9))
    cell = min((cfg.size - gap * (rows + 1)) // rows, (cfg.size - gap * (cols + 1)) // cols)
    canvas = _background(rng, cfg.size)
    boxes, ignore, landmarks = [], [], []
    tile_cfg = replace(cfg, size=int(cell), fill_range=cfg.tile_fill_range)
    x0 = (cfg.size - cols * cell - gap * (cols - 1)) // 2
    y0 = (cfg.size - rows * cell - gap * (rows - 1)) // 2
    for r in range(rows):
        for c in range(cols):
            if rng.random() < 0.1:
                continue                            # an empty seat
            for _ in range(8):
                pool = pools[rng.integers(len(pools))]
                source = pool[rng.integers(len(pool))]
                candidates = anchors(source, cfg)
                if len(candidates):
                    break
            else:
                continue
            tile = close_up(source, int(rng.choice(candidates)), rng, tile_cfg)
            tx, ty = x0 + c * (cell + gap), y0 + r * (cell + gap)
            canvas[ty:ty + cell, tx:tx + cell] = tile.image
            boxes.append(tile.boxes + np.float32([tx, ty, 0, 0]))
            ignore.append(tile.ignore + np.float32([tx, ty, 0, 0]))
            landmarks.append(tile.landmarks + np.float32([tx, ty]))
    if not boxes:
        return DetectorSample.of(canvas, np.zeros((0, 4)))
    return DetectorSample(canvas, np.concatenate(boxes), np.concatenate(ignore), np.concatenate(landmarks))


def photometric(image: np.ndarray, rng: np.random.Generator, cfg: DetectorAugment) -> np.ndarray:
    """Brightness, contrast, saturation, low light, grey, blur and JPEG artefacts; boxes are unaffected."""
    out = image
    if rng.random() < cfg.colour:
        work = out.astype(np.float32)
        gray = work.mean(axis=2, keepdims=True)
        work = gray + (work - gray) * rng.uniform(0.5, 1.5)
        work = work * rng.uniform(0.6, 1.4) + rng.uniform(-32, 32)
        out = np.clip(work, 0, 255).astype(np.uint8)
    if cfg.low_light and rng.random() < cfg.low_light:   # no draw without it: older runs' crops stay the same
        work = out.astype(np.float32) * rng.uniform(*cfg.low_light_gain)
        work += rng.normal(0.0, rng.uniform(0.0, cfg.low_light_noise), out.shape).astype(np.float32)
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


def augment(photo: DetectorSample, photos: list[DetectorSample], close_ups: list[DetectorSample],
            rng: np.random.Generator, cfg: DetectorAugment) -> DetectorSample:
    """One training crop of a kind drawn by ``cfg.mix``: of ``photo`` (a WIDER photo), of one of
    ``close_ups`` (extra face crops), or tiles of faces from ``photos`` and ``close_ups``."""
    kind = rng.choice(4, p=np.asarray(cfg.mix) / sum(cfg.mix))
    source = photo if kind == 1 else close_ups[rng.integers(len(close_ups))] if kind == 2 and close_ups else None
    faces = anchors(source, cfg) if source is not None else []
    if len(faces):
        out = close_up(source, int(rng.choice(faces)), rng, cfg)
    elif kind == 3:
        out = tiles([photos, close_ups] if close_ups else [photos], rng, cfg)
    else:
        out = geometric(photo, rng, cfg)
    out.image = photometric(out.image, rng, cfg)
    return out
