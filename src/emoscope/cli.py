"""The ``emoscope`` command: thin commands over the library. Extras are imported inside the
command that needs them, so ``emoscope image`` never loads torch."""
from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from .cli_train import TRAINING_COMMANDS, add_training_commands
from .cli_types import FRACTION, NON_NEGATIVE, PORT, POSITIVE, POSITIVE_FLOAT
from .errors import EmoScopeError, InputError
from .io.paths import check_distinct, check_output_folder, check_outputs
from .detection import DETECTORS, parse_region
from .settings import (ANNOTATION_STYLE, INFERENCE_THREADS, BatchSettings, DetectorSettings, StreamSettings,
                       WebSettings)


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
    parser.add_argument("--annotate", choices=("box", "label", "bars"), default=ANNOTATION_STYLE,
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


def _add_segment_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--segment-seconds", type=POSITIVE_FLOAT, default=BatchSettings.segment_seconds,
                        metavar="S", help="cut a longer video at keyframes into segments of about S seconds, one "
                                          "task each (default: %(default)s)")


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


def _stream_settings(args) -> StreamSettings:
    return StreamSettings(smooth=args.smooth, detect_every=args.detect_every)


def _stream_sinks(args, record_option: str, inputs, progress: bool = True) -> list:
    """The sinks the options ask for: one per output file, each checking its file as it is built,
    before any frame is read (then no file may be an input or another output); the live window
    (camera, screen) unless --no-window; the progress bar unless --quiet or not ``progress``."""
    from .sinks import ChartFile, FrameAnnotator, LiveWindow, ProgressBar, SummaryFile, TimelineFile, VideoRecord
    from .web.class_page import ClassReportFile

    annotator = FrameAnnotator(args.annotate)   # drawn once per frame for the record and the window
    outputs = {record_option: functools.partial(VideoRecord, annotator=annotator), "--timeline": TimelineFile,
               "--summary": SummaryFile, "--chart": ChartFile, "--report": ClassReportFile}
    files = [make(path, option) for option, make in outputs.items()
             if (path := getattr(args, option.lstrip("-"))) is not None]
    check_distinct({sink.option: sink.path for sink in files}, inputs)
    window = [] if getattr(args, "no_window", True) else [LiveWindow(f"EmoScope — {args.command}", annotator)]
    return window + files + ([] if args.quiet or not progress else [ProgressBar()])


def _finish(args, summary, label: str) -> int:
    if summary.stopped_at:
        print(f"emoscope: error: {label}: {summary.stopped_at}; outputs hold the frames before it", file=sys.stderr)
        return 1 if summary.frames == 0 else 2
    if not args.quiet:
        print(f"{label}: {summary.frames} frames processed, {summary.to_dict()['people']} people")
    return 0


def cmd_video(args) -> int:
    from .streaming import stream_video_file

    if args.scheduler:
        return _video_on_cluster(args)
    sinks = _stream_sinks(args, "--out", [args.input])
    summary = stream_video_file(args.input, _analyzer(args), sinks, every=args.every, settings=_stream_settings(args))
    return _finish(args, summary, args.input)


def _video_on_cluster(args) -> int:
    """``video --scheduler``: the file cut into segments on the cluster's workers, stitched into the outputs here."""
    from .batch import analyze_on_cluster, dask_client

    if args.out:
        raise InputError("--out: the annotated MP4 is not made from segments yet; run without --scheduler for it")
    sinks = _stream_sinks(args, "--out", [args.input], progress=False)
    with dask_client(args.scheduler) as client:
        summary, video = analyze_on_cluster(args.input, sinks, client, _worker_options(args), every=args.every,
                                            settings=_stream_settings(args), segment_seconds=args.segment_seconds,
                                            progress=not args.quiet)
    for notice in video.plan.notices:
        print(f"emoscope: notice: {args.input}: {notice}", file=sys.stderr)
    for stretch in video.missing:
        print(f"emoscope: error: {args.input} {stretch}", file=sys.stderr)
    if not args.quiet:
        print(f"{args.input}: {summary.frames} frames processed in {len(video.plan.segments)} segment(s), "
              f"{summary.to_dict()['people']} people")
    return 2 if video.missing else 0


def _run_live(args, analyzer, source, sinks: list):
    from .streaming import run_stream

    return run_stream(analyzer, source, source.fps, sinks, _stream_settings(args), title=args.command,
                      duration=args.duration, realtime=source.realtime)


def cmd_camera(args) -> int:
    from .io.live import CameraSource

    sinks = _stream_sinks(args, "--record", [args.device] if Path(args.device).exists() else [])
    analyzer = _analyzer(args)
    with CameraSource(args.device, realtime=not args.every_frame) as source:
        summary = _run_live(args, analyzer, source, sinks)
    return _finish(args, summary, f"camera {args.device}")


def cmd_screen(args) -> int:
    from .io.live import ScreenSource

    sinks = _stream_sinks(args, "--record", [])
    region = parse_region(args.region) if args.region else None
    analyzer = _analyzer(args)
    with ScreenSource(region, args.monitor, args.fps) as source:
        summary = _run_live(args, analyzer, source, sinks)
    return _finish(args, summary, "screen")


def _worker_options(args) -> dict:
    """The analyzer of each Dask worker: Dask scales with one single-threaded task per core."""
    return {"detector": args.detector, "model": args.model, "detector_model": args.detector_model,
            "threads": 1, "min_face": args.min_face, "score_threshold": args.score_threshold,
            "max_side": args.max_side, "region": args.analysis_region}


def cmd_batch(args) -> int:
    from .batch import run_batch

    report = run_batch(args.inputs, args.out, scheduler=args.scheduler, workers=args.workers, every=args.every,
                       analyzer_options=_worker_options(args), progress=not args.quiet,
                       segment_seconds=args.segment_seconds)
    for raw, notice in sorted(report.notices.items()):
        print(f"emoscope: notice: {raw}: {notice}", file=sys.stderr)
    for raw, error in sorted(report.failed.items()):
        print(f"emoscope: error: {raw}: {error}", file=sys.stderr)
    for raw, stretches in sorted(report.missing.items()):
        for stretch in stretches:
            print(f"emoscope: error: {raw} {stretch}", file=sys.stderr)
    if not args.quiet:
        partly = f", {len(report.missing)} with stretches missing" if report.missing else ""
        print(f"{len(report.done)} inputs done ({report.skipped} from an earlier run), {len(report.failed)} failed"
              f"{partly}; results in {args.out}")
    if report.failed or report.missing:
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
    video.add_argument("--scheduler", metavar="ADDRESS", help="cut the video into segments analysed on this Dask "
                       "cluster, e.g. tcp://10.0.0.5:8786 (workers must see the file at the same path; no --out)")
    _add_segment_option(video)
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
    batch.add_argument("--workers", type=POSITIVE, default=BatchSettings.workers,
                       help="local cluster workers (default: %(default)s)")
    batch.add_argument("--every", type=POSITIVE, default=1, metavar="N", help="videos: process every N-th frame")
    _add_segment_option(batch)
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

    add_training_commands(commands)
    return parser


# The extra each command needs beyond the core install; the hint when one of its imports is missing.
EXTRAS = {"video": "video", "camera": "live", "screen": "live", "batch": "distributed", "serve": "web",
          **dict.fromkeys(TRAINING_COMMANDS, "train")}


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
        extra = "distributed" if getattr(args, "scheduler", None) else EXTRAS.get(args.command)  # video on a cluster
        hint = f"this command needs an extra: pip install 'emoscope[{extra}]'" if extra else "reinstall emoscope"
        print(f"emoscope: error: {error.name or error} is not installed; {hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
