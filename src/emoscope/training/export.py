"""Checkpoint -> one self-contained ONNX file whose metadata tells inference everything it needs."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import onnx
import torch

from ..models import CropSpec
from .architectures import get_architecture
from .prior_correction import PriorCorrection, add_logit_bias, read_metadata, write_metadata
from .errors import TrainingError
from .tensors import InputSpec


class BlendedHeads(torch.nn.Module):
    """A two-head model as one output: ``(1 - s) * log_softmax(hard) + s * log_softmax(soft)`` over
    the hard head's labels (see :func:`emoscope.training.selection.blend_log_probabilities`); these
    log-probabilities serve as logits. A one-head model passes through unchanged."""

    def __init__(self, model: torch.nn.Module, num_labels: int, two_heads: bool, soft_share: float):
        super().__init__()
        self.model, self.num_labels, self.two_heads, self.soft_share = model, num_labels, two_heads, soft_share

    def forward(self, x):
        logits = self.model(x)
        k = self.num_labels
        if not self.two_heads:
            return logits
        hard = torch.log_softmax(logits[:, :k], 1)
        soft = torch.log_softmax(logits[:, k: 2 * k], 1)
        return (1.0 - self.soft_share) * hard + self.soft_share * soft


def _validated_form(state: dict) -> tuple[dict, float]:
    """The weights and head share of a checkpoint as its epoch was validated. ``best.pt`` holds just that; a
    run's resume point (``last.pt``) holds the raw weights beside their moving average (``ema``), and the
    average, with the head share its epoch chose, is what that epoch's validation scored."""
    if "history" not in state:                  # best.pt
        return state["model"], float(state.get("soft_share", 0.0))
    weights = state["model"] if not state.get("ema") else {      # a run without a moving average validates its weights
        name[len("module."):]: value for name, value in state["ema"].items() if name.startswith("module.")}
    return weights, float(state["history"][-1].get("soft_share", 0.0))


def load_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The model of a training checkpoint (``best.pt``, or ``last.pt``: its last epoch as validated; in eval
    mode, two heads blended into one output) and the checkpoint's facts. A file that is not a checkpoint of a
    known architecture is one clear error."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=False)
        arch, labels = state["arch"], state["labels"]
    except Exception as error:  # torch raises many types for a file that is not a checkpoint
        raise TrainingError(f"{path}: not an EmoScope training checkpoint ({str(error).splitlines()[0][:120]})") from None
    outputs = len(labels) + len(state.get("soft_labels", []))
    model = get_architecture(arch).build(outputs, pretrained=False)
    weights, soft_share = _validated_form(state)
    try:
        model.load_state_dict(weights)
    except RuntimeError:
        raise TrainingError(f"{path}: its weights do not fit architecture {arch!r} with {outputs} outputs") from None
    two_heads = outputs > len(labels)
    return BlendedHeads(model, len(labels), two_heads, soft_share).eval(), {**state, "soft_share": soft_share}


def export_onnx(checkpoint: str | Path, out: str | Path, crop: CropSpec = CropSpec(), version: str = "0",
                metrics: dict | None = None, temperature: float = 1.0,
                prior_correction: PriorCorrection | None = None) -> Path:
    """Write ``out`` (ONNX, opset 17, dynamic batch) with EmoScope metadata; returns its path.
    ``prior_correction``: its logit bias is added in the graph and recorded in the metadata."""
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
        "heads": {"labels": list(state["labels"]), "soft_labels": list(state.get("soft_labels", [])),
                  "soft_share": float(state.get("soft_share", 0.0))},
        "metrics": metrics or {},
    }
    if prior_correction is not None:
        if prior_correction.labels != tuple(state["labels"]):
            raise TrainingError(f"{checkpoint}: labels {state['labels']} differ from the prior's {list(prior_correction.labels)}")
        add_logit_bias(proto, prior_correction.bias)
        metadata["prior_correction"] = prior_correction.metadata()
    write_metadata(proto, metadata)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    return out


def max_abs_difference(checkpoint: str | Path, onnx_path: str | Path, batch: int = 8, seed: int = 0) -> float:
    """Largest |logit| difference between PyTorch (plus the prior-correction bias the ONNX metadata records,
    if any) and ONNX Runtime on random inputs."""
    import onnxruntime as ort

    model, state = load_checkpoint(checkpoint)
    spec = InputSpec(**state["input"])
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(batch, spec.channels, spec.size, spec.size)).astype(np.float32))
    with torch.no_grad():
        expected = model(x).numpy()
    correction = read_metadata(onnx.load(str(onnx_path))).get("prior_correction")
    if correction:
        expected = expected + np.array([correction["bias"][label] for label in state["labels"]], np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    return float(np.abs(expected - got).max())
