"""Face detectors behind one interface: ``detector.detect(bgr_image) -> Detections``.

``create_detector("auto")`` uses EmoScope's own detector, bundled in the package (no download, no
network); ``yunet`` uses OpenCV zoo's YuNet where its model file is found; ``haar`` OpenCV's Haar
cascade; ``none`` (or None) takes each image as one face crop. A ``region`` limits detection to
one part of every image.
"""
from __future__ import annotations

import logging

from ..errors import InputError, ModelNotFoundError
from ..models import find_downloadable, resolve_face_detector
from .base import DetectorSettings, FaceDetector
from .haar import HaarDetector
from .onnx_detector import OnnxFaceDetector
from .region import RegionDetector, parse_region
from .whole_image import WholeImageDetector
from .yunet import YuNetDetector

DETECTORS = ("auto", "emoscope", "yunet", "haar", "none")

log = logging.getLogger(__name__)


def _yunet(model_path, settings: DetectorSettings) -> YuNetDetector:
    path = find_downloadable("yunet", model_path)
    if path is None:
        raise ModelNotFoundError(
            "YuNet model not found: run 'emoscope models download yunet', set EMOSCOPE_MODELS, or pass --detector-model")
    return YuNetDetector(path, settings)


def _auto(model_path, settings: DetectorSettings, threads: int) -> FaceDetector:
    """A given model file is ours if its metadata says so, else YuNet; without one, the bundled detector."""
    if model_path is not None:
        try:
            return OnnxFaceDetector(resolve_face_detector(model_path), settings, threads)
        except ModelNotFoundError:
            return _yunet(model_path, settings)
    try:
        return OnnxFaceDetector(resolve_face_detector(None), settings, threads)
    except ModelNotFoundError as error:     # only a damaged install lacks it
        log.warning("%s; using the Haar cascade", error)
        return HaarDetector(settings)


def create_detector(name: str | None = "auto", model_path=None, settings: DetectorSettings | None = None, *,
                    threads: int = 1, region: tuple[int, int, int, int] | None = None):
    """The detector called ``name`` (one of ``DETECTORS``; None means ``none``)."""
    settings = settings or DetectorSettings()
    name = "none" if name is None else name
    if name not in DETECTORS:
        raise InputError(f"unknown detector {name!r}; use one of {', '.join(DETECTORS)}")
    if name == "auto":
        detector = _auto(model_path, settings, threads)
    elif name == "emoscope":
        detector = OnnxFaceDetector(resolve_face_detector(model_path), settings, threads)
    elif name == "yunet":
        detector = _yunet(model_path, settings)
    elif name == "haar":
        detector = HaarDetector(settings)
    else:
        detector = WholeImageDetector(settings)
    return detector if region is None else RegionDetector(detector, region)


__all__ = ["DETECTORS", "DetectorSettings", "FaceDetector", "HaarDetector", "OnnxFaceDetector", "RegionDetector",
           "WholeImageDetector", "YuNetDetector", "create_detector", "parse_region"]
