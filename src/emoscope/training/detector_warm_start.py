"""Start a detector run from a shipped ONNX detector instead of from random weights.

The weights are read back into the three-level network they came from (batch norms re-created,
:mod:`onnx_weights`). Layers the ONNX file does not have (a fourth level, the
landmark heads) stay new; the fourth level's lateral branch starts faint (scale 0.01) so that the
finer levels begin almost exactly as shipped while the new level can still learn.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .detector_model import FaceDetectorNet
from .onnx_weights import load_folded_convs

ONNX_STRIDES = (8, 16, 32)
NEW_LEVEL_SCALE = 1e-2      # the new level starts this faint in the finer levels' features


def three_level_net_from_onnx(path: str | Path, photos: torch.Tensor) -> FaceDetectorNet:
    """The 1.x network of ``path`` with batch norms calibrated on ``photos`` (N, 3, H, W, BGR 0..255)."""
    net = FaceDetectorNet(strides=ONNX_STRIDES)
    load_folded_convs(net, path, photos, skip=lambda name: name.startswith("landmark"))
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
