"""The ``emoscope`` command: thin commands over the library. Extras are imported inside the
command that needs them, so ``emoscope image`` never loads torch."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .data import DATASET_KINDS
from .cli_types import FRACTION, NON_NEGATIVE, PORT, POSITIVE, POSITIVE_FLOAT, float_in
from .errors import EmoScopeError, InputError
from .io.paths import check_output_folder, check_outputs
from .detection import DETECTORS, parse_region
from .settings import INFERENCE_THREADS, DetectorSettings, StreamSettings, WebSettings


def _region(text: str) -> tuple[int, int, int, int]:
    try:
        return parse_region(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_analyzer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models")
    group.add_argument("--detector", choices=DETECTORS, default="auto",
                       help="face detector: auto/emoscope (the bundled one), yunet (downloaded), haar, or none "
                            "(each image is one face crop) (default: auto)")
    group.add_argument("--detector-model", metavar="FILE",
                       help="detector ONNX file: EmoScope's or YuNet's (YuNet: else EMOSCOPE_MODELS or the user cache)")
    try:    # screen has its own --region: the part of the monitor it captures
        group.add_argument("--region", dest="analysis_region", type=_region, metavar="X,Y,W,H",
                           help="analyse only this part of each image or frame, in pixels")
    except argparse.ArgumentError:
        pass
    group.add_argument("--model", metavar="FILE", help="emotion model ONNX file (default: the bundled model)")
    group.add_argument("--min-face", type=NON_NEGATIVE, default=DetectorSettings.min_face, metavar="PX",
                       help="ignore faces smaller than this (default: %(default)s)")
    group.add_argument("--score-threshold", type=FRACTION, metavar="0..1",
                       help="the detector's score threshold (default: the detector's own; "
                            "Haar has no calibrated scores and refuses it)")
    group.add_argument("--max-side", type=POSITIVE, default=DetectorSettings.max_side, metavar="PX",
                       help="detect on a copy scaled to at most this longer side (default: %(default)s)")
    group.add_argument("--threads", type=POSITIVE, default=INFERENCE_THREADS,
                       help="CPU threads for inference (default: %(default)s)")


def _add_annotate_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotate", choices=("box", "label", "bars"), default="bars",
                        help="what annotated output shows on each face: its box, a label, or probability bars "
                             "(a label where there is no room for them) (default: %(default)s)")


def _add_stream_options(parser: argparse.ArgumentParser) -> None:
    _add_annotate_option(parser)
    parser.add_argument("--timeline", metavar="FILE", help="one record per face per processed frame (.csv or .json)")
    parser.add_argument("--summary", metavar="JSON", help="per-person and overall time in each emotion")
    parser.add_argument("--chart", metavar="PNG", help="emotion over time, one panel per person")
    parser.add_argument("--report", metavar="HTML", help="the class view: every person as a tile with their emotion "
                        "over time, the group's mix and its changes of mood (one file, opens offline)")
    parser.add_argument("--smooth", type=POSITIVE, default=StreamSettings.smooth, metavar="W",
                        help="smooth probabilities over about W processed frames; 1 = off (default: %(default)s)")
    parser.add_argument("--detect-every", type=POSITIVE, default=StreamSettings.detect_every, metavar="N",
                        help="run the face detector on every N-th processed frame and follow the faces in "
                             "between (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or final line")
    _add_analyzer_options(parser)


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-window", action="store_true", help="run headless: no live window")
    parser.add_argument("--duration", type=POSITIVE_FLOAT, metavar="SECONDS", help="stop after this long")
    _add_stream_options(parser)


def _analyzer(args):
    """The Analyzer the options ask for."""
    from .pipeline import Analyzer

    return Analyzer(args.detector, args.model, detector_model=args.detector_model, threads=args.threads,
                    min_face=args.min_face, max_side=args.max_side, score_threshold=args.score_threshold,
                    region=getattr(args, "analysis_region", None))


def cmd_image(args) -> int:
    from .io.images import find_images
    from tqdm import tqdm

    from .io.writers import ImageOutputs

    paths = find_images(args.paths)
    check_output_folder(args.out, paths)
    check_outputs({"--json": ("json", args.json), "--csv": ("csv", args.csv)}, paths)
    analyzer = _analyzer(args)
    failures = 0
    with ImageOutputs(args.out, args.json, args.csv, analyzer.labels, args.annotate) as outputs:
        show_bar = len(paths) > 1 and args.json != "-" and sys.stderr.isatty()
        for result in tqdm(analyzer.analyze_many(paths), total=len(paths), disable=not show_bar, unit="image"):
            outputs.add(result)
            if result.error:
                failures += 1
                print(f"emoscope: error: {result.error}", file=sys.stderr)
            elif args.json != "-":  # stdout is free: one line per image
                print(_summary_line(result))
    if failures == len(paths):
        return 1
    return 2 if failures else 0


def _summary_line(result) -> str:
    faces = ", ".join(f"{f.emotion} {f.confidence:.0%}" for f in result.faces) or "no face found"
    return f"{result.path}: {len(result.faces)} face(s): {faces}"


def _run_stream(args, analyzer, source, fps: float, frame_interval: float, record=None, audio_from=None,
                window: bool = False, total=None, duration=None):
    """The command-line side of a stream: progress bar, optional window, outputs from the options."""
    from tqdm import tqdm

    from .streaming import StreamOutputs, run_stream

    viewer = None
    if window:
        from .viewer import TkViewer

        viewer = TkViewer(f"EmoScope — {args.command}")
    frames = tqdm(source, total=total, unit="frame", disable=args.quiet, dynamic_ncols=True)
    outputs = StreamOutputs(record=record, timeline=args.timeline, summary=args.summary, chart=args.chart,
                            annotate=args.annotate, report=args.report,
                            title=Path(getattr(args, "input", args.command)).name)
    settings = StreamSettings(smooth=args.smooth, detect_every=args.detect_every)
    return run_stream(analyzer, frames, fps, frame_interval, outputs, settings, audio_from=audio_from, viewer=viewer,
                      duration=duration, realtime=getattr(source, "realtime", False))  # tqdm hides the source's own


def _finish(args, source, summary, label: str) -> int:
    if source.stopped_at:
        print(f"emoscope: error: {label}: {source.stopped_at}; outputs hold the frames before it", file=sys.stderr)
        return 1 if summary.frames == 0 else 2
    if not args.quiet:
        print(f"{label}: {summary.frames} frames processed, {summary.to_dict()['people']} people")
    return 0


def _check_stream_outputs(args, record_option: str, inputs) -> None:
    check_outputs({record_option: ("video", getattr(args, record_option.lstrip("-"))),
                   "--timeline": ("timeline", args.timeline), "--summary": ("json", args.summary),
                   "--chart": ("chart", args.chart)}, inputs)


def cmd_video(args) -> int:
    import math

    from .io.video import VideoFileSource

    _check_stream_outputs(args, "--out", [args.input])
    with VideoFileSource(args.input, stride=args.every) as source:
        analyzer = _analyzer(args)
        total = math.ceil(source.frame_count / args.every) if source.frame_count else None
        summary = _run_stream(args, analyzer, source, source.fps / args.every, args.every / source.fps,
                              record=args.out, audio_from=args.input if source.has_audio else None, total=total)
    return _finish(args, source, summary, args.input)


def cmd_camera(args) -> int:
    from .io.live import CameraSource

    _check_stream_outputs(args, "--record", [args.device] if Path(args.device).exists() else [])
    analyzer = _analyzer(args)
    with CameraSource(args.device, realtime=not args.every_frame) as source:
        summary = _run_stream(args, analyzer, source, source.fps, 1.0 / source.fps, record=args.record,
                              window=not args.no_window, duration=args.duration)
    return _finish(args, source, summary, f"camera {args.device}")


def cmd_screen(args) -> int:
    from .io.live import ScreenSource

    _check_stream_outputs(args, "--record", [])
    region = parse_region(args.region) if args.region else None
    analyzer = _analyzer(args)
    with ScreenSource(region, args.monitor, args.fps) as source:
        summary = _run_stream(args, analyzer, source, source.fps, 1.0 / source.fps, record=args.record,
                              window=not args.no_window, duration=args.duration)
    return _finish(args, source, summary, "screen")


def cmd_batch(args) -> int:
    from .batch import run_batch

    # Dask scales with one single-threaded task per core: each worker's analyzer gets one thread.
    options = {"detector": args.detector, "model": args.model, "detector_model": args.detector_model,
               "threads": 1, "min_face": args.min_face, "score_threshold": args.score_threshold,
               "max_side": args.max_side, "region": args.analysis_region}
    report = run_batch(args.inputs, args.out, scheduler=args.scheduler, workers=args.workers, every=args.every,
                       analyzer_options=options, progress=not args.quiet)
    for raw, error in sorted(report.failed.items()):
        print(f"emoscope: error: {raw}: {error}", file=sys.stderr)
    if not args.quiet:
        print(f"{len(report.done)} inputs done ({report.skipped} from an earlier run), {len(report.failed)} failed; "
              f"results in {args.out}")
    if report.failed:
        return 1 if not report.done else 2
    return 0


def cmd_serve(args) -> int:
    import signal
    import threading

    # Ctrl-C stops `serve` at any moment, also where the parent passed SIGINT down ignored (a shell script's
    # background job): the server honours it once running anyway (web/server.py), so no moment ignores it.
    in_main = threading.current_thread() is threading.main_thread()
    previous_sigint = signal.signal(signal.SIGINT, signal.default_int_handler) if in_main else None
    try:
        return _serve(args)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous_sigint)


def _serve(args) -> int:
    import uvicorn

    from .web import create_app
    from .web.security import is_loopback, serve_tokens, server_ws_max_size
    from .web.server import Server

    tokens = serve_tokens(args.host, args.token)
    if not is_loopback(args.host):
        print(f"emoscope: serving on {args.host}: reachable from other machines, with a token", file=sys.stderr)
    settings = WebSettings(max_image_bytes=int(args.max_image_mb * 1024 * 1024),
                           max_video_bytes=int(args.max_video_mb * 1024 * 1024), retention_seconds=args.retention,
                           tokens=tokens)
    app = create_app(_analyzer(args), settings)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else f"[{args.host}]" if ":" in args.host else args.host
    link = f"?token={tokens[0]}" if tokens else ""

    def announce(port: int) -> None:  # once listening: the address works, and Ctrl-C stops the server
        print(f"EmoScope is at http://{shown_host}:{port}/{link} (Ctrl-C to stop)", flush=True)

    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            ws_max_size=server_ws_max_size(settings.max_image_bytes))
    return 0 if Server(config, on_listening=announce).run_until_stopped() else 1


def cmd_models(args) -> int:
    from . import models

    if args.action == "list":
        bundled = models.bundled_models_dir()
        for path in sorted(bundled.glob("*.onnx")):
            kind = "detector" if path.name == models.DEFAULT_FACE_DETECTOR else "emotion "
            print(f"{kind} {path.name}  (bundled)  {path}")
        for name in models.DOWNLOADABLE:
            found = models.find_downloadable(name)
            where = found if found else "not installed: emoscope models download " + name
            print(f"detector {name}  {where}")
        return 0
    if args.action == "download":
        for name in args.names or list(models.DOWNLOADABLE):
            path = models.download(name)
            print(f"{name}: {path} (sha256 checked)")
        return 0
    if args.action == "info":
        import json

        from .classification import EmotionClassifier

        classifier = EmotionClassifier(args.names[0] if args.names else None)
        print(json.dumps({"path": str(classifier.path), **classifier.info.metadata}, indent=2))
        return 0
    raise AssertionError(args.action)


def _add_train_parser(commands) -> None:
    parser = commands.add_parser("train", help="train an emotion model (needs the 'train' extra)",
                                 description="Train an emotion classifier. Running the same command again resumes "
                                             "from OUT/last.pt.")
    parser.add_argument("--dataset", required=True, choices=DATASET_KINDS,
                        help="data set layout; fer2013+ferplus trains one model on both FER2013 labels and FER+ votes")
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="FER2013 CSV (fer2013, ferplus), class-folder tree (folder), or data set root (rafdb, affectnet)")
    parser.add_argument("--votes", metavar="CSV", help="FER+ fer2013new.csv (ferplus, fer2013+ferplus)")
    parser.add_argument("--scheme", choices=("majority", "plurality", "soft"), default="majority",
                        help="FER+ label scheme (default: majority)")
    parser.add_argument("--with-contempt", action="store_true", help="keep contempt as an 8th class (FER+, AffectNet)")
    parser.add_argument("--arch", default="mobilenet_v2", help="architecture from the registry (see --list-archs)")
    parser.add_argument("--epochs", type=int, default=8, help="training epochs (default: 8)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--class-weighting", choices=("none", "sqrt", "inverse"), default="sqrt",
                        help="loss weights against class imbalance (default: sqrt of inverse frequency)")
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
    from .training.augment import AugmentConfig
    from .data import load_train_val
    from .training.trainer import TrainConfig, train

    train_set, val_set = load_train_val(args.dataset, args.data, args.votes, args.scheme, args.with_contempt,
                                        args.on_error, args.seed)
    print(f"train {len(train_set)} {train_set.class_counts()}\nval {len(val_set)} {val_set.class_counts()}")
    config = TrainConfig(
        arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing, class_weighting=args.class_weighting,
        augment=AugmentConfig.none() if args.no_augment else AugmentConfig(), patience=args.patience,
        seed=args.seed, threads=args.threads,
        **{name: getattr(args, name) for name in ("soft_weight", "ema_decay", "teacher_logits", "distill_weight",
                                                  "distill_temperature") if getattr(args, name) is not None})
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
                        help="longer side of the copy the model sees (default: %(default)s)")
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
                        help="input sides to try (default: detector_selection.INPUT_SIDES); leave out those over "
                             "the speed budget")
    parser.add_argument("--json", metavar="FILE", help="write every candidate's scores and the choice")
    parser.set_defaults(handler=cmd_tune_detector)


def cmd_tune_detector(args) -> int:
    from dataclasses import asdict

    from .data.widerface import load_widerface, read_images
    from .training.detector_data import face_crop_samples
    from .training.detector_selection import INPUT_SIDES, choose, measure, table

    photos = [(image, entry.boxes, entry.ignore) for image, entry in read_images(load_widerface(args.data, "val"))]
    crops = [(s.image, s.boxes) for s in face_crop_samples(Path(args.close_ups), "val", None, None)] \
        if args.close_ups else []
    candidates = measure(args.model, photos, crops, sides=args.sides or INPUT_SIDES)
    chosen = choose(candidates)
    print(f"{len(photos)} WIDER val photos; {len(crops)} val face crops")
    print(table(candidates, chosen))
    if args.json:
        Path(args.json).write_text(json.dumps({"candidates": [asdict(c) for c in candidates],
                                               "chosen": asdict(chosen)}, indent=2))
    return 0


def cmd_export_detector(args) -> int:
    from .detection.onnx_detector import DetectorInfo
    from .training.detector_export import export_detector, max_relative_difference

    info = DetectorInfo(score_threshold=args.score_threshold, input_max_side=args.input_max_side,
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
    samples = wider_samples(load_widerface(args.data, "train"), labeller, out / "wider_landmarks.npz")
    close_ups = face_crop_samples(Path(args.close_ups), "train", labeller, out / "close_up_landmarks.npz") \
        if args.close_ups else []
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
    from .training.trainer import InputSpec

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emoscope", description="Facial emotion recognition: faces, emotions, "
                                                                   "probabilities.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"emoscope {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    image = commands.add_parser("image", help="analyse photos or folders of photos",
                                description="Find every face in each image and the probability of each emotion.")
    image.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (searched recursively)")
    image.add_argument("--out", metavar="DIR", help="write annotated images here")
    image.add_argument("--json", metavar="FILE", help="write results as JSON ('-' for standard output)")
    image.add_argument("--csv", metavar="FILE", help="write one row per face as CSV")
    _add_annotate_option(image)
    _add_analyzer_options(image)
    image.set_defaults(handler=cmd_image)

    video = commands.add_parser("video", help="analyse a video file: tracks, timeline, summary, annotated MP4",
                                description="Analyse a video file frame by frame: stable IDs per person, smoothed "
                                            "emotions, and any of the outputs below. Ctrl-C stops and keeps them.")
    video.add_argument("input", metavar="IN", help="video file (whatever FFmpeg reads)")
    video.add_argument("--out", metavar="MP4", help="annotated H.264 MP4 (plays in browsers; keeps the audio)")
    video.add_argument("--every", type=POSITIVE, default=1, metavar="N", help="process every N-th frame (default: 1)")
    _add_stream_options(video)
    video.set_defaults(handler=cmd_video)

    camera = commands.add_parser("camera", help="analyse a live camera (window, recording, timeline)",
                                 description="Analyse a camera live. Shows a window with the overlays unless "
                                             "--no-window; Ctrl-C, q, Esc or closing the window stops and keeps every output.")
    camera.add_argument("--device", default="0", help="camera index, or a URL/RTSP address (default: 0)")
    camera.add_argument("--record", metavar="MP4", help="record the annotated stream as H.264 MP4")
    camera.add_argument("--every-frame", action="store_true",
                        help="process every frame even when falling behind (default: drop frames to stay live)")
    _add_live_options(camera)
    camera.set_defaults(handler=cmd_camera)

    screen = commands.add_parser("screen", help="analyse the screen or a region of it live",
                                 description="Analyse what is on the screen (e.g. a video call), live.")
    screen.add_argument("--region", metavar="X,Y,W,H", help="a region of the monitor, in pixels")
    screen.add_argument("--monitor", type=POSITIVE, default=1, help="monitor number, from 1 (default: 1)")
    screen.add_argument("--fps", type=POSITIVE_FLOAT, default=10.0, help="screenshots per second (default: 10)")
    screen.add_argument("--record", metavar="MP4", help="record the annotated stream as H.264 MP4")
    _add_live_options(screen)
    screen.set_defaults(handler=cmd_screen)

    batch = commands.add_parser("batch", help="analyse many images and videos on a Dask cluster",
                                description="Analyse folders, glob patterns or manifest files (.txt/.csv) of images and "
                                            "videos on a local Dask cluster or any cluster by address. Running the same "
                                            "command again skips inputs already done.")
    batch.add_argument("inputs", nargs="+", metavar="INPUT", help="folder, glob pattern, file, or .txt/.csv list")
    batch.add_argument("--out", required=True, metavar="DIR", help="output folder (new, empty, or an earlier run's)")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    batch.add_argument("--workers", type=POSITIVE, default=2, help="local cluster workers (default: 2)")
    batch.add_argument("--every", type=POSITIVE, default=1, metavar="N", help="videos: process every N-th frame")
    batch.add_argument("--quiet", action="store_true", help="no progress bar or final line")
    _add_analyzer_options(batch)
    batch.set_defaults(handler=cmd_batch)

    serve = commands.add_parser("serve", help="run the web app and REST API (needs the 'web' extra)",
                                description="Serve the REST API (docs at /docs) on loopback unless told otherwise.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=PORT, default=8000)
    serve.add_argument("--token", help="access token(s), comma-separated (default: EMOSCOPE_TOKEN; beyond loopback "
                                       "one is generated and printed when neither is set)")
    serve.add_argument("--max-image-mb", type=POSITIVE_FLOAT, default=WebSettings.max_image_bytes / 2**20,
                       help="largest photo upload (default: %(default)s)")
    serve.add_argument("--max-video-mb", type=POSITIVE_FLOAT, default=WebSettings.max_video_bytes / 2**20,
                       help="largest video upload (default: %(default)s)")
    serve.add_argument("--retention", type=POSITIVE_FLOAT, default=WebSettings.retention_seconds, metavar="SECONDS",
                       help="delete video jobs and their files after this long (default: %(default)s)")
    _add_analyzer_options(serve)
    serve.set_defaults(handler=cmd_serve)

    models = commands.add_parser("models", help="list, inspect or download models",
                                 description="list: models found; info [FILE]: an emotion model's metadata; "
                                             "download [NAME]: fetch a detector model and check its sha256.")
    models.add_argument("action", choices=("list", "info", "download"))
    models.add_argument("names", nargs="*", metavar="NAME", help="model name (download) or ONNX file (info)")
    models.set_defaults(handler=cmd_models)

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
    return parser


# The extra each command needs beyond the core install; the hint when one of its imports is missing.
EXTRAS = {"video": "video", "camera": "live", "screen": "live", "batch": "distributed", "serve": "web",
          "train": "train", "train-detector": "train", "export-detector": "train", "tune-detector": "train", "teacher-logits": "train", "export": "train",
          "quantize": "train", "evaluate": "train"}


STREAM_COMMANDS = ("video", "camera", "screen")


def cap_malloc_arenas(count: int = 2) -> None:
    """glibc gives threads that allocate their own malloc arenas, and frames freed in one are not reused
    by another: a 1080p video on two threads held about 70 MB more for it (BENCHMARKS.md, "Video
    throughput"). The command line owns its process, so it caps them as MALLOC_ARENA_MAX would,
    unless that is set; elsewhere (not glibc) there is nothing to cap."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, count)  # -8: M_ARENA_MAX in glibc's malloc.h
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in STREAM_COMMANDS:
        cap_malloc_arenas()
    try:
        status = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows up here, inside the handlers below
        return status
    except BrokenPipeError:  # e.g. `emoscope models info | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except EmoScopeError as error:
        print(f"emoscope: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("emoscope: interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # e.g. an output folder that cannot be written
        print(f"emoscope: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except ImportError as error:
        extra = EXTRAS.get(args.command)
        hint = f"this command needs an extra: pip install 'emoscope[{extra}]'" if extra else "reinstall emoscope"
        print(f"emoscope: error: {error.name or error} is not installed; {hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
