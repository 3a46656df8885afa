"""Choose the bundled detector's second look at a faceless photo, on validation data only.

A photo in which the detector finds no face is looked at again framed by a grey border (``second_look_border``
of its longer side), keeping a face that scores ``second_look_threshold`` or more (``detection/onnx_detector.py``).
For each candidate this script counts, on photos where the first look found nothing:

- close-ups whose face the second look finds (and detections elsewhere in them): ExpW val crops, and FER2013
  PublicTest faces as grey 4x close-ups (``benchmarks/detection.py``'s set h, on its validation split);
- WIDER val photos with a face found, or only something else;
- square background patches of WIDER val photos, 8 px or more from any face box or ignore region: a patch with a
  face found is a false face.

The choice: the candidate that finds the most close-ups among those that add no false face on the background
patches and no detection away from the face on the close-ups.

    python benchmarks/second_look.py [--detector-model FILE] [--borders 0.125 0.25 0.5] [--thresholds 0.45 ... 0.7]
"""
from __future__ import annotations

import argparse
import itertools
from dataclasses import replace

import cv2
import numpy as np

from _data import DATA, require
from _faces import FER_CLOSE_UP_BOX, expw_crops, fer2013_close_up, fer2013_faces
from emoscope.data.widerface import load_widerface
from emoscope.detection import create_detector
from emoscope.evaluation.detection import assign
from emoscope.settings import DetectorSettings

PATCHES_PER_PHOTO = 3
PATCH_MARGIN = 8


def background_patches(entries, seed: int = 0) -> list[np.ndarray]:
    """Up to PATCHES_PER_PHOTO squares of 96 px to half the shorter side per photo, at random places that keep
    PATCH_MARGIN px away from every face box and ignore region."""
    rng, patches = np.random.default_rng(seed), []
    for entry in entries:
        image = cv2.imread(str(entry.path), cv2.IMREAD_COLOR)
        if image is None:
            continue
        height, width = image.shape[:2]
        boxes = np.concatenate([np.asarray(entry.boxes, np.float32).reshape(-1, 4),
                                np.asarray(entry.ignore, np.float32).reshape(-1, 4)])
        for _ in range(PATCHES_PER_PHOTO):
            side = int(rng.integers(96, max(97, min(height, width) // 2 + 1)))
            if side >= min(height, width):
                continue
            x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
            near = (boxes[:, 0] < x + side + PATCH_MARGIN) & (boxes[:, 0] + boxes[:, 2] > x - PATCH_MARGIN) & \
                   (boxes[:, 1] < y + side + PATCH_MARGIN) & (boxes[:, 1] + boxes[:, 3] > y - PATCH_MARGIN)
            if not near.any():
                patches.append(np.ascontiguousarray(image[y:y + side, x:x + side]))
    return patches


def second_looks(detector, border: float, threshold: float, images: list[np.ndarray]):
    """What the second look with these settings finds in each image (the detector's photo path)."""
    detector.info = replace(detector.info, second_look_border=border, second_look_threshold=threshold)
    return [detector.detect(image) for image in images]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector-model", help="EmoScope detector ONNX file (default: the bundled one)")
    parser.add_argument("--borders", type=float, nargs="+", default=[0.125, 0.25, 0.5])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.45, 0.5, 0.55, 0.6, 0.65, 0.7])
    args = parser.parse_args()
    detector = create_detector("emoscope", args.detector_model, DetectorSettings(), threads=1)
    detector.info = replace(detector.info, second_look_border=0.0)   # the first look alone
    close_ups = ((cv2.imread(str(path), cv2.IMREAD_COLOR), box)
                 for path, box in expw_crops(require(DATA / "expw"), "val"))
    fer = ((fer2013_close_up(face), FER_CLOSE_UP_BOX)
           for face, _ in fer2013_faces(require(DATA / "fer2013" / "fer2013.csv.gz"), "val"))
    missed, seen = [], 0   # only the close-ups the first look misses are kept (all of them take 1.8 GB)
    for image, box in itertools.chain(close_ups, fer):
        seen += 1
        if not len(detector.detect(image)):
            missed.append((image, box))
    wider = load_widerface(require(DATA / "widerface"), "val")
    photos = [(image, np.asarray(entry.boxes, np.float32).reshape(-1, 4)) for entry in wider
              if (image := cv2.imread(str(entry.path), cv2.IMREAD_COLOR)) is not None]
    patches = background_patches(wider)
    faceless = [(image, boxes) for image, boxes in photos if not len(detector.detect(image))]
    blank = [patch for patch in patches if not len(detector.detect(patch))]
    print(f"first look: {seen - len(missed)} of {seen} close-ups with a detection, "
          f"{len(photos) - len(faceless)} of {len(photos)} WIDER val photos, a false face on "
          f"{len(patches) - len(blank)} of {len(patches)} background patches\n")
    print("| border | threshold | close-ups found | detections away from the face | WIDER photos: a face found "
          "| only something else | background patches with a false face |")
    print("|---|---|---|---|---|---|---|")
    best = None
    for border in args.borders:
        for threshold in args.thresholds:
            found = away = 0
            for (_, box), result in zip(missed, second_looks(detector, border, threshold, [i for i, _ in missed])):
                owner = assign(box[None], result.boxes, result.scores)
                found, away = found + bool((owner == 0).any()), away + int((owner < 0).sum())
            photo_true = photo_other = 0
            for (_, boxes), result in zip(faceless, second_looks(detector, border, threshold,
                                                                  [i for i, _ in faceless])):
                hit = bool((assign(boxes, result.boxes, result.scores) >= 0).any())
                photo_true, photo_other = photo_true + hit, photo_other + (not hit and len(result) > 0)
            false = sum(len(result) > 0 for result in second_looks(detector, border, threshold, blank))
            print(f"| {border:g} | {threshold:g} | {found} of {len(missed)} | {away} | {photo_true} of "
                  f"{len(faceless)} | {photo_other} | {false} of {len(blank)} |")
            if false == 0 and away == 0 and (best is None or found > best[0]):
                best = (found, border, threshold)
    print("\nchoice: " + (f"--second-look-border {best[1]:g} --second-look-threshold {best[2]:g}"
                          if best else "none: every candidate adds a false face (no second look)"))


if __name__ == "__main__":
    main()
