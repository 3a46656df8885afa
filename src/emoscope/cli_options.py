"""Options shared by the ``emoscope`` commands that analyse: which models, and the Analyzer they ask for."""
from __future__ import annotations

import argparse

from .cli_types import FRACTION, NON_NEGATIVE, POSITIVE
from .detection import DETECTORS, parse_region
from .errors import InputError
from .models import AUTO_EMOTION_MODEL
from .render import STYLES
from .settings import ANNOTATION_STYLE, INFERENCE_THREADS, DetectorSettings


def region_option(text: str) -> tuple[int, int, int, int]:
    try:
        return parse_region(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_analyzer_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models")
    group.add_argument("--detector", choices=DETECTORS, default="auto",
                       help="face detector: auto/emoscope (the bundled one), yunet (downloaded), haar, or none "
                            "(each image is one face crop) (default: auto)")
    group.add_argument("--detector-model", metavar="FILE",
                       help="detector ONNX file: EmoScope's or YuNet's (YuNet: else EMOSCOPE_MODELS or the user cache)")
    try:    # screen has its own --region: the part of the monitor it captures
        group.add_argument("--region", dest="analysis_region", type=region_option, metavar="X,Y,W,H",
                           help="analyse only this part of each image or frame, in pixels")
    except argparse.ArgumentError:
        pass
    group.add_argument("--model", metavar="NAME|FILE", default=AUTO_EMOTION_MODEL,
                       help="emotion model: fast or accurate (both bundled; accurate is slower and reads faces "
                            "more closely), or an ONNX file, or auto: accurate for photos, fast for video, camera, "
                            "screen and live frames (default: %(default)s)")
    group.add_argument("--min-face", type=NON_NEGATIVE, default=DetectorSettings.min_face, metavar="PX",
                       help="ignore faces smaller than this (default: %(default)s)")
    group.add_argument("--score-threshold", type=FRACTION, metavar="0..1",
                       help="the detector's score threshold (default: the detector's own; "
                            "Haar has no calibrated scores and refuses it)")
    group.add_argument("--max-side", type=POSITIVE, default=DetectorSettings.max_side, metavar="PX",
                       help="detect on a copy scaled to at most this longer side (default: %(default)s)")
    group.add_argument("--threads", type=POSITIVE, default=INFERENCE_THREADS,
                       help="CPU threads for inference (default: %(default)s)")


def add_annotate_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotate", choices=STYLES, default=ANNOTATION_STYLE,
                        help="what annotated output shows on each face: its box, a label, or probability bars "
                             "(a label where there is no room for them) (default: %(default)s)")


def build_analyzer(args):
    """The Analyzer the options ask for."""
    from .pipeline import Analyzer

    return Analyzer(args.detector, args.model, detector_model=args.detector_model, threads=args.threads,
                    min_face=args.min_face, max_side=args.max_side, score_threshold=args.score_threshold,
                    region=getattr(args, "analysis_region", None))


def worker_options(args) -> dict:
    """The analyzer of each Dask worker: Dask scales with one single-threaded task per core."""
    return {"detector": args.detector, "model": args.model, "detector_model": args.detector_model,
            "threads": 1, "min_face": args.min_face, "score_threshold": args.score_threshold,
            "max_side": args.max_side, "region": args.analysis_region}
