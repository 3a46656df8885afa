"""Checkpoint -> one self-contained ONNX file whose metadata tells inference everything it needs."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import torch

from ..models import CropSpec
from .architectures import get_architecture
from .trainer import InputSpec


def load_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The model of a training checkpoint (in eval mode) and the checkpoint's facts."""
    state = torch.load(str(path), map_location="cpu", weights_only=False)
    model = get_architecture(state["arch"]).build(len(state["labels"]), pretrained=False)
    model.load_state_dict(state["model"])
    return model.eval(), state


def export_onnx(checkpoint: str | Path, out: str | Path, crop: CropSpec = CropSpec(), version: str = "0",
                metrics: dict | None = None, temperature: float = 1.0) -> Path:
    """Write ``out`` (ONNX, opset 17, dynamic batch) with EmoScope metadata; returns its path."""
    model, state = load_checkpoint(checkpoint)
    input_spec = InputSpec(**state["input"])
    dummy = torch.zeros(1, input_spec.channels, input_spec.size, input_spec.size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (dummy,), str(out), input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    proto = onnx.load(str(out))
    metadata = {
        "labels": list(state["labels"]),
        "input_size": [input_spec.size, input_spec.size],
        "channels": input_spec.channels,
        "color": "gray",
        "mean": [input_spec.mean] * input_spec.channels,
        "std": [input_spec.std] * input_spec.channels,
        "crop": asdict(crop),
        "outputs": "logits",
        "temperature": temperature,
        "version": version,
        "architecture": state["arch"],
        "trained_on": state.get("trained_on", ""),
        "metrics": metrics or {},
    }
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    return out


def max_abs_difference(checkpoint: str | Path, onnx_path: str | Path, batch: int = 8, seed: int = 0) -> float:
    """Largest |logit| difference between PyTorch and ONNX Runtime on random inputs."""
    import onnxruntime as ort

    model, state = load_checkpoint(checkpoint)
    spec = InputSpec(**state["input"])
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(batch, spec.channels, spec.size, spec.size)).astype(np.float32))
    with torch.no_grad():
        expected = model(x).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    return float(np.abs(expected - got).max())
