"""Face detection on the shared multi-face photos: recall and false positives at IoU >= 0.4.

    python benchmarks/detection.py [--threshold 0.6 ...]
"""
from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET

import numpy as np

from _data import DATA, require
from emoscope.detection import DetectorSettings, create_detector
from emoscope.io.images import read_image


def load_boxes(xml_path):
    root = ET.parse(xml_path).getroot()
    for image in root.iter("image"):
        boxes = [[float(b.get(k)) for k in ("left", "top", "width", "height")] for b in image.iter("box")]
        yield image.get("file"), np.array(boxes)


def iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2, bx2) - np.maximum(a[0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(ay2, by2) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = iw * ih
    return inter / (a[2] * a[3] + b[:, 2] * b[:, 3] - inter)


def evaluate(detector, faces_dir, match_iou=0.4):
    found = missed = false_pos = 0
    for xml in ("training.xml", "testing.xml"):
        for name, truth in load_boxes(faces_dir / xml):
            boxes = detector.detect(read_image(faces_dir / name)).boxes
            matched = np.zeros(len(boxes), bool)
            for t in truth:
                overlaps = iou(t, boxes) if len(boxes) else np.zeros(0)
                overlaps[matched] = 0
                if len(overlaps) and overlaps.max() >= match_iou:
                    matched[overlaps.argmax()] = True
                    found += 1
                else:
                    missed += 1
            false_pos += int((~matched).sum())
    dogs = len(detector.detect(read_image(faces_dir / "dogs.jpg")))
    return found / (found + missed), false_pos, dogs, found + missed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threshold", type=float, nargs="+", default=[DetectorSettings.score_threshold])
    args = parser.parse_args()
    faces_dir = require(DATA / "faces")
    print("| detector | score threshold | recall | false positives (9 photos) | faces on dogs.jpg |")
    print("|---|---|---|---|---|")
    for name in ("yunet", "haar"):
        for threshold in args.threshold:
            detector = create_detector(name, settings=DetectorSettings(score_threshold=threshold, min_face=10))
            recall, fp, dogs, total = evaluate(detector, faces_dir)
            print(f"| {name} | {threshold if name == 'yunet' else '-'} | {recall:.3f} of {total} | {fp} | {dogs} |")
            if name == "haar":
                break


if __name__ == "__main__":
    main()
