"""Face detectors behind one interface: ``detector.detect(bgr_image) -> Detections``.

Each detector name is registered with what it builds and which options it takes, so that every
surface (library, CLI, batch, web) checks options in one place, :func:`check_options`:

- ``auto``/``emoscope``: EmoScope's own detector, bundled in the package (no download, no network),
  with five landmarks from 2.0 on; ``auto`` also takes a YuNet file;
- ``yunet``: OpenCV zoo's YuNet where its model file is found (landmarks);
- ``haar``: OpenCV's Haar cascade (no calibrated scores, no landmarks);
- ``none`` (or None): each image is one face crop.

A ``region`` limits detection to one part of every image.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from ..errors import InputError, ModelNotFoundError
from ..models import find_downloadable, resolve_face_detector
from .base import DetectorSettings, FaceDetector
from .haar import HaarDetector
from .onnx_detector import NotAnEmoScopeDetector, OnnxFaceDetector
from .region import RegionDetector, parse_region
from .whole_image import WholeImageDetector
from .yunet import YuNetDetector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorKind:
    """A registered detector name: how to build it and which options it takes."""

    name: str
    build: Callable[..., FaceDetector]          # (model_path, settings, threads) -> detector
    score_threshold: bool                       # takes a score threshold (calibrated scores)
    model_file: bool                            # takes a model file
    landmarks: str                              # "yes", "no", or "by model" (the model file decides)


REGISTRY: dict[str, DetectorKind] = {}


def register(name: str, *, score_threshold: bool, model_file: bool, landmarks: str):
    def add(build):
        REGISTRY[name] = DetectorKind(name, build, score_threshold, model_file, landmarks)
        return build
    return add


def _yunet_file(model_path):
    path = find_downloadable("yunet", model_path)
    if path is None:
        raise ModelNotFoundError(
            "YuNet model not found: run 'emoscope models download yunet', set EMOSCOPE_MODELS, or pass --detector-model")
    return path


@register("auto", score_threshold=True, model_file=True, landmarks="by model")
def _auto(model_path, settings: DetectorSettings, threads: int) -> FaceDetector:
    """A given model file is ours if its metadata says so, else YuNet; without one, the bundled detector."""
    if model_path is not None:
        try:
            return OnnxFaceDetector(resolve_face_detector(model_path), settings, threads)
        except NotAnEmoScopeDetector:
            try:
                return YuNetDetector(_yunet_file(model_path), settings)
            except ModelNotFoundError:
                raise ModelNotFoundError(f"{model_path}: neither an EmoScope face detector nor a YuNet model") from None
    try:
        return OnnxFaceDetector(resolve_face_detector(None), settings, threads)
    except ModelNotFoundError as error:     # only a damaged install lacks it
        log.warning("%s; using the Haar cascade", error)
        return HaarDetector(settings)


@register("emoscope", score_threshold=True, model_file=True, landmarks="by model")
def _emoscope(model_path, settings: DetectorSettings, threads: int) -> FaceDetector:
    return OnnxFaceDetector(resolve_face_detector(model_path), settings, threads)


@register("yunet", score_threshold=True, model_file=True, landmarks="yes")
def _yunet(model_path, settings: DetectorSettings, threads: int) -> FaceDetector:
    return YuNetDetector(_yunet_file(model_path), settings)


@register("haar", score_threshold=False, model_file=False, landmarks="no")
def _haar(model_path, settings: DetectorSettings, threads: int) -> FaceDetector:
    return HaarDetector(settings)


@register("none", score_threshold=False, model_file=False, landmarks="no")
def _whole_image(model_path, settings: DetectorSettings, threads: int) -> FaceDetector:
    return WholeImageDetector(settings)


DETECTORS = tuple(REGISTRY)


def check_options(name: str | None, score_threshold: float | None = None, model_path=None) -> DetectorKind:
    """The registered detector ``name`` (None means ``none``); InputError for an unknown name or an
    option it does not take."""
    name = "none" if name is None else name
    kind = REGISTRY.get(name)
    if kind is None:
        raise InputError(f"unknown detector {name!r}; use one of {', '.join(DETECTORS)}")
    if score_threshold is not None and not kind.score_threshold:
        raise InputError(f"a score threshold does not apply to the {name} detector (no calibrated scores)")
    if model_path is not None and not kind.model_file:
        raise InputError(f"a detector model file does not apply to the {name} detector")
    return kind


def create_detector(name: str | None = "auto", model_path=None, settings: DetectorSettings | None = None, *,
                    threads: int = 1, region: tuple[int, int, int, int] | None = None):
    """The detector called ``name`` (one of ``DETECTORS``; None means ``none``)."""
    settings = settings or DetectorSettings()
    detector = check_options(name, settings.score_threshold, model_path).build(model_path, settings, threads)
    return detector if region is None else RegionDetector(detector, region)


__all__ = ["DETECTORS", "REGISTRY", "DetectorKind", "DetectorSettings", "FaceDetector", "HaarDetector",
           "OnnxFaceDetector", "RegionDetector", "WholeImageDetector", "YuNetDetector", "check_options",
           "create_detector", "parse_region"]
