"""No detection: each image is already one face crop (data sets of cut-out faces)."""
from __future__ import annotations

import numpy as np

from ..types import Detections
from .base import FaceDetector


class WholeImageDetector(FaceDetector):
    """One face covering the whole image, score 1; ``min_face`` and ``max_side`` do not apply."""

    name = "none"

    def detect(self, image: np.ndarray, scale: float = 1.0, *, stream: bool = False) -> Detections:
        height, width = image.shape[:2]
        return Detections(np.array([[0.0, 0.0, width, height]]), np.ones(1))

    def _detect(self, image: np.ndarray, stream: bool) -> Detections:
        return self.detect(image)
