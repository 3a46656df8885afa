"""The ``emoscope`` command: thin commands over the library. Extras are imported inside the
command that needs them, so ``emoscope image`` never loads torch."""
from __future__ import annotations

import argparse
import os
import sys

from ._interrupts import raise_if_dropped
from .cli_options import add_analyzer_options, add_annotate_option, build_analyzer
from .cli_stream import STREAM_COMMANDS, add_stream_commands
from .cli_train import TRAINING_COMMANDS, add_training_commands
from .cli_types import PORT, POSITIVE_FLOAT
from .errors import EmoScopeError
from .io.paths import check_output_folder, check_outputs
from .settings import WebSettings


def cmd_image(args) -> int:
    from .io.images import find_images
    from tqdm import tqdm

    from .io.writers import ImageOutputs

    paths = find_images(args.paths)
    check_output_folder(args.out, paths)
    check_outputs({"--json": ("json", args.json), "--csv": ("csv", args.csv)}, paths)
    analyzer = build_analyzer(args)
    failures = faceless = 0
    with ImageOutputs(args.out, args.json, args.csv, analyzer.photo_classifier.labels, args.annotate) as outputs:
        show_bar = len(paths) > 1 and args.json != "-" and sys.stderr.isatty()
        for result in tqdm(analyzer.analyze_many(paths), total=len(paths), disable=not show_bar, unit="image"):
            outputs.add(result)
            if result.error:
                failures += 1
                print(f"emoscope: error: {result.error}", file=sys.stderr)
                continue
            faceless += not result.faces
            if args.json != "-":  # stdout is free: one line per image
                print(_summary_line(result))
    if faceless and args.detector != "none":
        smaller = f"; --min-face {args.min_face:g} ignores smaller faces" if args.min_face > 0 else ""
        print(f"emoscope: no face found in {faceless} of {len(paths)} image(s): where an image is already a face "
              f"crop, --detector none reads it whole{smaller}", file=sys.stderr)
    if failures == len(paths):
        return 1
    return 2 if failures else 0


def _summary_line(result) -> str:
    faces = ", ".join(f"{f.emotion} {f.confidence:.0%}" for f in result.faces) or "no face found"
    return f"{result.path}: {len(result.faces)} face(s): {faces}"


def cmd_serve(args) -> int:
    import signal
    import threading

    # Ctrl-C stops `serve` from here on, also where the parent passed SIGINT down ignored (a shell script's
    # background job): the server honours it once running anyway (web/server.py), so no moment of `serve`
    # ignores it. One sent before, while the interpreter starts and imports, the kernel drops as the parent asked.
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
    app = create_app(build_analyzer(args), settings)
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else f"[{args.host}]" if ":" in args.host else args.host
    link = f"?token={tokens[0]}" if tokens else ""

    def announce(port: int) -> None:  # once listening: the address works, and Ctrl-C stops the server
        print(f"EmoScope is at http://{shown_host}:{port}/{link} (Ctrl-C to stop)", flush=True)

    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            ws_max_size=server_ws_max_size(settings.max_image_bytes))
    raise_if_dropped()          # a Ctrl-C while the libraries and models above were loading
    return 0 if Server(config, on_listening=announce).run_until_stopped() else 1


def cmd_models(args) -> int:
    from . import models

    if args.action == "list":
        bundled = models.bundled_models_dir()
        for name, filename in models.EMOTION_MODELS.items():
            uses = [use for use, choice in models.AUTO_CHOICES.items() if choice == name]
            default = f", the default for {' and '.join(uses)}s" if uses else ""
            print(f"emotion  {name}  (bundled{default})  {bundled / filename}")
        print(f"detector emoscope  (bundled, the default)  {bundled / models.DEFAULT_FACE_DETECTOR}")
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
    add_annotate_option(image)
    add_analyzer_options(image)
    image.set_defaults(handler=cmd_image)

    add_stream_commands(commands)

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
    add_analyzer_options(serve)
    serve.set_defaults(handler=cmd_serve)

    models = commands.add_parser("models", help="list, inspect or download models",
                                 description="list: models found; info [NAME|FILE]: an emotion model's metadata; "
                                             "download [NAME]: fetch a detector model and check its sha256.")
    models.add_argument("action", choices=("list", "info", "download"))
    models.add_argument("names", nargs="*", metavar="NAME",
                        help="model name (download; info: fast, accurate) or ONNX file (info)")
    models.set_defaults(handler=cmd_models)

    add_training_commands(commands)
    return parser


# The extra each command needs beyond the core install; the hint when one of its imports is missing.
EXTRAS = {"video": "video", "camera": "live", "screen": "live", "batch": "distributed", "serve": "web",
          **dict.fromkeys(TRAINING_COMMANDS, "train")}


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
        raise_if_dropped()      # a Ctrl-C during the imports above
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
