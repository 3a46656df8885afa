"""What every detector shares: settings, downscaling of big images, and the minimum-size filter."""
from __future__ import annotations

from abc import ABC, abstractmethod

import cv2
import numpy as np

from ..settings import DetectorSettings
from ..types import Detections


class FaceDetector(ABC):
    name: str = ""

    def __init__(self, settings: DetectorSettings):
        self.settings = settings

    def detect(self, image: np.ndarray) -> Detections:
        """Faces in a BGR uint8 image, in its own pixel coordinates; empty when there are none."""
        height, width = image.shape[:2]
        scale = min(1.0, self.settings.max_side / max(height, width))
        small = image if scale == 1.0 else cv2.resize(
            image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        found = self._detect(small)
        if scale != 1.0 and len(found):
            found = Detections(found.boxes / scale, found.scores,
                               None if found.landmarks is None else found.landmarks / scale)
        keep = np.minimum(found.boxes[:, 2], found.boxes[:, 3]) >= self.settings.min_face
        return found.select(keep)

    @abstractmethod
    def _detect(self, image: np.ndarray) -> Detections:
        """Detect on an image already within ``max_side``."""
