"""Write JAFFE's validation subjects (``_emotion_sets.JAFFE_SUBJECTS``) as a training folder for ``emoscope train
--also folder:OUT``: posed faces for training, while JAFFE's test subjects stay held out.

Each photo goes to ``OUT/train/<emotion>/`` (grey, as JAFFE is) with a row in ``OUT/faces.csv`` holding the box the
bundled detector finds (its most confident face), so training cuts each face by the model's crop rule around the
box the pipeline would find (without the pipeline's eye levelling: the table holds no landmarks). The folder is JAFFE's images: research data, never to be committed.

    python benchmarks/jaffe_training_folder.py --out ~/.cache/emoscope/data/jaffe-val-subjects
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

from _emotion_sets import JAFFE, jaffe_images, require
from emoscope.data.face_table import FACE_TABLE
from emoscope.detection import create_detector
from emoscope.labels import EMOTIONS


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="a new or empty folder")
    args = parser.parse_args()
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise SystemExit(f"{args.out}: exists and is not an empty folder; give a new one")
    detector = create_detector("auto", threads=2)
    rows = []
    for number, (image, label, _) in enumerate(jaffe_images(require(JAFFE), EMOTIONS, "val")):
        found = detector.detect(image)
        if not len(found):
            print(f"photo {number} ({EMOTIONS[label]}): no face found, left out")
            continue
        x, y, w, h = found.boxes[int(np.argmax(found.scores))]
        x0, y0 = max(float(x), 0.0), max(float(y), 0.0)          # the box cut to the photo
        w, h = min(float(x + w), image.shape[1]) - x0, min(float(y + h), image.shape[0]) - y0
        path = args.out / "train" / EMOTIONS[label] / f"val-{number:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        rows.append({"file": path.relative_to(args.out).as_posix(), "split": "train", "emotion": EMOTIONS[label],
                     "x": f"{x0:.1f}", "y": f"{y0:.1f}", "w": f"{w:.1f}", "h": f"{h:.1f}"})
    if not rows:
        raise SystemExit("no face found in any photo")
    with open(args.out / FACE_TABLE, "w", newline="") as table:
        writer = csv.DictWriter(table, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} faces to {args.out}")


if __name__ == "__main__":
    main()
