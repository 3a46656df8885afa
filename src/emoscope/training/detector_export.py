"""Detector checkpoint -> one ONNX file whose metadata tells the NumPy decoder everything it needs."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import torch

from ..detection.onnx_detector import DetectorInfo
from .detector_model import ExportWrapper, FaceDetectorNet


def load_detector_checkpoint(path: str | Path) -> tuple[FaceDetectorNet, dict]:
    """The EMA weights of a training checkpoint, as a model in eval mode, and the checkpoint's facts."""
    state = torch.load(str(path), map_location="cpu", weights_only=False)
    model = FaceDetectorNet()
    model.load_state_dict(state["ema"])
    return model.eval(), state


def export_detector(checkpoint: str | Path, out: str | Path, info: DetectorInfo) -> Path:
    """Write ``out`` (ONNX, opset 17, input (1, 3, H, W) with H and W free) with ``info`` as metadata;
    ``trained_on`` comes from the checkpoint where ``info`` leaves it empty, the strides and
    landmarks from the network."""
    model, state = load_detector_checkpoint(checkpoint)
    info = replace(info, strides=model.strides, landmarks=True, trained_on=info.trained_on or state.get("trained_on", ""))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = [f"{kind}_{stride}" for stride in model.strides for kind in ("score", "box", "landmarks")]
    axes = {"input": {2: "height", 3: "width"}, **{name: {1: "points"} for name in names}}
    torch.onnx.export(ExportWrapper(model).eval(), (torch.zeros(1, 3, 320, 320),), str(out), input_names=["input"],
                      output_names=names, dynamic_axes=axes, opset_version=17, dynamo=False)
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    for key, value in info.to_metadata().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    return out


def max_relative_difference(checkpoint: str | Path, onnx_path: str | Path, size_hw=(256, 352), seed: int = 0) -> float:
    """Largest difference between PyTorch and ONNX Runtime outputs on one random image."""
    import onnxruntime as ort

    model, _ = load_detector_checkpoint(checkpoint)
    x = np.random.default_rng(seed).uniform(0, 255, size=(1, 3, *size_hw)).astype(np.float32)
    with torch.no_grad():
        expected = [t.numpy() for t in ExportWrapper(model)(torch.from_numpy(x))]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})
    return float(max(np.abs(e - g).max() / max(1.0, np.abs(e).max()) for e, g in zip(expected, got)))
