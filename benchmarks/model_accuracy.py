"""The emotion model on the standard benchmarks, and its speed through ONNX Runtime.

FER2013 PrivateTest (original labels, 7 classes) and FER+ PrivateTest (majority vote, 8 classes,
rows whose top vote is unknown/not-a-face or tied dropped); accuracy, macro-F1, per-class recall,
with and without flip TTA. Then model size, crops/s at batch 64 and single-crop latency, 2 threads.

    python benchmarks/model_accuracy.py [--model FILE] [--json results.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from _data import DATA, require
from emoscope.classification import EmotionClassifier
from emoscope.data import load_split
from emoscope.evaluation.metrics import classification_metrics, softmax
from emoscope.evaluation.run import dataset_logits, to_dataset_labels


def score(classifier, dataset):
    plain = dataset_logits(classifier, dataset)
    flipped = dataset_logits(classifier, dataset, flip=True)
    out = {}
    for name, probs in (("plain", softmax(plain)), ("flip_tta", (softmax(plain) + softmax(flipped)) / 2)):
        mapped = to_dataset_labels(probs, classifier.labels, dataset.labels)
        m = classification_metrics(dataset.hard_labels, mapped.argmax(1), dataset.labels)
        out[name] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
                     "recall": {k: v["recall"] for k, v in m["per_class"].items()}}
    return out


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
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    fer = require(DATA / "fer2013" / "fer2013.csv.gz")
    votes = require(DATA / "ferplus" / "fer2013new.csv")
    classifier = EmotionClassifier(args.model)
    results = {
        "model": str(classifier.path), "size_mb": Path(classifier.path).stat().st_size / 1e6,
        "fer2013_private_test": score(classifier, load_split("fer2013", fer, "test")),
        "ferplus_private_test_majority_8": score(classifier, load_split("ferplus", fer, "test", votes=votes,
                                                                          with_contempt=True)),
        "speed_2_threads": speed(classifier),
    }
    for bench in ("fer2013_private_test", "ferplus_private_test_majority_8"):
        for variant, r in results[bench].items():
            recalls = ", ".join(f"{k} {v:.2f}" for k, v in r["recall"].items())
            print(f"{bench} [{variant}]: accuracy {r['accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f}; recall: {recalls}")
    s = results["speed_2_threads"]
    print(f"size {results['size_mb']:.2f} MB; {s['crops_per_second_batch64']:.0f} crops/s at batch 64; "
          f"single crop {s['single_crop_ms_median']:.2f} ms (2 threads)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
