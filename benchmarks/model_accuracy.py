"""The emotion model on every test set we have, its calibration, and its speed through ONNX Runtime.

Test sets (none of them touched training, the choice of prior correction or the temperature):

- FER+ PrivateTest, majority vote, 7 classes (rows whose top vote is tied, contempt, unknown or not-a-face left out);
- FER2013 PrivateTest with the original single-annotator labels;
- ExpW test as crops: each face cut from its 112x112 crop by the model's crop rule around the labelled box;
- ExpW test through the whole pipeline: each crop image goes through ``Analyzer`` (the chosen detector -> crop ->
  classify); the face kept is the found one that overlaps the labelled box most (IoU >= 0.3); a crop with none
  counts as wrong, and is counted;
- JAFFE's posed photos of its five test subjects (``_emotion_sets.JAFFE_SUBJECTS``; the other five are a validation
  and training set of posed faces since 2026-12-07) through the whole pipeline (the most confident face; none found counts as
  wrong); all 213 photos are scored too, apart and not in the mean, to compare with the numbers from before;
- FER2013 PrivateTest through the whole pipeline: each 48x48 face padded by half its side and upscaled 4x, a soft
  grey close-up like an aligned movie face (benchmarks/detection.py's set h); the face kept is the found one that
  overlaps the face's place most (IoU >= 0.3); none counts as wrong.

For each: accuracy, balanced accuracy (mean per-class recall), macro-F1, per-class recall, the share of the
predictions that went to each class beside its share of the labels, a row-normalised confusion matrix PNG
(``--out``), and the expected calibration error with the model's temperature (fitted on validation); for the
crop sets also the ECE with a temperature this script fits on the set's own validation split, and the scores with
horizontal-flip test-time augmentation. Then model size, crops/s at batch 64 and single-crop latency.

Every crop reaches the model through the one preprocessing contract (emoscope.preprocess).

    python benchmarks/model_accuracy.py [--model FILE] [--detector auto|yunet|haar] [--detector-model FILE]
                                        [--json results.json|-] [--out DIR] [--summary metrics.json]
    python benchmarks/model_accuracy.py --speed-only OLD.onnx NEW.onnx
"""
from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from _emotion_sets import (EXPW, FER2013, JAFFE, TITLES, best_match, crop_sets, expw_images, fer2013_close_ups,
                           jaffe_images, require)
from emoscope import Analyzer
from emoscope.classification import EmotionClassifier
from emoscope.evaluation.metrics import classification_metrics, fit_temperature, reliability, softmax
from emoscope.evaluation.plots import confusion_png
from emoscope.evaluation.run import dataset_logits, to_dataset_labels

def scores(truth, probabilities, labels, temperature_note="") -> dict:
    """The report of one set from its true class indices and (N, K) probabilities (a row of NaN: no face)."""
    found = ~np.isnan(probabilities).any(axis=1)
    predicted = np.where(found, np.nan_to_num(probabilities).argmax(1), -1)
    m = classification_metrics(truth, predicted, labels)
    report = {"faces": int(len(truth)), "accuracy": m["accuracy"], "balanced_accuracy": m["balanced_accuracy"],
              "macro_f1": m["macro_f1"], "recall": {k: v["recall"] for k, v in m["per_class"].items()},
              "predicted_share": m["predicted_share"], "true_share": m["true_share"], "confusion": m["confusion"],
              "ece": reliability(probabilities[found], truth[found])["ece"]}
    if not found.all():
        report["faces_found"] = int(found.sum())
        report["missed_per_class"] = np.bincount(truth[~found], minlength=len(labels)).tolist()
    return report


def crop_set(classifier, dataset, validation) -> dict:
    """Scores of a set of ready crops with the model's temperature, with flip TTA, and the ECE with a
    temperature fitted on ``validation`` (the same set's validation split)."""
    labels, t = dataset.labels, classifier.info.temperature
    logits, flipped = dataset_logits(classifier, dataset), dataset_logits(classifier, dataset, flip=True)

    def probabilities(z, temperature):
        return to_dataset_labels(softmax(z, temperature), classifier.labels, labels)

    report = scores(dataset.hard_labels, probabilities(logits, t), labels)
    tta = classification_metrics(dataset.hard_labels, (probabilities(logits, t) + probabilities(flipped, t)).argmax(1),
                                 labels)
    report["flip_tta"] = {"accuracy": tta["accuracy"], "balanced_accuracy": tta["balanced_accuracy"]}
    val_truth = np.array([classifier.labels.index(validation.labels[y]) for y in validation.hard_labels])
    fitted = fit_temperature(dataset_logits(classifier, validation), val_truth)
    report["calibration"] = {"model_temperature": t, "validation_temperature": fitted,
                             "ece_validation_temperature": reliability(probabilities(logits, fitted),
                                                                       dataset.hard_labels)["ece"]}
    return report


