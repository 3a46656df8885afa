"""Faces whose boxes are known, for the detection and video benchmarks, and how detections are scored on them.

- ``boxed_photos``: the 9 shared multi-person photos with their 43 boxed faces (``faces/training.xml`` and
  ``testing.xml``, dlib's tight boxes, eyebrows to chin);
- ``expw_crops``: the ExpW test crops (112x112) with the face box that ``expw/faces.csv`` gives for each;
- ``fer2013_faces`` and ``fer2013_close_up``: FER2013's 48x48 faces, each padded and upscaled into a 384-px
  image that a face fills as in a close-up (grey and soft, as a movie frame or a webcam may be);
- ``cut_out``: a face cut out of its photo with margins, edges replicated where the cut leaves the photo;
- ``tiled_portrait_video``: frames of portrait tiles cut from those faces on a plain background, each tile
  drifting, breathing in size and now and then showing another person, with every true box known;
- ``assign`` (greedy matching by score at IoU >= 0.4, ``emoscope.evaluation.detection``) and ``SizeTally`` (recall and precision overall and by
  face size, in px and as a share of the image's shorter side).
"""
from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from emoscope.data import load_split
from emoscope.data.widerface import clip_boxes
from emoscope.evaluation.detection import assign, cut_out  # noqa: F401  (cut_out: re-exported to the benchmarks)
NO_BOXES = np.zeros((0, 4), np.float32)
# Face size is sqrt(w * h). In px: the WIDER bins of BENCHMARKS.md and the small and large ends around them.
PX_BINS = ((8, 24), (24, 48), (48, 96), (96, 192), (192, np.inf))
# As a share of the image's shorter side: a face in a crowd, in a group, a portrait, a face crop.
SHARE_BINS = ((0.0, 0.1), (0.1, 0.3), (0.3, 0.6), (0.6, np.inf))


def bin_name(low: float, high: float, unit: str = "px") -> str:
    if unit == "px":
        return f">={low:g} px" if high == np.inf else f"{low:g}-{high:g} px"
    if low == 0:
        return f"<{high:.0%}"
    return f">={low:.0%}" if high == np.inf else f"{low:.0%}-{high:.0%}"


def side(boxes: np.ndarray) -> np.ndarray:
    """A box's size: sqrt(w * h)."""
    return np.sqrt(np.clip(boxes[:, 2], 0, None) * np.clip(boxes[:, 3], 0, None))


