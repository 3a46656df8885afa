"""The face detector's training commands of ``emoscope`` (the ``train`` extra): train, tune, export.

Each command imports what it needs when it runs, so the analysis commands never load PyTorch.
"""
from __future__ import annotations

import json
from pathlib import Path

from .cli_types import FRACTION, POSITIVE, POSITIVE_FLOAT, float_in, json_object_file

DETECTOR_TRAINING_COMMANDS = ("train-detector", "export-detector", "tune-detector")


def add_detector_training_commands(commands) -> None:
    """Add the detector's training commands to the ``emoscope`` subparsers ``commands``."""
    _add_train_detector_parser(commands)
    _add_export_detector_parser(commands)
    _add_tune_detector_parser(commands)


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
    parser.add_argument("--tight-crops", metavar="FER2013_CSV",
                        help="extra grey close-ups that the face fills: FER2013's Training faces (the first "
                             "--tight-crop-count of every k-th, k = faces // count), boxes and landmarks from YuNet")
    parser.add_argument("--tight-crop-count", type=POSITIVE, default=5000, metavar="N",
                        help="how many FER2013 faces --tight-crops takes (default: %(default)s)")
    parser.add_argument("--landmarks-from", metavar="YUNET",
                        help="YuNet ONNX file whose landmarks are the pseudo-labels (default: the one "
                             "`emoscope models` finds; without one, boxes only)")
    parser.add_argument("--init-from", metavar="ONNX", help="start from this EmoScope detector (e.g. the bundled one)")
    parser.add_argument("--low-light", type=FRACTION, metavar="P",
                        help="chance of darkening a training crop to 15-60%% of its levels, with sensor noise "
                             "(default: 0; BENCHMARKS.md, 'Low light')")
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
    parser.add_argument("--second-look-border", type=float_in(0.0, 1.0), default=DetectorInfo.second_look_border,
                        metavar="SHARE", help="a photo with no face found is looked at again framed by a grey border "
                        "this share of its longer side wide; 0: never (default: %(default)s; "
                        "benchmarks/second_look.py chooses it)")
    parser.add_argument("--second-look-threshold", type=FRACTION,
                        help="the score a face found by the second look needs (required with a border)")
    parser.add_argument("--dark-level", type=float_in(0.0, 255.0), default=DetectorInfo.dark_level, metavar="GREY",
                        help="a copy whose mean grey level is under this is also looked at brightened; 0: never "
                        "(default: %(default)s; benchmarks/low_light.py measures it)")
    parser.add_argument("--version", default=DetectorInfo.version, help="model version recorded in the metadata")
    parser.add_argument("--metrics", type=json_object_file, metavar="JSON",
                        help="measured metrics to record in the metadata")
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
    from .errors import InputError
    from .training.detector_export import export_detector, max_relative_difference

    second_look_threshold = args.second_look_threshold
    if second_look_threshold is None:
        if args.second_look_border:
            raise InputError("--second-look-border needs --second-look-threshold (benchmarks/second_look.py "
                             "chooses both)")
        second_look_threshold = DetectorInfo.second_look_threshold
    info = DetectorInfo(score_threshold=args.score_threshold, input_max_side=args.input_max_side,
                        photo_max_side=args.photo_max_side,
                        min_face_input=args.min_face_input, second_look_border=args.second_look_border,
                        second_look_threshold=second_look_threshold, dark_level=args.dark_level,
                        version=args.version,
                        metrics=args.metrics or {})
    out = export_detector(args.checkpoint, args.out, info)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB); "
          f"max |PyTorch - ONNX Runtime| / max |output| = {max_relative_difference(args.checkpoint, out):.1e}")
    return 0


def cmd_train_detector(args) -> int:
    import logging
    import zlib

    import torch

    from . import models
    from .data import load_split
    from .data.widerface import load_widerface
    from .training.detector_data import PseudoLabeller, face_crop_samples, tight_crop_samples, wider_samples
    from .training.detector_trainer import DetectorTrainConfig, train_detector
    from .training.errors import TrainingError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    yunet = models.find_downloadable("yunet", args.landmarks_from)
    labeller = PseudoLabeller(yunet) if yunet else None
    if labeller is None and args.tight_crops:
        raise TrainingError("--tight-crops needs YuNet (--landmarks-from): its boxes are the crops' labels")
    if labeller is None:
        print("no YuNet model found: training boxes only, without landmarks")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    close_ups = face_crop_samples(Path(args.close_ups), "train", labeller, out / "close_up_landmarks.npz") \
        if args.close_ups else []     # first: a wrong folder is refused before the photos are read
    tight = []
    if args.tight_crops:
        faces = load_split("fer2013", args.tight_crops, "train").images
        step = max(1, len(faces) // args.tight_crop_count)
        picked = range(0, len(faces), step)[:args.tight_crop_count]
        tight = tight_crop_samples([faces[i] for i in picked], [f"train/{i}/{zlib.crc32(faces[i].tobytes()):08x}"
                                                                for i in picked], labeller, out / "tight_crop_labels.npz")
    samples = wider_samples(load_widerface(args.data, "train"), labeller, out / "wider_landmarks.npz")
    print(f"{len(samples)} training photos, {sum(len(s.boxes) for s in samples)} faces; "
          f"{len(close_ups)} close-up crops; {len(tight)} tight face crops")
    options = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "size": args.size,
               "seed": args.seed, "init_from": str(args.init_from) if args.init_from else None,
               "close_ups": str(Path(args.close_ups).resolve()) if args.close_ups else None,
               "tight_crops": f"{Path(args.tight_crops).resolve()} x {len(tight)}" if args.tight_crops else None,
               "landmarks_from": str(Path(yunet).resolve()) if yunet else None, "low_light": args.low_light}
    config = DetectorTrainConfig(**{key: value for key, value in options.items() if value is not None})
    trained_on = f"WIDER FACE subset, {len(samples)} photos (held-out part excluded)"
    if close_ups:
        trained_on += f"; {len(close_ups)} close-up face crops ({Path(args.close_ups).name}, train split)"
    if tight:
        trained_on += f"; {len(tight)} FER2013 Training faces as tight close-ups (boxes: YuNet pseudo-labels)"
    if labeller:
        trained_on += "; landmarks: YuNet 2023mar pseudo-labels"
    last = train_detector(samples, out, config, restart=args.restart, trained_on=trained_on, close_ups=close_ups + tight)
    print(f"checkpoint: {last}")
    return 0
