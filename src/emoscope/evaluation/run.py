"""Evaluate an ONNX emotion model on a labelled data set and write a report folder."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..classification import EmotionClassifier
from ..data import FaceDataset, load_split
from ..errors import InputError
from ..preprocess import fit_all
from .metrics import classification_metrics, fit_temperature, reliability, softmax


def dataset_logits(classifier: EmotionClassifier, dataset: FaceDataset, flip: bool = False,
                   batch_size: int = 256) -> np.ndarray:
    """Model logits for a data set of ready-cropped gray faces (resized to the model's input)."""
    height, width = classifier.info.input_size
    outputs = []
    for start in range(0, len(dataset), batch_size):
        crops = list(fit_all(dataset.images[start: start + batch_size], (height, width)))
        if flip:
            crops = [np.ascontiguousarray(c[:, ::-1]) for c in crops]
        if classifier.info.color != "gray":
            crops = [cv2.cvtColor(c, cv2.COLOR_GRAY2BGR) for c in crops]
        outputs.append(classifier.raw_outputs(crops))
    return np.concatenate(outputs)


def to_dataset_labels(probabilities: np.ndarray, model_labels, dataset_labels) -> np.ndarray:
    """Model probabilities re-indexed to the data set's labels (labels the model lacks get 0)."""
    mapped = np.zeros((len(probabilities), len(dataset_labels)), np.float32)
    for j, label in enumerate(dataset_labels):
        if label in model_labels:
            mapped[:, j] = probabilities[:, list(model_labels).index(label)]
    return mapped


@dataclass
class Report:
    data: dict
    out_dir: Path

    def summary_text(self) -> str:
        d = self.data
        lines = [f"{d['model']} on {d['dataset']} ({d['images']} images)",
                 f"accuracy {d['metrics']['accuracy']:.4f}  balanced accuracy {d['metrics']['balanced_accuracy']:.4f}  "
                 f"macro-F1 {d['metrics']['macro_f1']:.4f}  "
                 f"ECE {d['calibration']['ece']:.4f}"]
        if "flip_tta" in d:
            lines.append(f"with flip TTA: accuracy {d['flip_tta']['accuracy']:.4f}  macro-F1 {d['flip_tta']['macro_f1']:.4f}")
        shares = d["metrics"]["predicted_share"]
        lines += [f"  {name:9s} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  n={m['support']}  "
                  f"predicted {shares[name]:.3f}" for name, m in d["metrics"]["per_class"].items()]
        lines.append(f"report: {self.out_dir / 'report.md'}")
        return "\n".join(lines)


def evaluate_model(model, kind: str, data, split: str, out_dir, votes=None, with_contempt: bool = False,
                   flip_tta: bool = False, on_error: str = "fail", calibrate: bool = True) -> Report:
    from . import plots, report_files

    classifier = EmotionClassifier(model)
    framing = {"crop": classifier.info.crop, "size": classifier.info.input_size[0]}   # for layouts with face boxes
    dataset = load_split(kind, data, split, votes=votes, with_contempt=with_contempt, on_error=on_error, **framing)
    unknown = [label for label in dataset.labels if label not in classifier.labels and label != "contempt"]
    if unknown:
        raise InputError(f"the model has no class for {', '.join(unknown)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y_true = dataset.hard_labels

    def score(logits, temperature=1.0):
        probabilities = to_dataset_labels(softmax(logits, temperature), classifier.labels, dataset.labels)
        return probabilities, classification_metrics(y_true, probabilities.argmax(1), dataset.labels)

    logits = dataset_logits(classifier, dataset)
    probabilities, metrics = score(logits, classifier.info.temperature)
    calibration = reliability(probabilities, y_true)
    result = {"model": str(classifier.path), "dataset": f"{kind}:{split}", "images": len(dataset),
              "labels": list(dataset.labels), "class_counts": dataset.class_counts(), "metrics": metrics,
              "calibration": {"temperature": classifier.info.temperature, "ece": calibration["ece"]}}

    if calibrate and split != "val" and kind in ("fer2013", "ferplus", "expw"):
        val = load_split(kind, data, "val", votes=votes, with_contempt=with_contempt, on_error=on_error, **framing)
        val_logits = dataset_logits(classifier, val)
        val_true = val.hard_labels
        known = np.isin(np.asarray(val.labels)[val_true], classifier.labels)
        model_index = np.array([list(classifier.labels).index(val.labels[y]) for y in val_true[known]])
        temperature = fit_temperature(val_logits[known], model_index)

        def val_ece(t):
            return reliability(to_dataset_labels(softmax(val_logits, t), classifier.labels, val.labels), val_true)["ece"]

        before, after = val_ece(classifier.info.temperature), val_ece(temperature)
        scaled, _ = score(logits, temperature)
        result["temperature_scaling"] = {
            "fitted_on": f"{kind}:val", "temperature": temperature, "val_ece_before": before, "val_ece_after": after,
            "test_ece_after": reliability(scaled, y_true)["ece"], "lowers_val_ece": after < before}

    if flip_tta:
        flipped = dataset_logits(classifier, dataset, flip=True)
        averaged = (softmax(logits, classifier.info.temperature) + softmax(flipped, classifier.info.temperature)) / 2
        tta_probs = to_dataset_labels(averaged, classifier.labels, dataset.labels)
        result["flip_tta"] = classification_metrics(y_true, tta_probs.argmax(1), dataset.labels)

    name = f"{kind} {split}"
    plots.confusion_png(metrics["confusion"], dataset.labels, out_dir / "confusion_counts.png", normalise=False,
                        title=f"{name}: confusion")
    plots.confusion_png(metrics["confusion"], dataset.labels, out_dir / "confusion_normalised.png", normalise=True,
                        title=f"{name}: confusion")
    plots.distribution_png(dataset.class_counts(), out_dir / "class_distribution.png", f"{name}: images per class")
    plots.reliability_png(calibration["bins"], calibration["ece"], out_dir / "reliability.png", f"{name}: reliability")
    (out_dir / "report.json").write_text(json.dumps(result, indent=2))
    report_files.write_markdown_and_html(result, out_dir)
    return Report(result, out_dir)
