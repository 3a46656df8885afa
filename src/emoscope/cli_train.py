"""The training commands of ``emoscope`` (the ``train`` extra): emotion models, and the face detector's
(:mod:`emoscope.cli_train_detector`).

Each command imports what it needs when it runs, so the analysis commands never load PyTorch.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .cli_train_detector import DETECTOR_TRAINING_COMMANDS, add_detector_training_commands
from .cli_types import POSITIVE_FLOAT, float_in, json_object_file
from .data import DATASET_KINDS
from .errors import InputError

TRAINING_COMMANDS = ("train", "teacher-logits", "export", "export-ensemble", "export-member", "quantize", "evaluate",
                     *DETECTOR_TRAINING_COMMANDS)


def add_training_commands(commands) -> None:
    """Add every training command to the ``emoscope`` subparsers ``commands``."""
    _add_train_parser(commands)
    _add_teacher_logits_parser(commands)
    add_detector_training_commands(commands)

    export = commands.add_parser("export", help="export a training checkpoint to ONNX with EmoScope metadata",
                                 description="Export a checkpoint to ONNX, or, given an ONNX emotion model, write a "
                                             "copy of it to --out (never over the input) with a prior correction, "
                                             "another face framing, temperature, version or metrics; its weights "
                                             "are not touched.")
    export.add_argument("checkpoint", help="training checkpoint (.pt), or an ONNX emotion model to copy with changes")
    export.add_argument("--out", required=True, help="ONNX file to write")
    export.add_argument("--margin", type=float_in(-0.4, 1.0), help="crop margin around the face box, fraction of its "
                        "side, each side; below 0 cuts into the box (default: 0.1; an ONNX input's own)")
    export.add_argument("--shift-y", type=float_in(-0.5, 0.5), help="move the crop centre down by this fraction of its "
                        "side (default: 0; an ONNX input's own)")
    align = export.add_mutually_exclusive_group()
    align.add_argument("--no-align", action="store_true", help="do not level the eyes before cropping")
    align.add_argument("--align", action="store_true", help="level the eyes before cropping (the default; for an ONNX "
                                                            "input that does not)")
    export.add_argument("--version", help="model version recorded in the metadata (default: 0; an ONNX input's own)")
    export.add_argument("--metrics", type=json_object_file, metavar="JSON",
                        help="measured metrics to record in the metadata")
    export.add_argument("--temperature", type=POSITIVE_FLOAT,
                        help="softmax temperature from calibration (default: 1; an ONNX input's own)")
    export.add_argument("--prior-correction", type=float_in(0.0), metavar="TAU",
                        help="add the logit bias -TAU * log(training label prior) in the graph (logit adjustment; "
                             "0: none, 1: the whole prior); the prior is computed from --data")
    export.add_argument("--neutral-offset", type=float_in(-10.0, 10.0), metavar="B",
                        help="with --prior-correction, also add B to neutral's logit (negative: fewer 'neutral' "
                             "answers; benchmarks/prior_correction.py --neutral-offsets chooses it on validation)")
    export.add_argument("--replace-correction", action="store_true",
                        help="with --prior-correction on a corrected ONNX model: take its correction out first")
    export.add_argument("--dataset", choices=DATASET_KINDS, help="layout of --data (default: the model's trained_on)")
    export.add_argument("--data", metavar="PATH", help="the training data, for --prior-correction")
    export.add_argument("--votes", metavar="CSV", help="FER+ fer2013new.csv, for --prior-correction of FER+ models")
    export.set_defaults(handler=cmd_export)

    ensemble = commands.add_parser("export-ensemble", help="write several ONNX emotion models as one file (an ensemble)",
                                   description="One ONNX file that runs every member on the face and (unless "
                                               "--no-mirror) its mirror image and outputs the mean of their "
                                               "log-probabilities. Members must share one input contract, their "
                                               "square input sizes aside: the file takes the largest and shrinks it "
                                               "for the others.")
    ensemble.add_argument("members", nargs="+", metavar="ONNX", help="exported emotion models")
    ensemble.add_argument("--out", required=True, help="ONNX file to write (never one of the members)")
    ensemble.add_argument("--version", required=True, help="version recorded in the metadata")
    ensemble.add_argument("--temperature", type=POSITIVE_FLOAT, default=1.0,
                          help="softmax temperature from calibration (default: %(default)s)")
    ensemble.add_argument("--no-mirror", action="store_true", help="members see the face as given only")
    ensemble.add_argument("--metrics", type=json_object_file, metavar="JSON",
                          help="measured metrics to record in the metadata")
    ensemble.set_defaults(handler=cmd_export_ensemble)

    member = commands.add_parser("export-member", help="write one member of an ensemble file as a model of its own",
                                 description="The member's graph alone (float32 weights, no mirror view, no correction "
                                             "added over the members), e.g. to train it on with train --init-from.")
    member.add_argument("ensemble", help="ONNX file written by export-ensemble, or a bundled model's name (accurate)")
    member.add_argument("--index", type=int, required=True, help="which member, from 0 (as listed by models info)")
    member.add_argument("--out", required=True, help="ONNX file to write (never the ensemble)")
    member.add_argument("--version", help="version recorded in the metadata (default: the member's recorded one)")
    member.set_defaults(handler=cmd_export_member)

    quantize = commands.add_parser("quantize", help="write an int8 copy of an ONNX emotion model (train extra)",
                                   description="Static int8 quantization calibrated on crops from a data set's "
                                               "training split; the metadata is carried over.")
    quantize.add_argument("model", help="ONNX emotion model file, or a bundled model's name (fast)")
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
    evaluate.add_argument("model", help="ONNX emotion model file, or a bundled model's name (fast, accurate)")
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
                                             "from OUT/last.pt; uses CUDA when available.")
    parser.add_argument("--dataset", required=True, choices=DATASET_KINDS,
                        help="data set layout; fer2013+ferplus trains one model on both FER2013 labels and FER+ votes")
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="FER2013 CSV (fer2013, ferplus), class-folder tree (folder), or data set root (rafdb, affectnet)")
    parser.add_argument("--votes", metavar="CSV", help="FER+ fer2013new.csv (ferplus, fer2013+ferplus)")
    parser.add_argument("--also", action="append", type=dataset_and_path, default=[], metavar="KIND:PATH",
                        help="train on this data set too, e.g. expw:../shared/data/expw (its val split joins "
                             "validation; one without a val split trains whole; may be repeated)")
    parser.add_argument("--sampling", choices=("shuffle", "balanced"), help="balanced: every class equally often "
                        "within each data set, each data set by --source-shares (default: shuffle)")
    parser.add_argument("--source-shares", choices=("sqrt", "equal"), help="with --sampling balanced, each data "
                        "set's share of the draws: by the square root of its size, or equal (default: sqrt)")
    parser.add_argument("--selection", choices=("accuracy", "balanced"), help="what picks the best epoch: "
                        "accuracy, or balanced accuracy averaged over the data sets (default: accuracy)")
    parser.add_argument("--init-from", metavar="ONNX", help="start from this exported emotion model's weights "
                        "(--arch of its family, e.g. the bundled 'fast' for mobilenet_v2_64 or mobilenet_v2_96) "
                        "instead of ImageNet's")
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
    parser.add_argument("--degrade", type=float_in(0.0, 1.0), metavar="P", help="share of training faces seen at a "
                        "lower resolution, blurred or sharpened (default: AugmentConfig's)")
    parser.add_argument("--patience", type=int, default=5, help="stop after this many epochs without validation gain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--soft-weight", type=float, help="share of the loss on the FER+ vote head "
                        "(fer2013+ferplus; default: TrainConfig's)")
    parser.add_argument("--ema-decay", type=float, help="moving average of the weights that is validated and "
                        "saved (0: off; default: TrainConfig's)")
    teacher = parser.add_mutually_exclusive_group()
    teacher.add_argument("--teacher-logits", metavar="NPZ", help="distil a teacher: its logits from "
                         "'emoscope teacher-logits' (same data file)")
    teacher.add_argument("--teacher", dest="teacher_model", metavar="ONNX",
                         help="distil this exported emotion model (e.g. an export-ensemble file) into the label head; "
                              "it is run once on the training images, --also data included")
    parser.add_argument("--teacher-online", action="store_true", help="run the --teacher model on every augmented "
                        "batch, on its own copy of the images at its input size augmented as the student's")
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
    if args.degrade and args.no_augment:
        raise InputError("--degrade is an augmentation; it cannot go with --no-augment")
    if args.teacher_online and not args.teacher_model:   # said before the data is read
        raise InputError("--teacher-online needs --teacher ONNX (a teacher-logits file has one output per image)")
    size = get_architecture(args.arch).input_size   # faces cut from photos (ExpW) are cut at the model's input size
    train_set, val_set = load_train_val(args.dataset, args.data, args.votes, args.scheme, args.with_contempt,
                                        args.on_error, args.seed, size=size)
    if args.also:
        extra = [load_train_val(kind, path, with_contempt=args.with_contempt, on_error=args.on_error, seed=args.seed,
                                size=size, holdout=False)
                 for kind, path in args.also]
        train_set = combine_datasets([train_set] + [t for t, _ in extra], size)
        val_set = combine_datasets([val_set] + [v for _, v in extra if v is not None], size)
    print(f"train {len(train_set)} {train_set.class_counts()}\nval {len(val_set)} {val_set.class_counts()}")
    augment = AugmentConfig.none() if args.no_augment else AugmentConfig()
    if args.degrade is not None:
        augment = dataclasses.replace(augment, degrade_probability=args.degrade)
    config = TrainConfig(
        arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        class_weighting=args.class_weighting or ("none" if args.sampling == "balanced" else TrainConfig.class_weighting),
        augment=augment, patience=args.patience,
        seed=args.seed, threads=args.threads, teacher_online=args.teacher_online,
        **{name: getattr(args, name) for name in ("soft_weight", "ema_decay", "teacher_logits", "teacher_model",
                                                  "distill_weight", "distill_temperature", "sampling", "source_shares",
                                                  "selection", "init_from")
           if getattr(args, name) is not None})
    best = train(config, train_set, val_set, args.out, restart=args.restart)
    print(f"best checkpoint: {best}")
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
    from .training.prior_correction import PriorCorrection, dataset_kind, neutral_offsets

    if args.prior_correction is None:
        return None
    neutral_offsets(labels, args.neutral_offset or 0.0)   # a model without neutral: said before the data is read
    if not args.data:
        raise InputError("--prior-correction needs --data (and --votes for FER+): the training data whose label "
                         "prior is taken out")
    kind = args.dataset or dataset_kind(trained_on)
    correction = PriorCorrection.from_training_data(args.prior_correction, kind, args.data, labels, soft_share,
                                                    votes=args.votes, neutral_offset=args.neutral_offset or 0.0)
    print(f"prior from {correction.source}: " + ", ".join(f"{k} {v:.3f}" for k, v in zip(labels, correction.prior)))
    return correction


def cmd_export(args) -> int:
    for option, given in (("--neutral-offset", args.neutral_offset is not None),
                          ("--replace-correction", args.replace_correction)):
        if given and args.prior_correction is None:
            raise InputError(f"{option} goes with --prior-correction TAU (0 for none)")
    if Path(args.checkpoint).suffix.lower() == ".onnx":   # an exported model: a changed copy of it
        from .classification import read_model_info
        from .models import CropSpec
        from .training.prior_correction import check_correctable, correct_model

        reframed = args.margin is not None or args.shift_y is not None or args.no_align or args.align
        if args.prior_correction is None and not reframed and args.temperature is None and args.version is None \
                and args.metrics is None:
            raise InputError(f"{args.checkpoint}: nothing to change; give --prior-correction, --margin, --shift-y, "
                             "--align/--no-align, --temperature, --version or --metrics")
        if (args.prior_correction is not None or reframed) and args.version is None:
            raise InputError(f"{args.checkpoint}: a copy that reads faces differently is another model; give it a "
                             "--version")
        check_correctable(args.checkpoint, args.out, adding_bias=args.prior_correction is not None,  # before data
                          replacing=args.replace_correction)
        info = read_model_info(args.checkpoint)
        crop = None
        if reframed:
            own = info.crop
            crop = CropSpec(own.margin if args.margin is None else args.margin,
                            own.shift_y if args.shift_y is None else args.shift_y,
                            False if args.no_align else True if args.align else own.align_eyes)
        correction = None if args.prior_correction is None else _prior_correction(
            args, info.labels, info.metadata.get("trained_on", ""),
            float(info.metadata.get("heads", {}).get("soft_share", 0.0)))
        out = correct_model(args.checkpoint, args.out, correction, args.temperature, args.version, args.metrics, crop,
                            replacing=args.replace_correction)
        changes = ([f"crop {info.crop} -> {crop}"] if crop else []) + (
            ["logit bias " + ", ".join(f"{k} {v:+.3f}" for k, v in zip(info.labels, correction.bias))]
            if correction else [])
        print(f"wrote {out}: a copy of {args.checkpoint}" + (f" with {'; '.join(changes)}" if changes else ""))
        return 0
    if args.replace_correction:
        raise InputError(f"{args.checkpoint}: a training checkpoint has no correction to replace; "
                         "--replace-correction is for an ONNX model")
    from .models import CropSpec
    from .training.export import export_onnx, load_checkpoint, max_abs_difference

    crop = CropSpec(margin=0.1 if args.margin is None else args.margin,
                    shift_y=0.0 if args.shift_y is None else args.shift_y, align_eyes=not args.no_align)
    correction = None
    if args.prior_correction is not None:
        _, state = load_checkpoint(args.checkpoint)
        correction = _prior_correction(args, tuple(state["labels"]), state.get("trained_on", ""),
                                       float(state.get("soft_share", 0.0)))
    out = export_onnx(args.checkpoint, args.out, crop, args.version or "0", args.metrics,
                      1.0 if args.temperature is None else args.temperature, correction)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); "
          f"max |PyTorch - ONNX Runtime| = {max_abs_difference(args.checkpoint, out):.2e}")
    return 0


def cmd_export_ensemble(args) -> int:
    from .training.ensemble import build_ensemble

    out = build_ensemble(args.members, args.out, args.version, args.temperature, not args.no_mirror, args.metrics)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) from {len(args.members)} members")
    return 0


def cmd_export_member(args) -> int:
    from .models import resolve_emotion_model
    from .training.ensemble import extract_member

    out = extract_member(resolve_emotion_model(args.ensemble), args.index, args.out, args.version)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): member {args.index} of {args.ensemble}")
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
