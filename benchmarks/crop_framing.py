"""Choose the face framing (crop margin, vertical shift, eye alignment) that matches the model's
training data, by measuring the whole pipeline (YuNet -> crop -> classify) on two sets:

- JAFFE's 213 posed photos, which are not tight crops, so the pipeline's crop decides what the model sees;
- FER2013 PrivateTest re-detected: each 48x48 face is padded, upscaled 4x, found again by YuNet and
  re-cropped; the framing that best reproduces the original crops scores highest.

Prints accuracy per framing on both, sorted by their mean.

    python benchmarks/crop_framing.py [--model FILE]
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import zipfile

import cv2
import numpy as np

from _data import DATA, MODELS, require
from _faces import fer2013_close_up, fer2013_faces
from emoscope.classification import EmotionClassifier
from emoscope.detection import create_detector
from emoscope.evaluation.metrics import classification_metrics
from emoscope.labels import canonical_label
from emoscope.models import CropSpec


def load_jaffe(zip_path):
    """(BGR image, label) pairs; the label is the expression code in the file name (e.g. KA.AN1.39)."""
    with zipfile.ZipFile(zip_path) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".png")):
            code = name.rsplit("/", 1)[-1].split(".")[1][:2].lower()
            image = cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_COLOR)
            yield image, canonical_label(code)


def detect_faces(detector, samples):
    """(image, box, landmarks, label index) for the most confident face of each sample found."""
    faces = []
    for image, label in samples:
        found = detector.detect(image)
        if len(found):
            best = int(found.scores.argmax())
            faces.append((image, found.boxes[best], found.landmarks[best], label))
    return faces


def fer2013_redetected(count: int):
    """FER2013 PrivateTest faces, padded by half their side (replicated border) and upscaled 4x."""
    for face, label in fer2013_faces(require(DATA / "fer2013" / "fer2013.csv.gz"))[:count]:
        yield fer2013_close_up(face), label


def accuracy_per_framing(classifier, faces, framings):
    info = classifier.info
    truth = np.array([t for *_, t in faces])
    scores = {}
    for framing in framings:
        classifier.info = dataclasses.replace(info, crop=CropSpec(*framing))
        crops = [classifier.crop(image, box, marks) for image, box, marks, _ in faces]
        scores[framing] = classification_metrics(truth, classifier.predict(crops).argmax(1), classifier.labels)["accuracy"]
    classifier.info = info
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="ONNX model (default: the bundled one)")
    parser.add_argument("--fer-count", type=int, default=3589, help="FER2013 PrivateTest images to re-detect")
    args = parser.parse_args()
    require(MODELS / "yunet")
    detector = create_detector("yunet")
    classifier = EmotionClassifier(args.model)
    jaffe = [(image, classifier.labels.index(label))
             for image, label in load_jaffe(require(DATA / "jaffe" / "jaffe_128px_png.zip"))]
    jaffe_faces = detect_faces(detector, jaffe)
    fer_faces = detect_faces(detector, fer2013_redetected(args.fer_count))
    print(f"JAFFE: {len(jaffe_faces)} of {len(jaffe)} faces detected; "
          f"FER2013 PrivateTest re-detected: {len(fer_faces)} of {args.fer_count}\n")
    framings = list(itertools.product((0.0, 0.05, 0.1, 0.15, 0.2, 0.3), (-0.05, 0.0, 0.05, 0.1), (True, False)))
    on_jaffe = accuracy_per_framing(classifier, jaffe_faces, framings)
    on_fer = accuracy_per_framing(classifier, fer_faces, framings)
    print("| margin | shift_y | align eyes | JAFFE accuracy | FER2013 re-detected accuracy | mean |")
    print("|---|---|---|---|---|---|")
    for framing in sorted(framings, key=lambda f: -(on_jaffe[f] + on_fer[f])):
        margin, shift, align = framing
        print(f"| {margin} | {shift} | {align} | {on_jaffe[framing]:.3f} | {on_fer[framing]:.3f} | "
              f"{(on_jaffe[framing] + on_fer[framing]) / 2:.3f} |")


if __name__ == "__main__":
    main()
