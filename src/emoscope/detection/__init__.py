"""Face detectors behind one interface: ``detector.detect(bgr_image) -> Detections``.

``create_detector("auto")`` uses YuNet where its model file is found and OpenCV's Haar cascade
otherwise, with a one-line notice on how to get YuNet.
"""
from __future__ import annotations

import sys

from ..errors import InputError, ModelNotFoundError
from ..models import find_downloadable
from .base import DetectorSettings, FaceDetector
from .haar import HaarDetector
from .yunet import YuNetDetector

DETECTORS = ("auto", "yunet", "haar")


def create_detector(name: str = "auto", model_path=None, settings: DetectorSettings | None = None) -> FaceDetector:
    settings = settings or DetectorSettings()
    if name not in DETECTORS:
        raise InputError(f"unknown detector {name!r}; use one of {', '.join(DETECTORS)}")
    if name == "haar":
        return HaarDetector(settings)
    path = find_downloadable("yunet", model_path)
    if path is not None:
        return YuNetDetector(path, settings)
    if name == "yunet":
        raise ModelNotFoundError(
            "YuNet model not found: run 'emoscope models download yunet', set EMOSCOPE_MODELS, or pass --detector-model")
    print("emoscope: YuNet model not found, using the Haar cascade "
          "(better faces: 'emoscope models download yunet')", file=sys.stderr)
    return HaarDetector(settings)


__all__ = ["DETECTORS", "DetectorSettings", "FaceDetector", "HaarDetector", "YuNetDetector", "create_detector"]
