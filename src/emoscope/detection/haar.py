"""OpenCV's bundled frontal-face Haar cascade (Viola-Jones): boxes only, no landmarks.

Scores are the cascade's level weights passed through a logistic, so they rank faces but are
not calibrated probabilities.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import ModelNotFoundError
from ..types import Detections
from .base import DetectorSettings, FaceDetector

CASCADE_FILE = "haarcascade_frontalface_default.xml"


class HaarDetector(FaceDetector):
    name = "haar"

    def __init__(self, settings: DetectorSettings):
        super().__init__(settings)
        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE_FILE)
        if self._cascade.empty():
            raise ModelNotFoundError(f"OpenCV's {CASCADE_FILE} is missing from this OpenCV install")

    def _detect(self, image: np.ndarray, stream: bool) -> Detections:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        gray = cv2.equalizeHist(gray)
        boxes, _, weights = self._cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(16, 16), outputRejectLevels=True)
        if len(boxes) == 0:
            return Detections.empty()
        scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))
        return Detections(np.asarray(boxes), scores)
