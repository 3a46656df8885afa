"""Faces in low light, on validation data only: EmoScope detector files beside YuNet, in one run.

Night scenes and dark film frames are darker and noisier than WIDER's photos. Each set is seen as it is and in
each form of ``_faces.LOW_LIGHT`` (levels x0.35; x0.2 with sensor noise of 4 grey levels, seeded per image):

- WIDER val photos: recall / precision of faces >= 24 px (as ``detection.py`` set a);
- ExpW val crops, and every 3rd FER2013 PublicTest face as a 4x grey close-up: found / precision;
- background patches of WIDER val photos (``second_look.background_patches``): how many get a false face;
- then the median ms per frame of 30 WIDER val photos at 640 px, as a stream's frames and as photos, in each light
  (a detector with a dark look sees a dark copy twice), and how many images as they are lie under each detector's
  ``dark_level``: the WIDER val photos and ``detection.py``'s timing frames.

Faces count from 24 px and detections from 19.2 px (``big_photos.scores``).

    python benchmarks/low_light.py --detector-models shipped.onnx candidate.onnx [--no-yunet]

The rule for a detector trained with darkened crops (``emoscope train-detector --low-light P``), fixed before its
first run: it replaces the shipped one if, against it, recall on WIDER in each low-light form rises by at least
0.02, and as they are WIDER's recall and precision and the ExpW crops' and FER close-ups' found shares fall by at
most 0.005 each, and the patches get at most 2 more false faces in any form. Used again for the dark look
(``export-detector --dark-level``, 2.3.2), with one clause added after a plain gain had lost the noisy close-ups:
no low-light form of the close-ups' found shares falls by more than 0.02.
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from _data import DATA, MODELS, require
from _faces import FER_CLOSE_UP_BOX, LOW_LIGHT, NO_BOXES, expw_crops, fer2013_close_up, fer2013_faces, in_light
from big_photos import median_ms, resized_photos, scores
from detection import timing_frames
from emoscope.data.widerface import load_widerface
from emoscope.detection import create_detector
from emoscope.detection.onnx_detector import OnnxFaceDetector, mean_level
from emoscope.errors import ModelNotFoundError
from emoscope.settings import DetectorSettings
from second_look import background_patches

FORMS = {"as it is": (1.0, 0.0), **LOW_LIGHT}


def seen(items, gain: float, noise: float):
    """The items in one light: (image, boxes, ignore), each image darkened with its own seed (``in_light``)."""
    for image, (_, boxes, ignore) in zip(in_light((image for image, _, _ in items), gain, noise), items):
        yield image, boxes, ignore


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector-models", nargs="+", default=[None], metavar="FILE",
                        help="EmoScope detector ONNX files (default: the bundled one)")
    parser.add_argument("--no-yunet", action="store_true", help="leave YuNet out")
    args = parser.parse_args()
    cv2.setNumThreads(2)
    named = [(model or "bundled", "emoscope", model) for model in args.detector_models]
    if not args.no_yunet:
        require(MODELS / "yunet")
        named.append(("yunet", "yunet", None))
    try:   # every file checked before the data is read
        detectors = [(label, create_detector(name, model, DetectorSettings(), threads=2))
                     for label, name, model in named]
    except ModelNotFoundError as error:
        raise SystemExit(f"low_light.py: {error}") from None
    entries = load_widerface(require(DATA / "widerface"), "val")
    sets = {
        "WIDER val": [(image, np.asarray(entry.boxes, np.float32).reshape(-1, 4),
                       np.asarray(entry.ignore, np.float32).reshape(-1, 4)) for entry in entries
                      if (image := cv2.imread(str(entry.path), cv2.IMREAD_COLOR)) is not None],
        "ExpW val crops": [(cv2.imread(str(path), cv2.IMREAD_COLOR), box[None], NO_BOXES)
                           for path, box in expw_crops(require(DATA / "expw"), "val")],
        "FER close-ups": [(fer2013_close_up(face), FER_CLOSE_UP_BOX[None], NO_BOXES)
                          for face, _ in fer2013_faces(require(DATA / "fer2013" / "fer2013.csv.gz"), "val")][::3],
    }
    patches = [(patch, NO_BOXES, NO_BOXES) for patch in background_patches(entries)]
    columns = [f"{name}, {form}" for name in sets for form in FORMS] + \
              [f"patches with a false face, {form}" for form in FORMS]
    print("| detector | " + " | ".join(columns) + " |")
    print("|---" * (1 + len(columns)) + "|")
    for label, detector in detectors:
        cells = [scores(detector, seen(items, *FORMS[form])) for items in sets.values() for form in FORMS]
        cells += [f"{sum(len(detector.detect(image)) > 0 for image, _, _ in seen(patches, *FORMS[form]))} of "
                  f"{len(patches)}" for form in FORMS]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    frames = [(frame, NO_BOXES, NO_BOXES) for frame in resized_photos(640)]
    in_each_light = {form: [image for image, _, _ in seen(frames, *FORMS[form])] for form in FORMS}
    print("\n| detector | " + " | ".join(f"ms per 640-px {kind}, {form}" for kind in ("frame", "photo")
                                        for form in FORMS) + " |")
    print("|---" * (1 + 2 * len(FORMS)) + "|")
    for label, detector in detectors:
        cells = [f"{median_ms(detector, in_each_light[form], 3, stream):.2f}"
                 for stream in (True, False) for form in FORMS]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    levels = {"WIDER val photos": [mean_level(image) for image, _, _ in sets["WIDER val"]],
              "timing frames": [mean_level(frame) for frame in timing_frames(require(DATA / "faces"))]}
    for label, detector in detectors:
        if isinstance(detector, OnnxFaceDetector) and detector.info.dark_level:
            print(f"{label}: under its dark level {detector.info.dark_level:g}: " + ", ".join(
                f"{sum(level < detector.info.dark_level for level in found)} of {len(found)} {name}"
                for name, found in levels.items()))


if __name__ == "__main__":
    main()
