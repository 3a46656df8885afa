"""Choose the prior correction of an emotion model on validation data only, and refit its temperature.

The correction is logit adjustment (Menon et al. 2021): logits - tau * log(prior), the prior being the label
distribution of the model's training data (for a two-head FER2013 + FER+ model: its FER+ head share of the FER+
vote shares, the rest FER2013's label frequencies), computed here from that data. tau is chosen by the best mean
balanced accuracy (mean per-class recall) over three validation sets: FER+ PublicTest (majority), FER2013
PublicTest and ExpW val (crops framed by the model's crop rule); ``--posed-val`` adds a fourth, posed faces: JAFFE's
validation subjects (``_emotion_sets.JAFFE_SUBJECTS``) through the bundled detector and the model's crop, a face not
found counting as wrong. ``--max-neutral-ratio R`` leaves out every choice that answers neutral more than R times
its true share on any validation set (or on those of ``--neutral-ratio-on``). No test split is read.

A model that is corrected already is read without its correction, and ``--write`` replaces its correction.
``--soft-shares`` also tries other mixes of a two-head model's heads (``set_soft_share``; the prior follows the
mix), in every member of an ensemble alike.

After the correction the temperature is refitted (NLL): by default on the three crop validation sets alike (the mean of
their NLLs), for a model trained on more than FER2013; ``--temperature-on ferplus`` fits it on FER+ PublicTest
majority labels alone, the rule of models 2.x. ECE on each validation set is printed for it.

    python benchmarks/prior_correction.py --model FILE [--taus 0:2:0.1] [--json results.json]
    python benchmarks/prior_correction.py --model FILE --write corrected.onnx --version 2.1.0   # also write it
    python benchmarks/prior_correction.py --model FILE --taus 0:1:0.1 --neutral-offsets=-1:0.4:0.1   # and an offset
    python benchmarks/prior_correction.py --model fast --posed-val --max-neutral-ratio 1.5 --taus 0:0.6:0.1 \
        --neutral-offsets=-1.5:0.5:0.1   # choose again for the bundled fast model, posed faces weighed too
    python benchmarks/prior_correction.py --model accurate --posed-val --soft-shares 0:0.5:0.125 --taus 0:0.6:0.1 \
        --neutral-offsets=-1:0.5:0.1 --max-neutral-ratio 1.5 --neutral-ratio-on expw   # and the heads' mix

The neutral offset (``emoscope.training.prior_correction``) is a constant added to neutral's logit alone, chosen
with tau on the same validation sets.

Writing the corrected model (of the model's own head mix) is the same as
``emoscope export MODEL.onnx --out OUT.onnx --prior-correction TAU [--neutral-offset B] --temperature T --data
FER2013_CSV --votes VOTES [--replace-correction]``.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import onnx

from _emotion_sets import FER2013, JAFFE, TITLES, VOTES, crop_sets, jaffe_images, require, true_classes
from crop_resampling import detected_faces
from emoscope import EmoScopeError
from emoscope.classification import EmotionClassifier
from emoscope.detection import create_detector
from emoscope.evaluation.metrics import fit_temperature, reliability, softmax
from emoscope.evaluation.run import dataset_logits
from emoscope.training.prior_correction import (PriorCorrection, correct_model, dataset_kind, read_metadata,
                                                remove_logit_bias, set_soft_share, tau_table, write_metadata)


def grid(text: str) -> list[float]:
    start, stop, step = (float(v) for v in text.split(":"))
    return [round(v, 6) + 0.0 for v in np.arange(start, stop + step / 2, step)]   # + 0.0: no -0.0


POSED_TITLE = "JAFFE validation subjects, pipeline"
SET_NAMES = ("ferplus", "fer2013", "expw", "jaffe")


def posed_faces(labels, threads: int) -> list:
    """JAFFE's validation subjects through the bundled detector (``crop_resampling.detected_faces``), found once for
    every head mix."""
    faces = detected_faces(create_detector("auto", threads=threads), jaffe_images(require(JAFFE), labels, "val"), 1)
    print(f"{POSED_TITLE}: {len(faces)} faces, {sum(face[1] is not None for face in faces)} of them found")
    return faces


def posed_validation(classifier, faces) -> tuple[np.ndarray, np.ndarray]:
    """Logits and true classes of the posed faces, each cut by the model's crop; a face not found gets logits that
    only a class other than the true one and neutral can win, so that it counts as wrong and as no neutral answer."""
    found = [face for face in faces if face[1] is not None]
    logits = iter(classifier.raw_outputs([classifier.crop(image, box, marks) for image, box, marks, _ in found]))
    neutral = classifier.labels.index("neutral")
    rows = []
    for (_, box, _, label) in faces:
        if box is None:
            row = np.full(len(classifier.labels), -1e9)
            row[next(k for k in range(len(row)) if k not in (label, neutral))] = 0.0
        else:
            row = next(logits)
        rows.append(row)
    return np.array(rows, np.float64), np.array([label for *_, label in faces])


def uncorrected_copy(path: Path, soft_share: float | None, folder: Path) -> Path:
    """``path`` without its prior correction and, where ``soft_share`` is given, with its heads mixed so."""
    proto = onnx.load(str(path))
    metadata = read_metadata(proto)
    if metadata.get("prior_correction", {}).get("in_members"):
        raise SystemExit(f"{path}: its members carry the correction; give the uncorrected model")
    if "prior_correction" in metadata:
        remove_logit_bias(proto)
        del metadata["prior_correction"]
    if soft_share is not None:
        set_soft_share(proto, soft_share)
        metadata["heads"] = {**metadata["heads"], "soft_share": soft_share}
    metadata.pop("metrics", None)
    write_metadata(proto, metadata)
    out = folder / ("uncorrected.onnx" if soft_share is None else f"uncorrected-share-{soft_share:g}.onnx")
    onnx.save(proto, str(out))
    return out


def validation_logits(classifier, datasets: dict, posed: list | None) -> tuple[dict, dict]:
    """name -> (logits, true classes) of the validation crop sets (``crop_sets``, read once for every head mix) and
    of the posed faces where given, and their titles."""
    validation, titles = {}, {}
    for name, dataset in datasets.items():
        validation[name], titles[name] = (dataset_logits(classifier, dataset),
                                          true_classes(classifier, dataset)), TITLES[name, "val"]
    if posed is not None:
        validation["jaffe"], titles["jaffe"] = posed_validation(classifier, posed), POSED_TITLE
    for name, (_, truth) in validation.items():
        print(f"{titles[name]}: {len(truth)} faces")
    return validation, titles


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="ONNX emotion model (fast, accurate or a file; a corrected "
                        "model is read without its correction)")
    parser.add_argument("--taus", default="0:2:0.1", help="START:STOP:STEP of tau (default: 0:2:0.1)")
    parser.add_argument("--neutral-offsets", default="0:0:1", help="START:STOP:STEP of the offset on neutral's "
                        "logit, tried with every tau (default: 0 only)")
    parser.add_argument("--soft-shares", help="START:STOP:STEP of the soft (FER+ vote) head's share in a two-head "
                        "model's output, tried with every tau and offset (default: the model's own only)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads (default: 1)")
    parser.add_argument("--json", help="also write the table and the choice here")
    parser.add_argument("--write", metavar="ONNX", help="write the corrected model here (a new file)")
    parser.add_argument("--version", help="version recorded in the written model")
    parser.add_argument("--temperature-on", choices=("all", "ferplus"), default="all",
                        help="validation sets the temperature is fitted on (default: the three crop sets alike)")
    parser.add_argument("--posed-val", action="store_true", help="add JAFFE's validation subjects through the "
                        "pipeline as a fourth validation set")
    parser.add_argument("--max-neutral-ratio", type=float, help="only choices whose neutral answers are at most this "
                        "many times neutral's true share on every validation set (or those of --neutral-ratio-on)")
    parser.add_argument("--neutral-ratio-on", nargs="+", choices=SET_NAMES, help="the validation sets "
                        "--max-neutral-ratio holds on (default: all; jaffe with --posed-val)")
    args = parser.parse_args()
    if "jaffe" in (args.neutral_ratio_on or ()) and not args.posed_val:
        raise SystemExit("--neutral-ratio-on jaffe needs --posed-val")
    with tempfile.TemporaryDirectory(prefix="prior_correction-") as folder:
        try:
            choose(args, Path(folder))
        except EmoScopeError as error:     # a model without two heads for --soft-shares, a prior that cannot be had
            raise SystemExit(str(error)) from None


def choose(args, folder: Path) -> None:
    """The table over every head mix, tau and offset; the choice, its temperature and (``--write``) its file."""
    source = EmotionClassifier(args.model, threads=args.threads)
    recorded = source.info.prior_correction
    if recorded:
        print(f"{source.path} is corrected (tau {recorded['tau']:g}, neutral offset "
              f"{recorded.get('neutral_offset', 0):+g}): it is read without its correction")
    shares = grid(args.soft_shares) if args.soft_shares else [None]
    datasets = crop_sets(source, "val")             # every head mix frames faces as the source does
    posed = posed_faces(source.labels, args.threads) if args.posed_val else None
    table, models = [], {}
    for share in shares:
        models[share] = classifier = EmotionClassifier(uncorrected_copy(source.path, share, folder), args.threads)
        meta = classifier.info.metadata
        soft_share = float(meta.get("heads", {}).get("soft_share", 0.0))
        prior = PriorCorrection.from_training_data(0.0, dataset_kind(meta.get("trained_on", "")), require(FER2013),
                                                   classifier.labels, soft_share, votes=require(VOTES))
        print(f"soft share {soft_share:g}; prior ({prior.source}): "
              + ", ".join(f"{k} {v:.4f}" for k, v in zip(prior.labels, prior.prior)))
        validation, titles = validation_logits(classifier, datasets, posed)
        for row in tau_table(validation, prior.prior, classifier.labels, grid(args.taus), grid(args.neutral_offsets)):
            table.append({"soft_share": soft_share, **row, "_share": share, "_prior": prior, "_validation": validation})
    limited = args.neutral_ratio_on or list(validation)
    for row in table:
        row["most_neutral"] = max(row["neutral_ratio"][name] for name in limited)
        row["allowed"] = args.max_neutral_ratio is None or row["most_neutral"] <= args.max_neutral_ratio
    allowed = [row for row in table if row["allowed"]]
    if not allowed:
        raise SystemExit(f"no choice keeps neutral within {args.max_neutral_ratio}x its share on {', '.join(limited)}")
    own_share = float(source.info.metadata.get("heads", {}).get("soft_share", 0.0))
    # on a tie the smaller change: the model's own mix, no offset before an offset, a smaller tau before a larger one
    best = max(allowed, key=lambda row: (row["mean"], row["soft_share"] == own_share, -abs(row["neutral_offset"]),
                                         -row["tau"]))
    print("\nbalanced accuracy on validation (mean per-class recall); neutral answers / true share, the most of "
          + ", ".join(limited))
    print("share  tau  neutral  " + "  ".join(f"{name:>8s}" for name in validation) + "      mean  neutral x")
    for row in table:
        mark = "  <- chosen" if row is best else "" if row["allowed"] else "  (neutral over the limit)"
        scores = "  ".join(f"{row[name]:8.4f}" for name in validation)
        print(f"{row['soft_share']:5.3f}  {row['tau']:4.2f}  {row['neutral_offset']:+6.2f}  {scores}  "
              f"{row['mean']:8.4f}  {row['most_neutral']:8.2f}{mark}")

    prior, validation, classifier = best["_prior"], best["_validation"], models[best["_share"]]
    correction = PriorCorrection(best["tau"], prior.prior, prior.labels, prior.source, best["neutral_offset"])
    bias = correction.bias
    crop_sets_only = {name: validation[name] for name in ("ferplus", "fer2013", "expw")}
    fitted_on = [validation["ferplus"]] if args.temperature_on == "ferplus" else list(crop_sets_only.values())
    (first_logits, first_truth), *others = [(logits + bias, truth) for logits, truth in fitted_on]
    temperature = fit_temperature(first_logits, first_truth, *others)
    calibration = {name: {"ece_model_temperature_uncorrected": reliability(
                              softmax(logits, source.info.temperature), truth)["ece"],
                          "ece_refitted_temperature_corrected": reliability(
                              softmax(logits + bias, temperature), truth)["ece"]}
                   for name, (logits, truth) in crop_sets_only.items()}
    print(f"\nsoft share {best['soft_share']:g}, tau {correction.tau:g}, neutral offset "
          f"{correction.neutral_offset:+g}: bias "
          + ", ".join(f"{k} {b:+.3f}" for k, b in zip(correction.labels, bias)))
    print(f"temperature refitted on {'FER+ PublicTest' if args.temperature_on == 'ferplus' else 'the three crop sets'} "
          f"after the correction: {temperature:.3f} (was {source.info.temperature:g})")
    for name, c in calibration.items():
        print(f"  ECE on {titles[name]}: {c['ece_model_temperature_uncorrected']:.4f} uncorrected -> "
              f"{c['ece_refitted_temperature_corrected']:.4f} corrected")
    results = {"model": str(source.path), "prior": dict(zip(prior.labels, prior.prior)), "prior_from": prior.source,
               "validation_sets": titles, "max_neutral_ratio": args.max_neutral_ratio, "neutral_ratio_on": limited,
               "table": [{k: v for k, v in row.items() if not k.startswith("_")} for row in table],
               "chosen_soft_share": best["soft_share"], "chosen_tau": correction.tau,
               "chosen_neutral_offset": correction.neutral_offset, "temperature": temperature,
               "temperature_fitted_on": args.temperature_on, "validation_calibration": calibration}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.write:
        out = correct_model(classifier.path, args.write, correction, temperature=round(temperature, 3),
                            version=args.version)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
