"""The training commands of ``emoscope`` (the ``train`` extra): emotion models and the face detector.

Each command imports what it needs when it runs, so the analysis commands never load PyTorch.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .cli_types import FRACTION, POSITIVE, POSITIVE_FLOAT, float_in
from .data import DATASET_KINDS
from .errors import InputError

TRAINING_COMMANDS = ("train", "teacher-logits", "train-detector", "export-detector", "tune-detector", "export",
                     "quantize", "evaluate")


def add_training_commands(commands) -> None:
    """Add every training command to the ``emoscope`` subparsers ``commands``."""
    _add_train_parser(commands)
    _add_teacher_logits_parser(commands)
    _add_train_detector_parser(commands)
    _add_export_detector_parser(commands)
    _add_tune_detector_parser(commands)

    export = commands.add_parser("export", help="export a training checkpoint to ONNX with EmoScope metadata",
                                 description="Export a checkpoint to ONNX, or, given an ONNX emotion model, write a "
                                             "prior-corrected copy of it to --out (never over the input).")
    export.add_argument("checkpoint", help="training checkpoint (.pt), or an ONNX emotion model to prior-correct")
    export.add_argument("--out", required=True, help="ONNX file to write")
    export.add_argument("--margin", type=float, help="crop margin around the face box, fraction of its side (default: 0.1)")
    export.add_argument("--shift-y", type=float, help="move the crop centre down by this fraction of its side (default: 0)")
    export.add_argument("--no-align", action="store_true", help="do not level the eyes before cropping")
    export.add_argument("--version", help="model version recorded in the metadata (default: 0; an ONNX input's own)")
    export.add_argument("--metrics", metavar="JSON", help="measured metrics to record in the metadata")
    export.add_argument("--temperature", type=POSITIVE_FLOAT,
                        help="softmax temperature from calibration (default: 1; an ONNX input's own)")
    export.add_argument("--prior-correction", type=float_in(0.0), metavar="TAU",
                        help="add the logit bias -TAU * log(training label prior) in the graph (logit adjustment; "
                             "0: none, 1: the whole prior); the prior is computed from --data")
    export.add_argument("--dataset", choices=DATASET_KINDS, help="layout of --data (default: the model's trained_on)")
    export.add_argument("--data", metavar="PATH", help="the training data, for --prior-correction")
    export.add_argument("--votes", metavar="CSV", help="FER+ fer2013new.csv, for --prior-correction of FER+ models")
    export.set_defaults(handler=cmd_export)

    quantize = commands.add_parser("quantize", help="write an int8 copy of an ONNX emotion model (train extra)",
                                   description="Static int8 quantization calibrated on crops from a data set's "
                                               "training split; the metadata is carried over.")
    quantize.add_argument("model", help="ONNX emotion model")
    quantize.add_argument("--out", required=True, help="int8 ONNX file to write")
    quantize.add_argument("--dataset", required=True, choices=tuple(k for k in DATASET_KINDS if k != "fer2013+ferplus"))
    quantize.add_argument("--data", required=True, metavar="PATH")
    quantize.add_argument("--votes", metavar="CSV", help="FER+ fer2013new.csv (ferplus only)")
    quantize.add_argument("--count", type=int, default=512, help="calibration crops (default: 512)")
    quantize.add_argument("--on-error", choices=("skip", "fail"), default="fail")
    quantize.set_defaults(handler=cmd_quantize)

    evaluate = commands.add_parser("evaluate", help="evaluate an ONNX emotion model on a labelled data set",
                                   description="Accuracy, macro-F1, per-class scores, confusion matrices, "
                                               "calibration; a Markdown and HTML report in --out.")
    evaluate.add_argument("model", help="ONNX emotion model")
    evaluate.add_argument("--dataset", required=True, choices=tuple(k for k in DATASET_KINDS if k != "fer2013+ferplus"))
    evaluate.add_argument("--data", required=True, metavar="PATH")
    evaluate.add_argument("--votes", metavar="CSV", help="FER+ fer2013new.csv (ferplus only)")
    evaluate.add_argument("--with-contempt", action="store_true", help="FER+: 8 classes with contempt")
    evaluate.add_argument("--split", default="test", choices=("train", "val", "test"))
    evaluate.add_argument("--flip-tta", action="store_true", help="also report horizontal-flip test-time augmentation")
    evaluate.add_argument("--no-calibration", action="store_true", help="skip temperature scaling on the val split")
    evaluate.add_argument("--on-error", choices=("skip", "fail"), default="fail")
    evaluate.add_argument("--out", required=True, metavar="DIR", help="report folder")
    evaluate.set_defaults(handler=cmd_evaluate)


def dataset_and_path(text: str) -> tuple[str, str]:
    """``KIND:PATH`` for ``train --also``: a data set layout that needs no other file, and its path."""
    kind, _, path = text.partition(":")
    kinds = [k for k in DATASET_KINDS if "ferplus" not in k]    # FER+ needs --votes beside it
    if kind not in kinds or not path:
        raise argparse.ArgumentTypeError(f"{text!r}: expected KIND:PATH with KIND one of {', '.join(kinds)}")
    return kind, path


def _add_train_parser(commands) -> None:
    parser = commands.add_parser("train", help="train an emotion model (needs the 'train' extra)",
                                 description="Train an emotion classifier. Running the same command again resumes "
                                             "from OUT/last.pt.")
    parser.add_argument("--dataset", required=True, choices=DATASET_KINDS,
                        help="data set layout; fer2013+ferplus trains one model on both FER2013 labels and FER+ votes")
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="FER2013 CSV (fer2013, ferplus), class-folder tree (folder), or data set root (rafdb, affectnet)")
    parser.add_argument("--votes", metavar="CSV", help="FER+ fer2013new.csv (ferplus, fer2013+ferplus)")
    parser.add_argument("--also", action="append", type=dataset_and_path, default=[], metavar="KIND:PATH",
                        help="train on this data set too, e.g. expw:../shared/data/expw (its val split joins "
                             "validation; may be repeated)")
    parser.add_argument("--sampling", choices=("shuffle", "balanced"), help="balanced: every class equally often "
                        "within each data set, each data set by --source-shares (default: shuffle)")
    parser.add_argument("--source-shares", choices=("sqrt", "equal"), help="with --sampling balanced, each data "
                        "set's share of the draws: by the square root of its size, or equal (default: sqrt)")
    parser.add_argument("--selection", choices=("accuracy", "balanced"), help="what picks the best epoch: "
                        "accuracy, or balanced accuracy averaged over the data sets (default: accuracy)")
    parser.add_argument("--init-from", metavar="ONNX", help="start from this exported emotion model's weights "
                        "(same --arch; e.g. the bundled model) instead of ImageNet's")
    parser.add_argument("--scheme", choices=("majority", "plurality", "soft"), default="majority",
                        help="FER+ label scheme (default: majority)")
    parser.add_argument("--with-contempt", action="store_true", help="keep contempt as an 8th class (FER+, AffectNet)")
    parser.add_argument("--arch", default="mobilenet_v2", help="architecture from the registry (see --list-archs)")
    parser.add_argument("--epochs", type=int, default=8, help="training epochs (default: 8)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--class-weighting", choices=("none", "sqrt", "inverse"),
                        help="loss weights against class imbalance (default: sqrt of inverse frequency; none with "
                             "--sampling balanced, whose draws are balanced already)")
    parser.add_argument("--no-augment", action="store_true", help="turn off augmentation (shift, scale, rotation, "
                        "flip, brightness/contrast, erasing)")
    parser.add_argument("--patience", type=int, default=5, help="stop after this many epochs without validation gain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--soft-weight", type=float, help="share of the loss on the FER+ vote head "
                        "(fer2013+ferplus; default: TrainConfig's)")
    parser.add_argument("--ema-decay", type=float, help="moving average of the weights that is validated and "
                        "saved (0: off; default: TrainConfig's)")
    parser.add_argument("--teacher-logits", metavar="NPZ", help="distil a teacher: its logits from "
                        "'emoscope teacher-logits' (same data file)")
    parser.add_argument("--distill-weight", type=float, help="share of the loss on matching the teacher")
    parser.add_argument("--distill-temperature", type=float, help="softmax temperature of the distillation loss")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for PyTorch (may change on resume)")
    parser.add_argument("--on-error", choices=("skip", "fail"), default="fail",
                        help="malformed rows or unreadable images: skip with a warning, or stop (default)")
    parser.add_argument("--restart", action="store_true", help="start over even if OUT holds a run")
    parser.add_argument("--out", required=True, metavar="DIR", help="run folder: checkpoints, metrics log, curves")
    parser.set_defaults(handler=cmd_train)


def cmd_train(args) -> int:
    from .training.architectures import get_architecture
    from .training.augment import AugmentConfig
    from .data import combine_datasets, load_train_val
    from .training.trainer import TrainConfig, train

    if args.source_shares and args.sampling != "balanced":
        raise InputError("--source-shares needs --sampling balanced")
    train_set, val_set = load_train_val(args.dataset, args.data, args.votes, args.scheme, args.with_contempt,
                                        args.on_error, args.seed)
    if args.also:
        extra = [load_train_val(kind, path, with_contempt=args.with_contempt, on_error=args.on_error, seed=args.seed)
                 for kind, path in args.also]
        size = get_architecture(args.arch).input_size
        train_set = combine_datasets([train_set] + [t for t, _ in extra], size)
        val_set = combine_datasets([val_set] + [v for _, v in extra], size)
    print(f"train {len(train_set)} {train_set.class_counts()}\nval {len(val_set)} {val_set.class_counts()}")
    config = TrainConfig(
        arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        class_weighting=args.class_weighting or ("none" if args.sampling == "balanced" else TrainConfig.class_weighting),
        augment=AugmentConfig.none() if args.no_augment else AugmentConfig(), patience=args.patience,
        seed=args.seed, threads=args.threads,
        **{name: getattr(args, name) for name in ("soft_weight", "ema_decay", "teacher_logits", "distill_weight",
                                                  "distill_temperature", "sampling", "source_shares", "selection",
                                                  "init_from")
           if getattr(args, name) is not None})
    best = train(config, train_set, val_set, args.out, restart=args.restart)
    print(f"best checkpoint: {best}")
    return 0


def _add_train_detector_parser(commands) -> None:
    parser = commands.add_parser("train-detector", help="train the face detector on WIDER FACE (train extra)",
                                 description="Train EmoScope's face detector on the WIDER FACE photos in DATA, "
                                             "leaving out the held-out part the benchmark uses. Running the same "
                                             "command again resumes from OUT/last.pt; uses CUDA when available.")
    parser.add_argument("--data", required=True, metavar="DIR", help="WIDER FACE root (wider_face_split/, WIDER_*/)")
    parser.add_argument("--out", required=True, metavar="DIR", help="run folder: config, last.pt, metrics.jsonl")
    parser.add_argument("--epochs", type=int, help="passes over the training photos (may change on resume)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="peak learning rate (AdamW, warm-up then cosine)")
    parser.add_argument("--size", type=int, help="square training crop in pixels")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--close-ups", metavar="DIR",
                        help="extra close-up faces: a folder of face crops with faces.csv (file, split, x, y, w, h; "
                             "ExpW's layout), its train split")
    parser.add_argument("--landmarks-from", metavar="YUNET",
                        help="YuNet ONNX file whose landmarks are the pseudo-labels (default: the one "
                             "`emoscope models` finds; without one, boxes only)")
    parser.add_argument("--init-from", metavar="ONNX", help="start from this EmoScope detector (e.g. the bundled one)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch (default: 1)")
    parser.add_argument("--restart", action="store_true", help="start over even if OUT holds a run")
    parser.set_defaults(handler=cmd_train_detector)


def _add_export_detector_parser(commands) -> None:
    from .detection.onnx_detector import DetectorInfo

    parser = commands.add_parser("export-detector", help="export a face detector checkpoint to ONNX (train extra)",
                                 description="Write the EMA weights of a train-detector checkpoint as one ONNX file "
                                             "with the metadata the bundled detector reads.")
    parser.add_argument("checkpoint", help="train-detector checkpoint (last.pt)")
    parser.add_argument("--out", required=True, help="ONNX file to write")
    parser.add_argument("--score-threshold", type=FRACTION, default=DetectorInfo.score_threshold,
                        help="default score threshold recorded in the model (default: %(default)s)")
    parser.add_argument("--input-max-side", type=POSITIVE, default=DetectorInfo.input_max_side, metavar="PX",
                        help="longer side of the copy the model sees of a stream's frame (default: %(default)s)")
    parser.add_argument("--photo-max-side", type=POSITIVE, metavar="PX",
                        help="longer side of the copy the model sees of a photo (default: --input-max-side)")
    parser.add_argument("--min-face-input", type=POSITIVE_FLOAT, default=DetectorInfo.min_face_input, metavar="PX",
                        help="never shrink a --min-face face below this many pixels (default: %(default)s)")
    parser.add_argument("--version", default=DetectorInfo.version, help="model version recorded in the metadata")
    parser.add_argument("--metrics", metavar="JSON", help="measured metrics to record in the metadata")
    parser.set_defaults(handler=cmd_export_detector)


def _add_tune_detector_parser(commands) -> None:
    parser = commands.add_parser("tune-detector", help="choose a detector's score threshold and input size on "
                                 "validation photos (train extra)",
                                 description="Score an EmoScope detector at several input sizes and score thresholds "
                                             "on the WIDER FACE val part and on close-ups (WIDER val faces cut out, "
                                             "the face-crop folder's val split), and print the choice; pass it to "
                                             "export-detector.")
    parser.add_argument("model", help="EmoScope detector ONNX file")
    parser.add_argument("--data", required=True, metavar="DIR", help="WIDER FACE root")
    parser.add_argument("--close-ups", metavar="DIR", help="face-crop folder with faces.csv (its val split)")
    parser.add_argument("--sides", type=POSITIVE, nargs="+", metavar="PX",
                        help="frame sides to try, within the time budget (default: detector_selection.FRAME_SIDES)")
    parser.add_argument("--photo-sides", type=POSITIVE, nargs="+", metavar="PX",
                        help="photo sides to try, at the frames' threshold (default: detector_selection.PHOTO_SIDES)")
    parser.add_argument("--json", metavar="FILE", help="write every candidate's scores and the choice")
    parser.set_defaults(handler=cmd_tune_detector)


def cmd_tune_detector(args) -> int:
    from dataclasses import asdict

    from .data.widerface import load_widerface, read_images
    from .training.detector_data import face_crop_samples
    from .training.detector_selection import FRAME_SIDES, PHOTO_SIDES, tune

    photos = [(image, entry.boxes, entry.ignore) for image, entry in read_images(load_widerface(args.data, "val"))]
    crops = [(s.image, s.boxes) for s in face_crop_samples(Path(args.close_ups), "val", None, None)] \
        if args.close_ups else []
    choice = tune(args.model, photos, crops, args.sides or FRAME_SIDES, args.photo_sides or PHOTO_SIDES)
    print(f"{len(photos)} WIDER val photos; {len(crops)} val face crops\n{choice.table()}")
    print(f"export-detector {choice.export_options()}")
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(choice), indent=2))
    return 0


def cmd_export_detector(args) -> int:
    from .detection.onnx_detector import DetectorInfo
    from .training.detector_export import export_detector, max_relative_difference

    info = DetectorInfo(score_threshold=args.score_threshold, input_max_side=args.input_max_side,
                        photo_max_side=args.photo_max_side,
                        min_face_input=args.min_face_input, version=args.version,
                        metrics=json.loads(Path(args.metrics).read_text()) if args.metrics else {})
    out = export_detector(args.checkpoint, args.out, info)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); "
          f"max |PyTorch - ONNX Runtime| / max |output| = {max_relative_difference(args.checkpoint, out):.1e}")
    return 0


def cmd_train_detector(args) -> int:
    import logging

    import torch

    from . import models
    from .data.widerface import load_widerface
    from .training.detector_data import PseudoLabeller, face_crop_samples, wider_samples
    from .training.detector_trainer import DetectorTrainConfig, train_detector

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    yunet = models.find_downloadable("yunet", args.landmarks_from)
    labeller = PseudoLabeller(yunet) if yunet else None
    if labeller is None:
        print("no YuNet model found: training boxes only, without landmarks")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    close_ups = face_crop_samples(Path(args.close_ups), "train", labeller, out / "close_up_landmarks.npz") \
        if args.close_ups else []     # first: a wrong folder is refused before the photos are read
    samples = wider_samples(load_widerface(args.data, "train"), labeller, out / "wider_landmarks.npz")
    print(f"{len(samples)} training photos, {sum(len(s.boxes) for s in samples)} faces; "
          f"{len(close_ups)} close-up crops")
    options = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "size": args.size,
               "seed": args.seed, "init_from": str(args.init_from) if args.init_from else None,
               "close_ups": str(Path(args.close_ups).resolve()) if args.close_ups else None,
               "landmarks_from": str(Path(yunet).resolve()) if yunet else None}
    config = DetectorTrainConfig(**{key: value for key, value in options.items() if value is not None})
    trained_on = f"WIDER FACE subset, {len(samples)} photos (held-out part excluded)"
    if close_ups:
        trained_on += f"; {len(close_ups)} close-up face crops ({Path(args.close_ups).name}, train split)"
    if labeller:
        trained_on += "; landmarks: YuNet 2023mar pseudo-labels"
    last = train_detector(samples, out, config, restart=args.restart, trained_on=trained_on, close_ups=close_ups)
    print(f"checkpoint: {last}")
    return 0


def _add_teacher_logits_parser(commands) -> None:
    parser = commands.add_parser("teacher-logits", help="a trained model's ten-crop logits for every image of a "
                                 "data file, to distil it into a student (train extra)")
    parser.add_argument("checkpoint", help="the teacher's best.pt")
    parser.add_argument("--dataset", required=True, choices=("fer2013", "ferplus", "fer2013+ferplus"))
    parser.add_argument("--data", required=True, metavar="PATH", help="the FER2013 CSV")
    parser.add_argument("--votes", metavar="CSV", help="FER+ fer2013new.csv (ferplus, fer2013+ferplus)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for PyTorch")
    parser.add_argument("--out", required=True, metavar="NPZ", help="where to write the logits")
    parser.set_defaults(handler=cmd_teacher_logits)


def cmd_teacher_logits(args) -> int:
    import torch

    from .data import load_split
    from .training.distill import save_teacher_logits, ten_crop_logits
    from .training.export import load_checkpoint
    from .training.tensors import InputSpec

    torch.set_num_threads(args.threads)
    blended, state = load_checkpoint(args.checkpoint)
    spec = InputSpec(**state["input"])
    by_row = {}
    for split in ("train", "val", "test"):
        dataset = load_split(args.dataset, args.data, split, votes=args.votes)
        by_row.update(zip(dataset.rows.tolist(), ten_crop_logits(blended.model, spec, dataset.images)))
    out = save_teacher_logits(args.out, by_row, "fer2013")
    print(f"wrote {out}: logits of {len(by_row)} images")
    return 0


def _prior_correction(args, labels, trained_on: str, soft_share: float):
    """The export's PriorCorrection from --prior-correction TAU and the training data, or None."""
    from .training.prior_correction import PriorCorrection, dataset_kind

    if args.prior_correction is None:
        return None
    if not args.data:
        raise InputError("--prior-correction needs --data (and --votes for FER+): the training data whose label "
                         "prior is taken out")
    kind = args.dataset or dataset_kind(trained_on)
    correction = PriorCorrection.from_training_data(args.prior_correction, kind, args.data, labels, soft_share,
                                                    votes=args.votes)
    print(f"prior from {correction.source}: " + ", ".join(f"{k} {v:.3f}" for k, v in zip(labels, correction.prior)))
    return correction


