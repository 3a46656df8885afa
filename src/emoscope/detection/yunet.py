"""YuNet (Wu et al. 2023, OpenCV zoo) through ``cv2.FaceDetectorYN``: boxes, 5 landmarks, scores."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import ModelNotFoundError
from ..types import Detections
from .base import DetectorSettings, FaceDetector


SCORE_THRESHOLD = 0.8      # the defaults when DetectorSettings leaves them to the detector
NMS_THRESHOLD = 0.3


class YuNetDetector(FaceDetector):
    name = "yunet"

    def __init__(self, model_path: Path, settings: DetectorSettings):
        super().__init__(settings)
        self._input_size = (320, 320)
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(model_path), "", self._input_size,
                SCORE_THRESHOLD if settings.score_threshold is None else settings.score_threshold,
                NMS_THRESHOLD if settings.nms_threshold is None else settings.nms_threshold, 5000)
            self._net.detect(np.zeros((*self._input_size, 3), np.uint8))   # another network loads, then fails here
        except cv2.error as error:
            raise ModelNotFoundError(f"{model_path}: not a loadable YuNet model ({error.err})") from None

    def _detect(self, image: np.ndarray, stream: bool) -> Detections:
        size = (image.shape[1], image.shape[0])
        if size != self._input_size:
            self._net.setInputSize(size)
            self._input_size = size
        _, faces = self._net.detect(image)
        if faces is None or len(faces) == 0:
            return Detections.empty(with_landmarks=True)
        return Detections(faces[:, 0:4], faces[:, 14], faces[:, 4:14].reshape(-1, 5, 2))
