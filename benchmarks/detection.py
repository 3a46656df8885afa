"""Face detection, EmoScope's own detector beside YuNet and Haar in one run:

- recall and precision by face size on the held-out part of the shared WIDER FACE photos (the
  part ``emoscope train-detector`` never sees; faces of at least ``--min-size`` px);
- recall and precision on the 43 boxed faces of the shared multi-person photos, and faces on dogs.jpg;
- ms per 640x480 frame at 1 and 2 threads;
- emotion accuracy on JAFFE through the whole pipeline with each detector.

A detection matches a face at IoU >= 0.4. On WIDER, detections smaller than ``--min-size`` and
detections on faces too small, or flagged invalid, are neither true nor false.

    python benchmarks/detection.py [--detector-model FILE] [--threshold 0.5 0.6] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import time
import xml.etree.ElementTree as ET

import cv2
import numpy as np

from _data import DATA, require
from emoscope.classification import EmotionClassifier
from emoscope.data.widerface import load_widerface
from emoscope.detection import DetectorSettings, create_detector
from emoscope.io.images import read_image
from model_accuracy import jaffe_pipeline

MATCH_IOU = 0.4
SIZE_BINS = ((24, 48), (48, 96), (96, 10_000))


def load_boxes(xml_path):
    root = ET.parse(xml_path).getroot()
    for image in root.iter("image"):
        boxes = [[float(b.get(k)) for k in ("left", "top", "width", "height")] for b in image.iter("box")]
        yield image.get("file"), np.array(boxes).reshape(-1, 4)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), both x, y, w, h."""
    ax2, ay2 = a[:, None, 0] + a[:, None, 2], a[:, None, 1] + a[:, None, 3]
    bx2, by2 = b[None, :, 0] + b[None, :, 2], b[None, :, 1] + b[None, :, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    return inter / (a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter + 1e-9)


def match(truth: np.ndarray, found: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching by score: which faces were found, and which detections matched a face."""
    hit, used = np.zeros(len(truth), bool), np.zeros(len(found), bool)
    if len(truth) and len(found):
        overlaps = iou_matrix(found, truth)
        for d in np.argsort(-scores):
            candidates = np.where(hit, 0, overlaps[d])
            if candidates.max() >= MATCH_IOU:
                hit[candidates.argmax()] = used[d] = True
    return hit, used


def wider_scores(detector, entries, min_size: float) -> dict:
    """Recall per size bin and precision of detections of at least ``min_size`` px on WIDER photos."""
    found_by_bin, total_by_bin = np.zeros(len(SIZE_BINS)), np.zeros(len(SIZE_BINS))
    true_pos = false_pos = 0
    for entry in entries:
        image = cv2.imread(str(entry.path))
        if image is None:
            continue
        detections = detector.detect(image)
        boxes, scores = detections.boxes, detections.scores
        side = np.sqrt(entry.boxes[:, 2] * entry.boxes[:, 3])
        counted = side >= min_size
        everything = np.concatenate([entry.boxes, entry.ignore])
        hit, used = match(everything, boxes, scores)
        big = np.sqrt(boxes[:, 2] * boxes[:, 3]) >= min_size * 0.8
        true_pos += int((used & big).sum())
        false_pos += int((~used & big).sum())
        for index, (low, high) in enumerate(SIZE_BINS):
            in_bin = counted & (side >= low) & (side < high)
            total_by_bin[index] += in_bin.sum()
            found_by_bin[index] += (hit[:len(entry.boxes)] & in_bin).sum()
    result = {f"recall_{low}-{high if high < 10_000 else 'up'}": found / max(total, 1)
              for (low, high), found, total in zip(SIZE_BINS, found_by_bin, total_by_bin)}
    result["recall"] = found_by_bin.sum() / max(total_by_bin.sum(), 1)
    result["precision"] = true_pos / max(true_pos + false_pos, 1)
    result["faces"] = int(total_by_bin.sum())
    return result


def boxed_photos(detector, faces_dir) -> dict:
    found = total = true_pos = false_pos = 0
    for xml in ("training.xml", "testing.xml"):
        for name, truth in load_boxes(faces_dir / xml):
            detections = detector.detect(read_image(faces_dir / name))
            hit, used = match(truth, detections.boxes, detections.scores)
            found, total = found + int(hit.sum()), total + len(truth)
            true_pos, false_pos = true_pos + int(used.sum()), false_pos + int((~used).sum())
    dogs = len(detector.detect(read_image(faces_dir / "dogs.jpg")))
    return {"recall": found / total, "precision": true_pos / max(true_pos + false_pos, 1), "faces": total,
            "false_positives": false_pos, "dogs": dogs}


def frame_ms(name: str, model, threads: int, frames: list[np.ndarray]) -> float:
    """Median ms of one detection on a 640x480 frame, the detector and OpenCV limited to ``threads``."""
    cv2.setNumThreads(threads)
    detector = create_detector(name, model, DetectorSettings(), threads=threads)
    for frame in frames[:3]:
        detector.detect(frame)
    times = []
    for _ in range(5):
        for frame in frames:
            started = time.perf_counter()
            detector.detect(frame)
            times.append((time.perf_counter() - started) * 1e3)
    return float(np.median(times))


def timing_frames(faces_dir) -> list[np.ndarray]:
    """640x480 frames cut from the shared photos (scaled to cover 640x480, centre-cropped)."""
    frames = []
    for path in sorted(faces_dir.glob("*.jpg")):
        image = read_image(path)
        scale = max(640 / image.shape[1], 480 / image.shape[0])
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
        y, x = (image.shape[0] - 480) // 2, (image.shape[1] - 640) // 2
        frames.append(np.ascontiguousarray(image[y:y + 480, x:x + 640]))
    return frames


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector-model", help="EmoScope detector ONNX file (default: the bundled one)")
    parser.add_argument("--detectors", nargs="+", default=["emoscope", "yunet", "haar"])
    parser.add_argument("--threshold", type=float, nargs="+", default=[None],
                        help="score thresholds to try for emoscope (default: its own)")
    parser.add_argument("--min-size", type=float, default=24, help="smallest WIDER face counted, px (sqrt(w*h))")
    parser.add_argument("--wider-part", choices=("held_out", "train"), default="held_out",
                        help="train: photos the detector learnt from, for choosing its threshold")
    parser.add_argument("--limit", type=int, help="at most this many WIDER photos (every k-th)")
    parser.add_argument("--skip", nargs="*", default=[], choices=("wider", "boxed", "speed", "jaffe"))
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    faces_dir = require(DATA / "faces")
    wider = load_widerface(require(DATA / "widerface"), args.wider_part) if "wider" not in args.skip else []
    if args.limit and len(wider) > args.limit:
        wider = wider[::len(wider) // args.limit][:args.limit]
    classifier = EmotionClassifier(None, threads=2) if "jaffe" not in args.skip else None
    frames = timing_frames(faces_dir)
    results = []
    for name in args.detectors:
        model = args.detector_model if name == "emoscope" else None
        for threshold in (args.threshold if name == "emoscope" else [None]):
            settings = DetectorSettings(score_threshold=threshold)
            detector = create_detector(name, model, settings, threads=2)
            row = {"detector": name, "threshold": threshold if threshold is not None else
                   getattr(detector, "score_threshold", "-" if name == "haar" else 0.8)}
            if "wider" not in args.skip:
                row[f"wider_{args.wider_part}"] = wider_scores(detector, wider, args.min_size)
            if "boxed" not in args.skip:
                row["boxed_43"] = boxed_photos(detector, faces_dir)
            if "jaffe" not in args.skip:
                row["jaffe"] = jaffe_pipeline(classifier, detector, require(DATA / "jaffe" / "jaffe_128px_png.zip"))
            if "speed" not in args.skip and threshold == args.threshold[0]:
                row["ms_640x480"] = {f"{t}_threads": frame_ms(name, model, t, frames) for t in (1, 2)}
            results.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
