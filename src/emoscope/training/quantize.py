"""An int8 copy of an EmoScope ONNX model: static quantization (QDQ, per-channel weights)
calibrated on real face crops, metadata carried over."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from ..classification import EmotionClassifier
from ..data import FaceDataset
from ..preprocess import fit_all


class _Crops(CalibrationDataReader):
    def __init__(self, classifier: EmotionClassifier, images: np.ndarray, batch: int = 32):
        crops = fit_all(images, classifier.info.input_size)
        self._batches = iter([classifier.to_tensor(crops[i: i + batch]) for i in range(0, len(crops), batch)])

    def get_next(self):
        batch = next(self._batches, None)
        return None if batch is None else {"input": batch}


def quantize_int8(model: str | Path, out: str | Path, calibration: FaceDataset, count: int = 512, seed: int = 0) -> Path:
    """Write an int8 copy of ``model`` to ``out``, calibrated on ``count`` crops drawn from ``calibration``."""
    classifier = EmotionClassifier(model)
    pick = np.random.default_rng(seed).choice(len(calibration), min(count, len(calibration)), replace=False)
    out = Path(out)
    ort.set_default_logger_severity(3)   # calibration sessions would print a warning per folded constant
    try:
        quantize_static(str(classifier.path), str(out), _Crops(classifier, calibration.images[pick]),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
    finally:
        ort.set_default_logger_severity(2)   # ONNX Runtime's default (it has no getter)
    source, target = onnx.load(str(classifier.path)), onnx.load(str(out))
    del target.metadata_props[:]
    for entry in source.metadata_props:
        value = json.loads(entry.value)
        if entry.key == "version":
            value = f"{value}-int8"
        target.metadata_props.add(key=entry.key, value=json.dumps(value))
    onnx.save(target, str(out))
    return out