@dataclass
class SizeTally:
    """Faces found and detections true or false, overall and by size.

    Faces count for recall from 8 px (the px bins) and, overall and in the share bins, from ``min_size`` px;
    detections count for precision from 8 px (px bins, by their own size) and, overall and in the share
    bins, from 0.8 x ``min_size``. A detection matching a face of any size is true; one matching a
    ``neutral`` box (a face nobody asked about) is neither true nor false; the rest are false. (WIDER's
    ignore regions are passed as uncounted true faces by ``detection.wider_scores``, not as neutral.)
    """

    min_size: float = 0.0
    counts: dict = field(default_factory=dict)     # (unit, bin) -> [faces found, faces, true dets, false dets]

    def _add(self, key, found=0, faces=0, true=0, false=0):
        entry = self.counts.setdefault(key, [0, 0, 0, 0])
        for i, value in enumerate((found, faces, true, false)):
            entry[i] += int(value)

    def add(self, truth: np.ndarray, detections, image_side: float, neutral: np.ndarray = NO_BOXES,
            counted: np.ndarray | None = None) -> np.ndarray:
        """One image: ``truth`` faces (``counted`` says which count for recall; the others are true when
        found), ``detections`` (boxes and scores), the image's shorter side. Returns which faces were found."""
        truth, neutral = np.asarray(truth, np.float32).reshape(-1, 4), np.asarray(neutral, np.float32).reshape(-1, 4)
        counted = np.ones(len(truth), bool) if counted is None else counted
        owner = assign(np.concatenate([truth, neutral]), detections.boxes, detections.scores)
        hit = np.zeros(len(truth), bool)
        hit[owner[(owner >= 0) & (owner < len(truth))]] = True
        true, false = (owner >= 0) & (owner < len(truth)), owner < 0
        face_px, det_px = side(truth), side(detections.boxes)
        for unit, sizes_face, sizes_det, bins in (("px", face_px, det_px, PX_BINS),
                                                  ("share", face_px / image_side, det_px / image_side, SHARE_BINS)):
            face_ok = counted & (face_px >= (8 if unit == "px" else self.min_size))
            det_ok = det_px >= (8 if unit == "px" else 0.8 * self.min_size)
            for low, high in bins:
                faces_in = face_ok & (sizes_face >= low) & (sizes_face < high)
                dets_in = det_ok & (sizes_det >= low) & (sizes_det < high)
                self._add((unit, bin_name(low, high, unit)), (hit & faces_in).sum(), faces_in.sum(),
                          (true & dets_in).sum(), (false & dets_in).sum())
        face_ok, det_ok = counted & (face_px >= self.min_size), det_px >= 0.8 * self.min_size
        self._add(("all", ""), (hit & face_ok).sum(), face_ok.sum(), (true & det_ok).sum(), (false & det_ok).sum())
        return hit

    def summary(self) -> dict:
        def scores(found, faces, true, false):
            return {"recall": found / faces if faces else None, "faces": faces,
                    "precision": true / (true + false) if true + false else None, "false": false}

        result = scores(*self.counts.get(("all", ""), [0, 0, 0, 0]))
        for unit in ("px", "share"):
            result[f"by_{unit}"] = {name: scores(*value) for (u, name), value in self.counts.items() if u == unit}
        return result


@dataclass
class BoxedPhoto:
    name: str
    image: np.ndarray
    boxes: np.ndarray            # (N, 4) x, y, w, h


def load_boxes(xml_path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """(file name, boxes) of each image in a dlib imglab XML file."""
    for image in ET.parse(xml_path).getroot().iter("image"):
        boxes = [[float(b.get(k)) for k in ("left", "top", "width", "height")] for b in image.iter("box")]
        yield image.get("file"), np.array(boxes, np.float32).reshape(-1, 4)


def boxed_photos(faces_dir: Path) -> list[BoxedPhoto]:
    """The 9 shared photos with their 43 boxed faces."""
    return [BoxedPhoto(name, cv2.imread(str(faces_dir / name)), boxes)
            for xml in ("training.xml", "testing.xml") for name, boxes in load_boxes(faces_dir / xml)]


def expw_rows(expw_dir: Path, split: str) -> list[tuple[Path, np.ndarray, str]]:
    """(crop file, face box in it, emotion name) of every ExpW crop of ``split``, in ``faces.csv``'s order."""
    with open(expw_dir / "faces.csv", newline="") as handle:
        rows = [(expw_dir / row["file"], np.array([float(row[k]) for k in "xywh"]), row["emotion"])
                for row in csv.DictReader(handle) if row["split"] == split]
    return rows


def expw_crops(expw_dir: Path, split: str = "test", limit: int | None = None) -> list[tuple[Path, np.ndarray]]:
    """(crop file, face box in it) of every ExpW crop of ``split`` (every k-th for ``limit``)."""
    rows = sorted(expw_rows(expw_dir, split), key=lambda row: row[0])
    return every_kth([(path, box.astype(np.float32)) for path, box, _ in rows], limit)


FER_CLOSE_UP_SIDE = 384
# Where the 48-px face lands in its close-up: padded by half its side (24 px), then upscaled 4x.
FER_CLOSE_UP_BOX = np.array([96.0, 96.0, 192.0, 192.0], np.float32)


def fer2013_faces(fer_csv: Path, split: str = "test", limit: int | None = None) -> list[tuple[np.ndarray, int]]:
    """(48x48 grey face, label index) of a FER2013 split (every k-th for ``limit``)."""
    data = load_split("fer2013", fer_csv, split)
    return every_kth(list(zip(data.images, (int(label) for label in data.hard_labels))), limit)


def fer2013_close_up(face: np.ndarray) -> np.ndarray:
    """A 48x48 grey FER2013 face padded by half its side (border replicated) and upscaled 4x (384 px,
    BGR): the face fills the middle half of the image (``FER_CLOSE_UP_BOX``)."""
    padded = cv2.copyMakeBorder(face, 24, 24, 24, 24, cv2.BORDER_REPLICATE)
    big = cv2.resize(padded, (FER_CLOSE_UP_SIDE, FER_CLOSE_UP_SIDE), interpolation=cv2.INTER_CUBIC)
    return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)


