"""The ``emoscope`` commands that stream: a video file (here or in segments on a cluster), a camera, the
screen, and batches of images and videos on Dask. Each command builds its outputs as sinks
(:mod:`emoscope.sinks`), which check their files before any frame is read."""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from .cli_options import add_analyzer_options, add_annotate_option, build_analyzer, worker_options
from .cli_types import POSITIVE, POSITIVE_FLOAT
from .detection import parse_region
from .io.paths import check_distinct
from .settings import BatchSettings, StreamSettings

STREAM_COMMANDS = ("video", "camera", "screen")


def add_stream_commands(commands) -> None:
    """Add video, camera, screen and batch to the ``emoscope`` subparsers ``commands``."""
    video = commands.add_parser("video", help="analyse a video file: tracks, timeline, summary, annotated MP4",
                                description="Analyse a video file frame by frame: stable IDs per person, smoothed "
                                            "emotions, and any of the outputs below. Ctrl-C stops and keeps them.")
    video.add_argument("input", metavar="IN", help="video file (whatever FFmpeg reads)")
    video.add_argument("--out", metavar="MP4", help="annotated H.264 MP4 (plays in browsers; keeps the audio)")
    video.add_argument("--every", type=POSITIVE, default=1, metavar="N", help="process every N-th frame (default: 1)")
    video.add_argument("--scheduler", metavar="ADDRESS", help="cut the video into segments analysed on this Dask "
                       "cluster, e.g. tcp://10.0.0.5:8786 (workers must see the file at the same path)")
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
    add_analyzer_options(batch)
    batch.set_defaults(handler=cmd_batch)


def _add_stream_options(parser: argparse.ArgumentParser) -> None:
    add_annotate_option(parser)
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
    add_analyzer_options(parser)


def _add_live_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-window", action="store_true", help="run headless: no live window")
    parser.add_argument("--duration", type=POSITIVE_FLOAT, metavar="SECONDS", help="stop after this long")
    _add_stream_options(parser)


def _add_segment_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--segment-seconds", type=POSITIVE_FLOAT, default=BatchSettings.segment_seconds,
                        metavar="S", help="cut a longer video at keyframes into segments of about S seconds, one "
                                          "task each (default: %(default)s)")


def _stream_settings(args) -> StreamSettings:
    return StreamSettings(smooth=args.smooth, detect_every=args.detect_every)


def _stream_sinks(args, record_option: str, inputs, progress: bool = True, record=None) -> list:
    """The sinks the options ask for: one per output file, each checking its file as it is built,
    before any frame is read (then no file may be an input or another output); the live window
    (camera, screen) unless --no-window; the progress bar unless --quiet or not ``progress``.
    ``record``: what makes the annotated video's sink (default: a VideoRecord drawing the frames here)."""
    from .sinks import ChartFile, FrameAnnotator, LiveWindow, ProgressBar, SummaryFile, TimelineFile, VideoRecord
    from .web.class_page import ClassReportFile

    annotator = FrameAnnotator(args.annotate)   # drawn once per frame for the record and the window
    record = record or functools.partial(VideoRecord, annotator=annotator)
    outputs = {record_option: record, "--timeline": TimelineFile,
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
    summary = stream_video_file(args.input, build_analyzer(args), sinks, every=args.every, settings=_stream_settings(args))
    return _finish(args, summary, args.input)


def _video_on_cluster(args) -> int:
    """``video --scheduler``: the file cut into segments on the cluster's workers, stitched into the outputs here."""
    from .batch import SegmentedRecord, analyze_on_cluster, dask_client
    from .io.video import VideoFileSource

    with VideoFileSource(args.input):   # a file that is no readable video is named before the cluster is reached
        pass
    sinks = _stream_sinks(args, "--out", [args.input], progress=False,
                          record=functools.partial(SegmentedRecord, style=args.annotate))
    with dask_client(args.scheduler) as client:
        summary, video = analyze_on_cluster(args.input, sinks, client, worker_options(args), every=args.every,
                                            settings=_stream_settings(args), segment_seconds=args.segment_seconds,
                                            progress=not args.quiet)
    for notice in video.plan.notices:
        print(f"emoscope: notice: {args.input}: {notice}", file=sys.stderr)
    missing = video.missing + [stretch for sink in sinks if isinstance(sink, SegmentedRecord) for stretch in sink.missing]
    for stretch in missing:
        print(f"emoscope: error: {args.input} {stretch}", file=sys.stderr)
    if not args.quiet:
        print(f"{args.input}: {summary.frames} frames processed in {len(video.plan.segments)} segment(s), "
              f"{summary.to_dict()['people']} people")
    return 2 if missing else 0


def _run_live(args, analyzer, source, sinks: list):
    from .streaming import run_stream

    return run_stream(analyzer, source, source.fps, sinks, _stream_settings(args), title=args.command,
                      duration=args.duration, realtime=source.realtime)


def cmd_camera(args) -> int:
    from .io.live import CameraSource

    sinks = _stream_sinks(args, "--record", [args.device] if Path(args.device).exists() else [])
    analyzer = build_analyzer(args)
    with CameraSource(args.device, realtime=not args.every_frame) as source:
        summary = _run_live(args, analyzer, source, sinks)
    return _finish(args, summary, f"camera {args.device}")


def cmd_screen(args) -> int:
    from .io.live import ScreenSource

    sinks = _stream_sinks(args, "--record", [])
    region = parse_region(args.region) if args.region else None
    analyzer = build_analyzer(args)
    with ScreenSource(region, args.monitor, args.fps) as source:
        summary = _run_live(args, analyzer, source, sinks)
    return _finish(args, summary, "screen")


def cmd_batch(args) -> int:
    from .batch import run_batch

    report = run_batch(args.inputs, args.out, scheduler=args.scheduler, workers=args.workers, every=args.every,
                       analyzer_options=worker_options(args), progress=not args.quiet,
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