def pipeline_set(analyzer, samples) -> dict:
    """Scores through detect -> crop -> classify on (BGR image, true class index, labelled box or None) samples."""
    labels = analyzer.photo_classifier.labels
    truth, probabilities = [], []
    for image, label, box in samples:
        faces = analyzer.analyze_array(image).faces
        chosen = None
        if faces and box is None:
            chosen = max(faces, key=lambda f: f.score)
        elif faces:
            match = best_match([f.box for f in faces], box)
            chosen = None if match is None else faces[match]
        truth.append(label)
        probabilities.append([chosen.probabilities[k] for k in labels] if chosen else [np.nan] * len(labels))
    return scores(np.array(truth), np.array(probabilities, np.float64), labels)


def speed(path, threads=2):
    fast = EmotionClassifier(path, threads=threads)
    crop = np.random.default_rng(0).integers(0, 255, fast.info.input_size, dtype=np.uint8)
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
    return {"threads": threads, "crops_per_second_batch64": per_second, "single_crop_ms_median": statistics.median(single)}


def print_set(title, r, out=sys.stdout):
    found = f", {r['faces_found']} found" if "faces_found" in r else ""
    line = (f"\n{title} ({r['faces']} faces{found}): accuracy {r['accuracy']:.4f}, balanced accuracy "
            f"{r['balanced_accuracy']:.4f}, macro-F1 {r['macro_f1']:.4f}; ECE {r['ece']:.4f}")
    if "calibration" in r:
        c = r["calibration"]
        line += (f" (model T {c['model_temperature']:.3g}), {c['ece_validation_temperature']:.4f} with T "
                 f"{c['validation_temperature']:.3f} fitted on its validation split; flip TTA accuracy "
                 f"{r['flip_tta']['accuracy']:.4f}, balanced {r['flip_tta']['balanced_accuracy']:.4f}")
    print(line, file=out)
    print(f"  {'class':9s} recall  predicted  true", file=out)
    for k in r["recall"]:
        print(f"  {k:9s} {r['recall'][k]:6.2f}  {r['predicted_share'][k]:9.3f}  {r['true_share'][k]:5.3f}", file=out)


TEMPERATURE_FITS = {"ferplus": "FER+ PublicTest majority labels, after the correction",
                    "all": "the three crop validation sets alike (mean NLL), after the correction"}
"""How benchmarks/prior_correction.py fitted the temperature (its --temperature-on), in words for the metadata."""