# Low light, as a night scene or a dark film frame looks: the image's levels scaled by a gain, then (the second
# form) sensor noise. ``train-detector --low-light`` darkens training crops alike, with gains and noise drawn at
# random; these two forms are fixed, so that every run sees the same images.
LOW_LIGHT = {"x0.35": (0.35, 0.0), "x0.2 + noise 4": (0.2, 4.0)}


def low_light(image: np.ndarray, gain: float, noise: float, seed: int = 0) -> np.ndarray:
    """``image`` darkened by ``gain`` with Gaussian noise of standard deviation ``noise`` (seeded) added."""
    work = image.astype(np.float32) * np.float32(gain)
    if noise:
        work += np.random.default_rng(seed).normal(0.0, noise, image.shape).astype(np.float32)
    return np.clip(np.rint(work), 0, 255).astype(np.uint8)


def in_light(images, gain: float, noise: float):
    """Each image darkened by :func:`low_light` with its index as the seed; the images themselves at gain 1 without
    noise."""
    for index, image in enumerate(images):
        yield image if gain == 1 and not noise else low_light(image, gain, noise, seed=index)


def every_kth(items: list, limit: int | None) -> list:
    """At most ``limit`` of ``items``, spread evenly over them."""
    if limit and len(items) > limit:
        return items[::len(items) // limit][:limit]
    return items


def inside(boxes: np.ndarray, width: int, height: int, least: float = 0.25) -> np.ndarray:
    """``boxes`` cut to a ``width`` x ``height`` image, keeping those of which at least ``least`` shows."""
    clipped = clip_boxes(np.asarray(boxes, np.float32).reshape(-1, 4), width, height)
    shown = clipped[:, 2] * clipped[:, 3] >= least * np.maximum(boxes[:, 2] * boxes[:, 3], 1e-9)
    return clipped[shown & (clipped[:, 2] > 0) & (clipped[:, 3] > 0)]


@dataclass
class Portrait:
    """A face to show: the picture it is in, its box there, and the other faces boxed there."""

    image: np.ndarray
    box: np.ndarray
    others: np.ndarray = field(default_factory=lambda: NO_BOXES)


def portraits(faces_dir: Path | None, expw_dir: Path | None, expw_count: int = 43) -> list[Portrait]:
    """The 43 boxed faces of the shared photos and ``expw_count`` ExpW test crops, alternating."""
    shared = [Portrait(photo.image, box, np.delete(photo.boxes, k, axis=0))
              for photo in (boxed_photos(faces_dir) if faces_dir else []) for k, box in enumerate(photo.boxes)]
    crops = [Portrait(cv2.imread(str(path)), box) for path, box in
             (expw_crops(expw_dir, limit=expw_count) if expw_dir else [])]
    mixed = [p for pair in zip(shared, crops) for p in pair]
    return mixed + shared[len(crops):] + crops[len(shared):]


# A portrait tile around a face of side s: 1.5 s wide, 1.75 s high, the face a fifth of its height from the top.
TILE_SIDES, TILE_TOP, TILE_BOTTOM = 0.25, 0.2, 0.55


def tiled_portrait_video(people: list[Portrait], seconds: float, fps: float = 30.0, size=(640, 480),
                         grid=(3, 2), face_px=(80, 130), change_every: float = 2.0, seed: int = 0
                         ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (frame, true face boxes, neutral boxes) for ``seconds`` of video: a ``grid`` of portrait tiles
    on a plain background. Each tile drifts around its cell and its face breathes in size within ``face_px``;
    every ``change_every`` seconds one tile, in turn, shows the next person. Neutral boxes are other faces of
    a tile's photo that show in the tile (a detection there is neither true nor false)."""
    rng = np.random.default_rng(seed)
    width, height = size
    cols, rows = grid
    cell_w, cell_h = width // cols, height // rows
    largest = min(face_px[1], cell_w / (1 + 2 * TILE_SIDES) - 4, cell_h / (1 + TILE_TOP + TILE_BOTTOM) - 4)
    tiles = cols * rows
    showing = [k % len(people) for k in range(tiles)]
    base = rng.uniform(face_px[0] * 1.06, largest / 1.06, tiles)
    phase = rng.uniform(0, 2 * np.pi, (tiles, 3))
    background = np.empty((height, width, 3), np.uint8)
    background[:] = rng.integers(40, 200, 3)
    next_person = tiles
    for index in range(int(round(seconds * fps))):
        t = index / fps
        if change_every and index and index % int(round(change_every * fps)) == 0:
            turn = index // int(round(change_every * fps)) - 1
            showing[turn % tiles] = next_person % len(people)
            next_person += 1
        frame, truth, neutral = background.copy(), [], []
        for k in range(tiles):
            person = people[showing[k]]
            face = base[k] * (1 + 0.05 * np.sin(2 * np.pi * t / 3.1 + phase[k, 0]))
            cut, corner = cut_out(person.image, person.box, TILE_SIDES, TILE_TOP, TILE_BOTTOM)
            scale = min(face / float(side(person.box[None])[0]), cell_w / cut.shape[1], cell_h / cut.shape[0])
            tile_w, tile_h = round(cut.shape[1] * scale), round(cut.shape[0] * scale)
            room_x, room_y = (cell_w - tile_w) / 2, (cell_h - tile_h) / 2
            x = round((k % cols) * cell_w + room_x * (1 + 0.8 * np.sin(2 * np.pi * t / 4.3 + phase[k, 1])))
            y = round((k // cols) * cell_h + room_y * (1 + 0.8 * np.sin(2 * np.pi * t / 3.7 + phase[k, 2])))
            frame[y:y + tile_h, x:x + tile_w] = cv2.resize(cut, (tile_w, tile_h), interpolation=cv2.INTER_AREA
                                                           if scale < 1 else cv2.INTER_LINEAR)
            sx, sy = tile_w / cut.shape[1], tile_h / cut.shape[0]
            to_tile = np.array([sx, sy, sx, sy], np.float32)
            offset = np.array([x, y, 0, 0], np.float32)
            truth.append((person.box - corner) * to_tile + offset)
            others = inside((person.others - corner) * to_tile, tile_w, tile_h)
            neutral.extend(others + offset)
        yield frame, np.array(truth, np.float32), np.array(neutral, np.float32).reshape(-1, 4)


def write_tiled_video(path: Path, people: list[Portrait], seconds: float, fps: float = 30.0, size=(640, 480),
                      **options) -> list[tuple[np.ndarray, np.ndarray]]:
    """``tiled_portrait_video`` written to an H.264 MP4 (``io.video.VideoSink``); (true boxes, neutral boxes)
    of each frame."""
    from emoscope.io.video import VideoSink

    boxes = []
    with VideoSink(path, fps, size) as sink:
        for frame, truth, neutral in tiled_portrait_video(people, seconds, fps, size, **options):
            sink.write(frame)
            boxes.append((truth, neutral))
    return boxes