def cmd_export(args) -> int:
    metrics = json.loads(Path(args.metrics).read_text()) if args.metrics else None
    if Path(args.checkpoint).suffix.lower() == ".onnx":   # an exported model: prior-correct a copy of it
        from .classification import read_model_info
        from .training.prior_correction import check_correctable, correct_model

        if args.prior_correction is None or args.margin is not None or args.shift_y is not None or args.no_align:
            raise InputError(f"{args.checkpoint}: an ONNX model keeps its crop and is only prior-corrected here; "
                             "give --prior-correction TAU and no --margin/--shift-y/--no-align")
        check_correctable(args.checkpoint, args.out)   # before the training data is read
        info = read_model_info(args.checkpoint)
        correction = _prior_correction(args, info.labels, info.metadata.get("trained_on", ""),
                                       float(info.metadata.get("heads", {}).get("soft_share", 0.0)))
        out = correct_model(args.checkpoint, args.out, correction, args.temperature, args.version, metrics)
        print(f"wrote {out}: {args.checkpoint} with the logit bias "
              + ", ".join(f"{k} {v:+.3f}" for k, v in zip(info.labels, correction.bias)))
        return 0
    from .models import CropSpec
    from .training.export import export_onnx, load_checkpoint, max_abs_difference

    crop = CropSpec(margin=0.1 if args.margin is None else args.margin,
                    shift_y=0.0 if args.shift_y is None else args.shift_y, align_eyes=not args.no_align)
    correction = None
    if args.prior_correction is not None:
        _, state = load_checkpoint(args.checkpoint)
        correction = _prior_correction(args, tuple(state["labels"]), state.get("trained_on", ""),
                                       float(state.get("soft_share", 0.0)))
    out = export_onnx(args.checkpoint, args.out, crop, args.version or "0", metrics,
                      1.0 if args.temperature is None else args.temperature, correction)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); "
          f"max |PyTorch - ONNX Runtime| = {max_abs_difference(args.checkpoint, out):.2e}")
    return 0


def cmd_quantize(args) -> int:
    from .data import load_split
    from .training.quantize import quantize_int8

    calibration = load_split(args.dataset, args.data, "train", votes=args.votes, on_error=args.on_error)
    out = quantize_int8(args.model, args.out, calibration, count=args.count)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); evaluate it with: emoscope evaluate {out} ...")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation.run import evaluate_model

    report = evaluate_model(args.model, args.dataset, args.data, args.split, args.out, votes=args.votes,
                            with_contempt=args.with_contempt, flip_tta=args.flip_tta, on_error=args.on_error,
                            calibrate=not args.no_calibration)
    print(report.summary_text())
    return 0
