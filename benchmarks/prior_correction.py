"""Choose the prior correction of an emotion model on validation data only, and refit its temperature.

The correction is logit adjustment (Menon et al. 2021): logits - tau * log(prior), the prior being the label
distribution of the model's training data (for a two-head FER2013 + FER+ model: its FER+ head share of the FER+
vote shares, the rest FER2013's label frequencies), computed here from that data. tau is chosen by the best mean
balanced accuracy (mean per-class recall) over three validation sets: FER+ PublicTest (majority), FER2013
PublicTest and ExpW val (crops framed by the model's crop rule). No test split is read.

After the correction the temperature is refitted (NLL): by default on the three validation sets alike (the mean of
their NLLs), for a model trained on more than FER2013; ``--temperature-on ferplus`` fits it on FER+ PublicTest
majority labels alone, the rule of models 2.x. ECE on each validation set is printed for it.

    python benchmarks/prior_correction.py --model FILE [--taus 0:2:0.1] [--json results.json]
    python benchmarks/prior_correction.py --model FILE --write corrected.onnx --version 2.1.0   # also write it
    python benchmarks/prior_correction.py --model FILE --taus 0:1:0.1 --neutral-offsets=-1:0.4:0.1   # and an offset

The neutral offset (``emoscope.training.prior_correction``) is a constant added to neutral's logit alone, chosen
with tau on the same validation sets.

Writing the corrected model is the same as
``emoscope export MODEL.onnx --out OUT.onnx --prior-correction TAU [--neutral-offset B] --temperature T --data
FER2013_CSV --votes VOTES``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from _emotion_sets import FER2013, TITLES, VOTES, crop_sets, require, true_classes
from emoscope.classification import EmotionClassifier
from emoscope.evaluation.metrics import fit_temperature, reliability, softmax
from emoscope.evaluation.run import dataset_logits
from emoscope.training.prior_correction import PriorCorrection, correct_model, dataset_kind, tau_table


def grid(text: str) -> list[float]:
    start, stop, step = (float(v) for v in text.split(":"))
    return [round(v, 6) + 0.0 for v in np.arange(start, stop + step / 2, step)]   # + 0.0: no -0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="uncorrected ONNX emotion model file (the bundled fast "
                        "model carries its correction: 3.0.0, uncorrected, is `git show 3cf871b:src/emoscope/weights/"
                        "emoscope-fer-mnv2.onnx`)")
    parser.add_argument("--taus", default="0:2:0.1", help="START:STOP:STEP of tau (default: 0:2:0.1)")
    parser.add_argument("--neutral-offsets", default="0:0:1", help="START:STOP:STEP of the offset on neutral's "
                        "logit, tried with every tau (default: 0 only)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default: 1)")
    parser.add_argument("--json", help="also write the table and the choice here")
    parser.add_argument("--write", metavar="ONNX", help="write the corrected model here (a new file)")
    parser.add_argument("--version", help="version recorded in the written model")
    parser.add_argument("--temperature-on", choices=("all", "ferplus"), default="all",
                        help="validation sets the temperature is fitted on (default: all three alike)")
    args = parser.parse_args()

    classifier = EmotionClassifier(args.model, threads=args.threads)
    meta = classifier.info.metadata
    if classifier.info.prior_correction:
        raise SystemExit(f"{classifier.path} is already prior-corrected; give the uncorrected model")
    soft_share = float(meta.get("heads", {}).get("soft_share", 0.0))
    prior = PriorCorrection.from_training_data(0.0, dataset_kind(meta.get("trained_on", "")), require(FER2013),
                                               classifier.labels, soft_share, votes=require(VOTES))
    print(f"prior ({prior.source}): " + ", ".join(f"{k} {v:.4f}" for k, v in zip(prior.labels, prior.prior)))

    validation = {}
    for name, dataset in crop_sets(classifier, "val").items():
        truth = true_classes(classifier, dataset)
        validation[name] = (dataset_logits(classifier, dataset), truth)
        print(f"{TITLES[name, 'val']}: {len(truth)} faces")
    table = tau_table(validation, prior.prior, classifier.labels, grid(args.taus), grid(args.neutral_offsets))
    # on a tie the smaller change: no offset before an offset, a smaller tau before a larger one
    best = max(table, key=lambda row: (row["mean"], -abs(row["neutral_offset"]), -row["tau"]))
    print("\nbalanced accuracy on validation (mean per-class recall)")
    print("tau  neutral  " + "  ".join(f"{name:>8s}" for name in validation) + "      mean")
    for row in table:
        mark = "  <- chosen" if row is best else ""
        scores = "  ".join(f"{row[name]:8.4f}" for name in validation)
        print(f"{row['tau']:4.2f}  {row['neutral_offset']:+6.2f}  {scores}  {row['mean']:8.4f}{mark}")

    correction = PriorCorrection(best["tau"], prior.prior, prior.labels, prior.source, best["neutral_offset"])
    bias = correction.bias
    fitted_on = [validation["ferplus"]] if args.temperature_on == "ferplus" else list(validation.values())
    (first_logits, first_truth), *others = [(logits + bias, truth) for logits, truth in fitted_on]
    temperature = fit_temperature(first_logits, first_truth, *others)
    calibration = {name: {"ece_model_temperature_uncorrected": reliability(
                              softmax(logits, classifier.info.temperature), truth)["ece"],
                          "ece_refitted_temperature_corrected": reliability(
                              softmax(logits + bias, temperature), truth)["ece"]}
                   for name, (logits, truth) in validation.items()}
    print(f"\ntau {correction.tau:g}, neutral offset {correction.neutral_offset:+g}: bias "
          + ", ".join(f"{k} {b:+.3f}" for k, b in zip(correction.labels, bias)))
    print(f"temperature refitted on {'FER+ PublicTest' if args.temperature_on == 'ferplus' else 'all three'} "
          f"after the correction: {temperature:.3f} "
          f"(was {classifier.info.temperature:g})")
    for name, c in calibration.items():
        print(f"  ECE on {TITLES[name, 'val']}: {c['ece_model_temperature_uncorrected']:.4f} uncorrected -> "
              f"{c['ece_refitted_temperature_corrected']:.4f} corrected")
    results = {"model": str(classifier.path), "prior": dict(zip(prior.labels, prior.prior)), "prior_from": prior.source,
               "validation_sets": {name: TITLES[name, "val"] for name in validation}, "table": table,
               "chosen_tau": correction.tau, "chosen_neutral_offset": correction.neutral_offset,
               "temperature": temperature,
               "temperature_fitted_on": args.temperature_on, "validation_calibration": calibration}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.write:
        out = correct_model(classifier.path, args.write, correction, temperature=round(temperature, 3),
                            version=args.version)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
