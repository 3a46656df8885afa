"""Every default is written once, in emoscope.settings: the CLI, the library and the stream read it from there."""
import inspect

from emoscope.classification import EmotionClassifier
from emoscope.cli import build_parser
from emoscope.pipeline import Analyzer
from emoscope.settings import INFERENCE_THREADS, STREAM_FPS, DetectorSettings, StreamSettings
from emoscope.stream_step import StreamStep


def _default(function, name):
    return inspect.signature(function).parameters[name].default


def test_cli_analysis_defaults_are_the_settings():
    args = build_parser().parse_args(["image", "photo.jpg"])
    detector = DetectorSettings()
    assert args.threads == INFERENCE_THREADS
    assert (args.min_face, args.max_side, args.score_threshold) == \
        (detector.min_face, detector.max_side, detector.score_threshold)
    video = build_parser().parse_args(["video", "clip.mp4"])
    assert (video.smooth, video.detect_every) == (StreamSettings().smooth, StreamSettings().detect_every)


def test_library_defaults_are_the_settings():
    assert _default(Analyzer.__init__, "threads") == _default(EmotionClassifier.__init__, "threads") == INFERENCE_THREADS
    assert _default(Analyzer.stream, "fps") == _default(Analyzer.open_stream, "fps") == \
        _default(StreamStep.__init__, "fps") == STREAM_FPS
