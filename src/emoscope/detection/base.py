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

    def detect(self, image: np.ndarray, scale: float = 1.0, *, stream: bool = False) -> Detections:
        """Faces in a BGR uint8 image, in its own pixel coordinates; empty when there are none.

        The detector sees a copy shrunk by ``scale`` (a stream that knows how big its faces are
        passes less than 1), and never more than ``max_side`` pixels on its longer side. ``stream``:
        the image is one of a stream's frames (video, camera, screen, live), where EmoScope's detector
        keeps to its time budget per frame (a copy of at most its ``input_max_side``); a photo (False)
        may get a larger copy (its ``photo_max_side``), slower, finding more small faces. YuNet and
        Haar see both alike."""
        small, scale = self._within_max_side(image, scale)
        return self._in_image(self._detect(small, stream), scale)

    def _within_max_side(self, image: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
        """The copy the detector sees (:meth:`detect`) and the scale applied (:func:`scaled_copy`)."""
        return scaled_copy(image, min(1.0, scale, self.settings.max_side / max(image.shape[:2])))

    def _in_image(self, found: Detections, scale: float) -> Detections:
        """Faces ``found`` in a copy shrunk by ``scale``, in the image's coordinates, those under ``min_face``
        dropped."""
        if scale != 1.0 and len(found):
            found = Detections(found.boxes / scale, found.scores,
                               None if found.landmarks is None else found.landmarks / scale)
        keep = np.minimum(found.boxes[:, 2], found.boxes[:, 3]) >= self.settings.min_face
        return found.select(keep)

    @abstractmethod
    def _detect(self, image: np.ndarray, stream: bool) -> Detections:
        """Detect on an image already within ``max_side`` (``stream``: see :meth:`detect`)."""


def scaled_copy(image: np.ndarray, scale: float) -> tuple[np.ndarray, float]:
    """``image`` shrunk by ``scale`` (area averaging; the image itself at 1 or more), and the scale
    actually applied after rounding the size to whole pixels (the same on both axes)."""
    if scale >= 1.0:
        return image, 1.0
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), size[0] / width
