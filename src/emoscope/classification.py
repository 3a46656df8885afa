"""The emotion classifier: an ONNX Runtime session whose preprocessing comes from the model's metadata."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from .align import crop_face
from .errors import ModelNotFoundError
from .models import ModelInfo, resolve_emotion_model
from .preprocess import crops_to_tensor
from .settings import INFERENCE_THREADS


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _open_session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle ONNX Runtime threads sleep instead of spinning: in a stream the other cores are busy
    # detecting and decoding, and a spinning thread would take their time.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ONNX Runtime raises its own error types for unreadable models
        raise ModelNotFoundError(f"{path}: not a loadable ONNX model ({str(error).splitlines()[0]})") from None


def read_model_info(model: str | Path | None = None) -> ModelInfo:
    """An emotion model's :class:`ModelInfo` (the bundled model's when None), without a classifier."""
    path = resolve_emotion_model(model)
    return ModelInfo.from_metadata(_open_session(path, 1).get_modelmeta().custom_metadata_map, str(path))


class EmotionClassifier:
    """Probabilities per emotion for face crops; all faces of an image go through in one batch."""

    def __init__(self, model: str | Path | None = None, threads: int = INFERENCE_THREADS):
        self.path = resolve_emotion_model(model)
        self._session = _open_session(self.path, threads)
        self.info = ModelInfo.from_metadata(self._session.get_modelmeta().custom_metadata_map, str(self.path))
        given = self._session.get_inputs()[0]
        promised = [self.info.channels, *self.info.input_size]
        if any(isinstance(size, int) and size != want for size, want in zip(given.shape[1:], promised)):
            raise ModelNotFoundError(f"{self.path}: the network takes {given.shape[1:]} (channels, height, width), "
                                     f"its metadata promises {promised}")
        self._input_name = given.name

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    def crop(self, image_bgr: np.ndarray, box, landmarks) -> np.ndarray:
        """One face crop in the model's colour order and size, uint8 (H, W) or (H, W, 3)."""
        return self.crops(image_bgr, np.asarray(box)[None], None if landmarks is None else np.asarray(landmarks)[None])[0]

    def crops(self, image_bgr: np.ndarray, boxes: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
        """All faces' crops of one image in the model's colour order and size, (N, H, W) or
        (N, H, W, 3) uint8: the image's colours converted once, each face warped straight into its
        place in one array."""
        source = image_bgr
        if self.info.color == "gray":
            source = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        elif self.info.color == "rgb":
            source = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        batch = np.empty((len(boxes), *self.info.input_size, *source.shape[2:]), np.uint8)
        for i, box in enumerate(boxes):
            # written in place; assigned as well, should OpenCV ever hand back a new array instead
            batch[i] = crop_face(source, box, None if landmarks is None else landmarks[i], self.info.crop,
                                 self.info.input_size, out=batch[i])
        return batch

    def to_tensor(self, crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Crops at the model's input size -> its input tensor (:func:`emoscope.preprocess.crops_to_tensor`)."""
        return crops_to_tensor(crops, self.info.channels, self.info.mean, self.info.std)

    def raw_outputs(self, crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """The model's own output (logits or probabilities, as its metadata says) for N crops."""
        return self._session.run(None, {self._input_name: self.to_tensor(crops)})[0]

    def predict(self, crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """(N, K) probabilities for N crops made by :meth:`crop` or :meth:`crops`, in one call."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        outputs = self.raw_outputs(crops)
        if self.info.outputs == "logits":
            return softmax(outputs / self.info.temperature)
        return outputs
