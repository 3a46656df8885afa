"""The emotion model on the standard benchmarks, its calibration, and its speed through ONNX Runtime.

- FER2013 PrivateTest with the original single-annotator labels (7 classes);
- FER+ PrivateTest, majority vote (rows whose top vote is tied, unknown or not-a-face dropped), in
  the 7-class protocol (contempt-topped rows dropped) and, for models with contempt, 8 classes;
- JAFFE through the whole pipeline (detector -> crop -> classify), the posed photos as they are;
- expected calibration error on FER2013 PrivateTest with the model's own temperature and with one
  fitted on PublicTest;
- accuracy, macro-F1 and per-class recall, with and without flip TTA; then model size, crops/s at
  batch 64 and single-crop latency at 2 threads.

Every crop reaches the model through the one preprocessing contract (emoscope.preprocess).

    python benchmarks/model_accuracy.py [--model FILE] [--detector auto|yunet|haar] [--json results.json]
    python benchmarks/model_accuracy.py --speed-only OLD.onnx NEW.onnx
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np

from _data import DATA, require
from emoscope.classification import EmotionClassifier
from emoscope.data import load_split
from emoscope.detection import create_detector
from emoscope.evaluation.metrics import classification_metrics, fit_temperature, reliability, softmax
from emoscope.evaluation.run import dataset_logits, to_dataset_labels
from emoscope.labels import canonical_label


def metrics_of(probabilities, model_labels, truth, labels):
    mapped = to_dataset_labels(probabilities, model_labels, labels)
    m = classification_metrics(truth, mapped.argmax(1), labels)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "recall": {k: v["recall"] for k, v in m["per_class"].items()}}


def score(classifier, dataset):
    plain = dataset_logits(classifier, dataset)
    flipped = dataset_logits(classifier, dataset, flip=True)
    t = classifier.info.temperature
    return {name: metrics_of(probs, classifier.labels, dataset.hard_labels, dataset.labels)
            for name, probs in (("plain", softmax(plain / t)),
                                ("flip_tta", (softmax(plain / t) + softmax(flipped / t)) / 2))}


def calibration(classifier, validation, test):
    """ECE on the test split with the model's temperature, and with one fitted on the validation split."""
    labels = list(classifier.labels)
    if list(test.labels) != labels:
        return {}
    val_logits, test_logits = dataset_logits(classifier, validation), dataset_logits(classifier, test)
    fitted = fit_temperature(val_logits, validation.hard_labels)
    return {"ece_model_temperature": reliability(softmax(test_logits / classifier.info.temperature), test.hard_labels)["ece"],
            "fitted_temperature": fitted,
            "ece_fitted_temperature": reliability(softmax(test_logits / fitted), test.hard_labels)["ece"]}


def jaffe_pipeline(classifier, detector, zip_path):
    """Accuracy on JAFFE's 213 photos through detect -> crop -> classify; a photo without a face counts as wrong."""
    truth, predicted, found = [], [], 0
    with zipfile.ZipFile(zip_path) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".png")):
            label = canonical_label(name.rsplit("/", 1)[-1].split(".")[1][:2])
            image = cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_COLOR)
            faces = detector.detect(image)
            truth.append(classifier.labels.index(label))
            if len(faces):
                found += 1
                best = int(faces.scores.argmax())
                crop = classifier.crop(image, faces.boxes[best], faces.landmarks[best] if faces.landmarks is not None else None)
                predicted.append(int(classifier.predict([crop]).argmax()))
            else:
                predicted.append(-1)
    truth, predicted = np.array(truth), np.array(predicted)
    present = [i for i, _ in enumerate(classifier.labels) if (truth == i).any()]
    return {"accuracy": float((truth == predicted).mean()), "faces_found": found, "images": len(truth),
            "recall": {classifier.labels[i]: float((predicted[truth == i] == i).mean()) for i in present}}


def speed(classifier, threads=2):
    crop = np.random.default_rng(0).integers(0, 255, classifier.info.input_size, dtype=np.uint8)
    fast = EmotionClassifier(classifier.path, threads=threads)
    batch = [crop] * 64
    for _ in range(3):
        fast.predict(batch)
    started, runs = time.perf_counter(), 0
    while time.perf_counter() - started < 5:
        fast.predict(batch)
        runs += 1
    per_second = 64 * runs / (time.perf_counter() - started)
    single = []
    for _ in range(300):
        t = time.perf_counter()
        fast.predict([crop])
        single.append((time.perf_counter() - t) * 1e3)
    return {"crops_per_second_batch64": per_second, "single_crop_ms_median": statistics.median(single)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="ONNX model (default: the bundled one)")
    parser.add_argument("--detector", default="auto", help="face detector for the JAFFE pipeline (default: auto)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--speed-only", nargs="+", metavar="MODEL",
                        help="only time these models, one after the other in one run (ratios hold on a busy machine)")
    args = parser.parse_args()
    if args.speed_only:
        for path in args.speed_only:
            s = speed(EmotionClassifier(path))
            print(f"{path}: {s['crops_per_second_batch64']:.0f} crops/s at batch 64; "
                  f"single crop {s['single_crop_ms_median']:.2f} ms (2 threads)")
        return
    fer = require(DATA / "fer2013" / "fer2013.csv.gz")
    votes = require(DATA / "ferplus" / "fer2013new.csv")
    classifier = EmotionClassifier(args.model)
    detector = create_detector(args.detector)
    fer_test = load_split("fer2013", fer, "test")
    results = {
        "model": str(classifier.path), "size_mb": Path(classifier.path).stat().st_size / 1e6,
        "fer2013_private_test": score(classifier, fer_test),
        "ferplus_private_test_majority_7": score(classifier, load_split("ferplus", fer, "test", votes=votes,
                                                                          with_contempt=False)),
    }
    if "contempt" in classifier.labels:
        results["ferplus_private_test_majority_8"] = score(
            classifier, load_split("ferplus", fer, "test", votes=votes, with_contempt=True))
    results["jaffe_pipeline"] = {"detector": type(detector).__name__,
                                 **jaffe_pipeline(classifier, detector, require(DATA / "jaffe" / "jaffe_128px_png.zip"))}
    results["calibration_fer2013_private_test"] = calibration(classifier, load_split("fer2013", fer, "val"), fer_test)
    results["speed_2_threads"] = speed(classifier)
    for bench in [k for k in results if k.startswith(("fer2013_", "ferplus_"))]:
        for variant, r in results[bench].items():
            recalls = ", ".join(f"{k} {v:.2f}" for k, v in r["recall"].items())
            print(f"{bench} [{variant}]: accuracy {r['accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f}; recall: {recalls}")
    j = results["jaffe_pipeline"]
    print(f"JAFFE through the pipeline ({j['detector']}): accuracy {j['accuracy']:.4f} "
          f"({j['faces_found']} of {j['images']} faces found); recall: "
          + ", ".join(f"{k} {v:.2f}" for k, v in j["recall"].items()))
    c = results["calibration_fer2013_private_test"]
    if c:
        print(f"ECE on FER2013 PrivateTest: {c['ece_model_temperature']:.4f} with the model's temperature, "
              f"{c['ece_fitted_temperature']:.4f} with T={c['fitted_temperature']:.2f} fitted on PublicTest")
    s = results["speed_2_threads"]
    print(f"size {results['size_mb']:.2f} MB; {s['crops_per_second_batch64']:.0f} crops/s at batch 64; "
          f"single crop {s['single_crop_ms_median']:.2f} ms (2 threads)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
