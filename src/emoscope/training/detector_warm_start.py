"""Start a detector run from a shipped ONNX detector instead of from random weights.

An exported model has each batch norm folded into the convolution before it, so its weights cannot
be loaded as they are. They are read back into the three-level network they came from, with every
batch norm re-created so that the network computes exactly what the ONNX file does (in eval mode):
the norm's running statistics are those of its convolution's output on the given photos, and its
scale and shift undo them again (``y = (x - mean) / std * std + mean + bias = x + bias``). Training
then starts from the shipped detector's function with statistics that match real inputs, so batch
norm in training mode changes it little. Layers the ONNX file does not have (a fourth level, the
landmark heads) stay new; the fourth level's lateral branch starts faint (scale 0.01) so that the
finer levels begin almost exactly as shipped while the new level can still learn.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from .detector_model import FaceDetectorNet
from .trainer import TrainingError

ONNX_STRIDES = (8, 16, 32)
NEW_LEVEL_SCALE = 1e-2      # the new level starts this faint in the finer levels' features


def _run_watching(model: nn.Module, photos: torch.Tensor, modules, hook) -> None:
    """Run ``model`` (eval mode, no gradients) on ``photos`` with ``hook`` on each of ``modules``' outputs."""
    handles = [module.register_forward_hook(hook) for module in modules]
    try:
        with torch.no_grad():
            model.eval()(photos)
    finally:
        for handle in handles:
            handle.remove()


def _convs_in_forward_order(model: nn.Module, example: torch.Tensor) -> list[tuple[str, nn.Conv2d]]:
    names = {module: name for name, module in model.named_modules()}
    order: list[nn.Conv2d] = []
    _run_watching(model, example, [m for m in model.modules() if isinstance(m, nn.Conv2d)],
                  lambda module, _, __: order.append(module))
    return [(names[conv], conv) for conv in order if not names[conv].startswith("landmark")]


def _onnx_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray | None]]:
    proto = onnx.load(str(path))
    weights = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    for node in proto.graph.node:       # the exporter shares equal weights through Identity or Constant nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            weights[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "Identity" and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
    convs = []
    for node in proto.graph.node:
        if node.op_type == "Conv":
            bias = weights[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            convs.append((weights[node.input[1]], bias))
    return convs


def three_level_net_from_onnx(path: str | Path, photos: torch.Tensor) -> FaceDetectorNet:
    """The 1.x network of ``path`` with batch norms calibrated on ``photos`` (N, 3, H, W, BGR 0..255)."""
    path = Path(path)
    net = FaceDetectorNet(strides=ONNX_STRIDES)
    ours, theirs = _convs_in_forward_order(net, photos[:1]), _onnx_convs(path)
    if len(ours) != len(theirs):
        raise TrainingError(f"{path}: {len(theirs)} convolutions, the three-level detector has {len(ours)}")
    norms: dict[nn.Conv2d, tuple[nn.BatchNorm2d, torch.Tensor]] = {}
    parents = {name: module for name, module in net.named_modules()}
    for (name, conv), (weight, bias) in zip(ours, theirs):
        if tuple(conv.weight.shape) != weight.shape:
            raise TrainingError(f"{path}: {name} has shape {weight.shape}, expected {tuple(conv.weight.shape)}")
        conv.weight.data.copy_(torch.from_numpy(weight.copy()))
        bias = torch.zeros(weight.shape[0]) if bias is None else torch.from_numpy(bias.copy())
        if conv.bias is not None:
            conv.bias.data.copy_(bias)
            continue
        parent, index = name.rsplit(".", 1)
        norm = parents[parent][int(index) + 1]
        norm.reset_running_stats()          # mean 0, var 1: the norm is near the identity while measuring
        norm.running_var.fill_(1.0 - norm.eps)
        norm.weight.data.fill_(1.0)
        norm.bias.data.copy_(bias)
        norms[conv] = (norm, bias)
    sums = {conv: [0.0, 0.0, 0] for conv in norms}

    def measure(conv, _, output):
        flat = output.detach().transpose(0, 1).reshape(output.shape[1], -1).double()
        entry = sums[conv]
        entry[0] += flat.sum(1)
        entry[1] += (flat ** 2).sum(1)
        entry[2] += flat.shape[1]

    _run_watching(net, photos, list(norms), measure)
    for conv, (norm, bias) in norms.items():
        total, squares, count = sums[conv]
        mean = total / count
        var = (squares / count - mean ** 2).clamp(min=1e-6)
        norm.running_mean.copy_(mean.float())
        norm.running_var.copy_(var.float())
        norm.weight.data.copy_(torch.sqrt(var + norm.eps).float())
        norm.bias.data.copy_(mean.float() + bias)
    return net


def warm_start(model: FaceDetectorNet, onnx_path: str | Path, photos: torch.Tensor) -> list[str]:
    """Copy a 1.x ONNX detector into ``model``; returns the names of the parameters left new."""
    source = three_level_net_from_onnx(onnx_path, photos).state_dict()
    target = model.state_dict()
    copied = {key: value for key, value in source.items()
              if key in target and target[key].shape == value.shape and not key.startswith("landmark")}
    model.load_state_dict(copied, strict=False)
    if len(model.strides) > len(ONNX_STRIDES):
        top = model.lateral[len(ONNX_STRIDES)][1]           # the new level's lateral norm: small, not zero, since
        nn.init.constant_(top.weight, NEW_LEVEL_SCALE)     # a ReLU fed exactly 0 passes no gradient back
        nn.init.zeros_(top.bias)
    return sorted(key for key in target if key not in copied)
