"""Choosing a detector's score threshold and input size on photos it never trained on.

Candidates (input side x score threshold) are scored on two validation sets: the ``val`` part of the
WIDER split (recall of faces >= ``MIN_FACE`` px, and precision) and close-ups — each WIDER val
face of at least ``CLOSE_UP_MIN_FACE`` px cut out with margins from 0 (the face fills the cut) to
1x its side, plus the ``val`` split of the face-crop folder (ExpW). The rule: among candidates with
WIDER precision >= ``PRECISION_FLOOR`` (if none has it: those with the best precision) and close-up
recall >= ``CLOSE_UP_FLOOR`` (if none has it: the best close-up recall), the highest WIDER recall;
ties go to the smaller input. The rule picks the input side and threshold for a stream's frames among the
sides within the time budget per frame; then, at that threshold, the side for photos among all sides
(no frame follows a photo). WIDER photos are at most 512 px, so the input side changes what the model
sees of them under the default ``--min-face`` rule as it does for a 640x480 frame.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..detection.base import DetectorSettings
from ..detection.onnx_detector import OnnxFaceDetector
from ..errors import InputError
from ..evaluation.detection import assign, cut_out
from ..types import Detections

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
FRAME_SIDES = (320,)                  # within 1.5 ms per 640x480 frame at 2 threads
PHOTO_SIDES = (320, 416, 480, 512)
MARGINS = (0.0, 0.25, 0.5, 1.0)
MIN_FACE = 24.0
CLOSE_UP_MIN_FACE = 48.0
PRECISION_FLOOR = 0.94
CLOSE_UP_FLOOR = 0.98


@dataclass(frozen=True)
class Candidate:
    input_max_side: int
    score_threshold: float
    wider_recall: float
    wider_precision: float
    close_up_recall: float


def _above(found: Detections, threshold: float) -> Detections:
    return found.select(found.scores >= threshold)


def _wider_tally(photos, found: list[Detections], threshold: float) -> tuple[float, float]:
    hits = faces = true_pos = false_pos = 0
    for (_, boxes, ignore), detections in zip(photos, found):
        detections = _above(detections, threshold)
        owner = assign(np.concatenate([boxes, ignore]), detections.boxes, detections.scores)
        used = owner >= 0
        counted = np.sqrt(boxes[:, 2] * boxes[:, 3]) >= MIN_FACE
        hits += int(np.isin(np.flatnonzero(counted), owner).sum())
        faces += int(counted.sum())
        big = np.sqrt(detections.boxes[:, 2] * detections.boxes[:, 3]) >= 0.8 * MIN_FACE
        true_pos += int((used & big).sum())
        false_pos += int((~used & big).sum())
    return hits / max(faces, 1), true_pos / max(true_pos + false_pos, 1)


def _close_ups(photos, crops) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, the one face to find in it) for every cut-out and face crop."""
    cases = []
    for image, boxes, _ in photos:
        for box in boxes[np.minimum(boxes[:, 2], boxes[:, 3]) >= CLOSE_UP_MIN_FACE]:
            for margin in MARGINS:
                cut, corner = cut_out(image, box, margin)
                cases.append((cut, box[None] - corner))
    return cases + list(crops)


def measure(model: str | Path, photos, crops, sides=PHOTO_SIDES, thresholds=THRESHOLDS,
            threads: int = 1) -> list[Candidate]:
    """Every candidate's scores. ``photos``: (BGR image, boxes, ignore) of WIDER val; ``crops``:
    (BGR image, its face box (1, 4)) of the crop folder's val split."""
    detector = OnnxFaceDetector(Path(model), DetectorSettings(score_threshold=min(thresholds)), threads=threads)
    detector.whole_look_min_face = None     # the first look alone: the looks for big and faceless photos come after
    close_ups = _close_ups(photos, crops)
    if not close_ups:
        raise InputError("no close-ups to measure: the WIDER val photos have no face of "
                         f"{CLOSE_UP_MIN_FACE:g} px and no face crops were given")
    candidates = []
    for side in sides:
        detector.info = replace(detector.info, input_max_side=side, photo_max_side=side, second_look_border=0.0)
        wider = [detector.detect(image) for image, _, _ in photos]
        found = [detector.detect(image) for image, _ in close_ups]
        for threshold in thresholds:
            recall, precision = _wider_tally(photos, wider, threshold)
            close = [(assign(box, _above(f, threshold).boxes, _above(f, threshold).scores) == 0).any()
                     for (_, box), f in zip(close_ups, found)]
            candidates.append(Candidate(side, threshold, recall, precision, float(np.mean(close))))
    return candidates


def choose(candidates: list[Candidate]) -> Candidate:
    best_precision = max(c.wider_precision for c in candidates)
    precise = [c for c in candidates if c.wider_precision >= min(PRECISION_FLOOR, best_precision)]
    best_close = max(c.close_up_recall for c in precise)
    enough = [c for c in precise if c.close_up_recall >= min(CLOSE_UP_FLOOR, best_close)]
    return max(enough, key=lambda c: (round(c.wider_recall, 3), -c.input_max_side, c.score_threshold))


def choose_photo_side(candidates: list[Candidate], chosen: Candidate, photo_sides) -> Candidate:
    """The rule of :func:`choose` among ``photo_sides`` at the threshold ``chosen`` for frames."""
    return choose([c for c in candidates
                   if c.input_max_side in photo_sides and c.score_threshold == chosen.score_threshold])


@dataclass(frozen=True)
class Choice:
    """Every candidate measured, and the picks for a stream's frames and for photos."""

    candidates: list[Candidate]
    frame_sides: tuple[int, ...]
    photo_sides: tuple[int, ...]
    frames: Candidate
    photos: Candidate

    def table(self) -> str:
        lines = ["side  threshold  WIDER-val recall  precision  close-up recall"]
        for c in self.candidates:
            roles = [role for role, pick in (("frames", self.frames), ("photos", self.photos)) if c == pick]
            mark = f"  <- chosen for {' and '.join(roles)}" if roles else ""
            lines.append(f"{c.input_max_side:4d}  {c.score_threshold:9.2f}  {c.wider_recall:16.3f}  "
                         f"{c.wider_precision:9.3f}  {c.close_up_recall:15.3f}{mark}")
        return "\n".join(lines)

    def export_options(self) -> str:
        return (f"--score-threshold {self.frames.score_threshold:g} --input-max-side {self.frames.input_max_side} "
                f"--photo-max-side {self.photos.input_max_side}")


def tune(model: str | Path, photos, crops, frame_sides=FRAME_SIDES, photo_sides=PHOTO_SIDES) -> Choice:
    """:func:`measure` every side of either kind, then :func:`choose` for frames and :func:`choose_photo_side`."""
    candidates = measure(model, photos, crops, sides=sorted({*frame_sides, *photo_sides}))
    frames = choose([c for c in candidates if c.input_max_side in frame_sides])
    return Choice(candidates, tuple(frame_sides), tuple(photo_sides), frames,
                  choose_photo_side(candidates, frames, photo_sides))
