"""Read the weights of an exported ONNX model back into the PyTorch network it came from.

An exported model has each batch norm folded into the convolution before it, so its weights cannot
be loaded as they are. :func:`load_folded_convs` copies every convolution in forward order and
re-creates each batch norm so that the network computes exactly what the ONNX file does (in eval
mode): the norm's running statistics are those of its convolution's output on the given inputs,
and its scale and shift undo them again (``y = (x - mean) / std * std + mean + bias = x + bias``).
Training then starts from the shipped model's function with statistics that match real inputs,
so batch norm in training mode changes it little. The detector and the emotion model both start
runs this way (``init_from``).
"""
from __future__ import annotations

from pathlib import Path
from collections.abc import Callable

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from .errors import TrainingError


def run_watching(model: nn.Module, inputs: torch.Tensor, modules, hook) -> None:
    """Run ``model`` (eval mode, no gradients) on ``inputs`` with ``hook`` on each of ``modules``' outputs."""
    handles = [module.register_forward_hook(hook) for module in modules]
    try:
        with torch.no_grad():
            model.eval()(inputs)
    finally:
        for handle in handles:
            handle.remove()


def _convs_in_forward_order(model: nn.Module, example: torch.Tensor, skip: Callable[[str], bool]):
    names = {module: name for name, module in model.named_modules()}
    order: list[nn.Conv2d] = []
    run_watching(model, example, [m for m in model.modules() if isinstance(m, nn.Conv2d)],
                 lambda module, _, __: order.append(module))
    return [(names[conv], conv) for conv in order if not skip(names[conv])]


def onnx_weights(path: str | Path) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    """The model and every constant tensor it holds, by name (initializers, Constant and Identity outputs)."""
    proto = onnx.load(str(path))
    weights = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    for node in proto.graph.node:       # the exporter shares equal weights through Identity or Constant nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            weights[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        elif node.op_type == "Identity" and node.input[0] in weights:
            weights[node.output[0]] = weights[node.input[0]]
    return proto, weights


def _onnx_convs(path: Path) -> list[tuple[np.ndarray, np.ndarray | None]]:
    proto, weights = onnx_weights(path)
    convs = []
    for node in proto.graph.node:
        if node.op_type == "Conv":
            bias = weights[node.input[2]] if len(node.input) > 2 and node.input[2] else None
            convs.append((weights[node.input[1]], bias))
    return convs


def load_folded_convs(net: nn.Module, path: str | Path, inputs: torch.Tensor,
                      skip: Callable[[str], bool] = lambda name: False) -> None:
    """Copy the convolutions of the ONNX file ``path`` into ``net`` in forward order (those whose
    module name ``skip`` accepts are left out), re-creating the batch norm that follows each
    bias-free one, calibrated on ``inputs`` (a batch as ``net`` takes it)."""
    path = Path(path)
    ours, theirs = _convs_in_forward_order(net, inputs[:1], skip), _onnx_convs(path)
    if len(ours) != len(theirs):
        raise TrainingError(f"{path}: {len(theirs)} convolutions, the network has {len(ours)}")
    norms: dict[nn.Conv2d, tuple[nn.BatchNorm2d, torch.Tensor]] = {}
    parents = dict(net.named_modules())
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

    run_watching(net, inputs, list(norms), measure)
    for conv, (norm, bias) in norms.items():
        total, squares, count = sums[conv]
        mean = total / count
        var = (squares / count - mean ** 2).clamp(min=1e-6)
        norm.running_mean.copy_(mean.float())
        norm.running_var.copy_(var.float())
        norm.weight.data.copy_(torch.sqrt(var + norm.eps).float())
        norm.bias.data.copy_(mean.float() + bias)


def load_exported_weights(net: nn.Module, path: str | Path, inputs: torch.Tensor) -> None:
    """Every weight of an ONNX file exported from ``net``'s architecture: its convolutions (batch
    norms re-created on ``inputs``, :func:`load_folded_convs`) and its fully connected layers (Gemm),
    both in forward order."""
    load_folded_convs(net, path, inputs)
    proto, weights = onnx_weights(path)
    theirs = [node for node in proto.graph.node if node.op_type == "Gemm"]
    ours = [module for module in net.modules() if isinstance(module, nn.Linear)]
    if len(ours) != len(theirs):
        raise TrainingError(f"{path}: {len(theirs)} fully connected layers, the network has {len(ours)}")
    for linear, node in zip(ours, theirs):
        weight, bias = weights[node.input[1]], weights[node.input[2]]
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)   # 1: stored as (out, in)
        weight = weight if trans_b else weight.T
        if tuple(linear.weight.shape) != weight.shape:
            raise TrainingError(f"{path}: a layer of shape {weight.shape} where the network has "
                                f"{tuple(linear.weight.shape)} (another architecture or label count?)")
        linear.weight.data.copy_(torch.from_numpy(weight.copy()))
        linear.bias.data.copy_(torch.from_numpy(bias.copy()))