def summary(results, selection: dict | None = None) -> dict:
    """The compact numbers recorded in the model's metadata (``emoscope export --metrics``); ``selection``: the
    JSON of benchmarks/prior_correction.py, whose choice of tau, neutral offset and temperature on validation goes
    with them."""
    def rounded(d):
        return {k: round(v, 4) for k, v in d.items()}

    sets = {name: {"accuracy": round(r["accuracy"], 4), "balanced_accuracy": round(r["balanced_accuracy"], 4),
                   "recall": rounded(r["recall"]), "predicted_share": rounded(r["predicted_share"]),
                   "ece": round(r["ece"], 4), **({"faces_found": f"{r['faces_found']}/{r['faces']}"}
                                                if "faces_found" in r else {})}
            for name, r in results["sets"].items()}
    chosen = {}
    if selection:
        share = selection.get("chosen_soft_share")
        rows = {(row["tau"], row.get("neutral_offset", 0.0)): row for row in selection["table"]
                if row.get("soft_share") == share}   # a table over several head mixes: the chosen mix's rows
        picked = (selection["chosen_tau"], selection.get("chosen_neutral_offset", 0.0))
        chosen = {"prior_correction_selection": {
            "chosen_on": "best mean balanced accuracy over " + "; ".join(selection["validation_sets"].values())
                         + (f"; neutral at most {selection['max_neutral_ratio']:g}x its true share on "
                            + ", ".join(selection["neutral_ratio_on"]) if selection.get("max_neutral_ratio") else ""),
            **({"soft_share": share} if share is not None else {}),
            "validation_mean_balanced_accuracy": {
                f"tau {tau:g}" + (f", neutral offset {offset:+g}" if offset else ""):
                    round(rows[tau, offset]["mean"], 4)
                for tau, offset in ((0.0, 0.0), picked) if (tau, offset) in rows},
            "temperature_fitted_on": TEMPERATURE_FITS[selection.get("temperature_fitted_on", "ferplus")]}}
    detector = f" (EmoScope detector {results['detector_version']})" if results.get("detector_version") else ""
    return {**sets, **chosen,
            "measured": f"{datetime.date.today()}, benchmarks/model_accuracy.py --detector {results['detector']}{detector}"}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fast",
                        help="emotion model: fast or accurate (bundled) or an ONNX file (default: %(default)s)")
    parser.add_argument("--detector", default="auto", help="face detector of the pipeline sets (default: auto)")
    parser.add_argument("--detector-model", help="EmoScope detector ONNX file of the pipeline sets (default: bundled)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads for the accuracy runs (default: 1)")
    parser.add_argument("--speed-threads", type=int, default=2, help="threads of the speed section (default: 2)")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed section")
    parser.add_argument("--out", default="out/model_accuracy", help="folder for the confusion matrix PNGs")
    parser.add_argument("--json", help="also write the results here ('-': standard output, nothing else printed)")
    parser.add_argument("--summary", metavar="JSON", help="write the compact numbers for the model's metadata here")
    parser.add_argument("--selection", metavar="JSON", help="benchmarks/prior_correction.py's --json, for --summary")
    parser.add_argument("--speed-only", nargs="+", metavar="MODEL",
                        help="only time these models, one after the other in one run (ratios hold on a busy machine)")
    args = parser.parse_args()
    text = sys.stderr if args.json == "-" else sys.stdout
    if args.speed_only:
        for path in args.speed_only:
            s = speed(path, args.speed_threads)
            print(f"{path}: {s['crops_per_second_batch64']:.0f} crops/s at batch 64; "
                  f"single crop {s['single_crop_ms_median']:.2f} ms ({args.speed_threads} threads)")
        return
    analyzer = Analyzer(args.detector, args.model, detector_model=args.detector_model, threads=args.threads)
    classifier = analyzer.photo_classifier
    labels = classifier.labels
    validation, test = crop_sets(classifier, "val"), crop_sets(classifier, "test")
    results = {"model": str(classifier.path), "version": classifier.info.metadata.get("version"),
               "prior_correction": classifier.info.prior_correction,
               "temperature": classifier.info.temperature, "detector": args.detector,
               "detector_version": getattr(getattr(analyzer.detector, "info", None), "version", None),
               "size_mb": Path(classifier.path).stat().st_size / 1e6, "sets": {}}
    titles = {}
    for name, dataset in test.items():
        results["sets"][name] = crop_set(classifier, dataset, validation[name])
        titles[name] = TITLES[name, "test"]
    results["sets"]["expw_pipeline"] = pipeline_set(analyzer, expw_images(require(EXPW), "test", labels))
    titles["expw_pipeline"] = f"ExpW test through the pipeline ({args.detector} detector)"
    results["sets"]["jaffe_pipeline"] = pipeline_set(analyzer, jaffe_images(require(JAFFE), labels, "test"))
    titles["jaffe_pipeline"] = f"JAFFE test subjects through the pipeline ({args.detector} detector)"
    # FER2013's labels are FER2013's (test labels, not FER+ votes): compare with the "fer2013" crop set
    results["sets"]["fer2013_pipeline"] = pipeline_set(analyzer, fer2013_close_ups(require(FER2013), "test", labels))
    titles["fer2013_pipeline"] = f"FER2013 PrivateTest close-ups through the pipeline ({args.detector} detector)"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    version = results["version"] or Path(classifier.path).stem
    for name, r in results["sets"].items():
        print_set(titles[name], r, text)
        confusion_png(r["confusion"], labels, out / f"{name}_confusion.png", normalise=True,
                      title=f"{version}: {titles[name]}\naccuracy {r['accuracy']:.3f}, balanced {r['balanced_accuracy']:.3f}",
                      missed=r.get("missed_per_class"))
    mean = float(np.mean([r["balanced_accuracy"] for r in results["sets"].values()]))
    results["mean_balanced_accuracy"] = mean
    print(f"\nmean balanced accuracy over the {len(results['sets'])} sets: {mean:.4f}; confusion matrices in {out}/",
          file=text)
    every_subject = results["jaffe_all_subjects"] = pipeline_set(analyzer, jaffe_images(require(JAFFE), labels))
    print(f"(not in the mean: its validation half may have chosen or trained a model) JAFFE, all "
          f"{every_subject['faces']} photos: "
          f"accuracy {every_subject['accuracy']:.4f}, balanced accuracy {every_subject['balanced_accuracy']:.4f}",
          file=text)
    if not args.no_speed:
        s = results["speed"] = speed(classifier.path, args.speed_threads)
        print(f"size {results['size_mb']:.2f} MB; {s['crops_per_second_batch64']:.0f} crops/s at batch 64; "
              f"single crop {s['single_crop_ms_median']:.2f} ms ({s['threads']} threads)", file=text)
    if args.summary:
        selection = json.loads(Path(args.selection).read_text()) if args.selection else None
        Path(args.summary).write_text(json.dumps(summary(results, selection), indent=2))
    if args.json == "-":
        print(json.dumps(results, indent=2))
    elif args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
