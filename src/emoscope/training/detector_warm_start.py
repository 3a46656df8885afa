"""Start a detector run from a shipped ONNX detector instead of from random weights.

The weights are read back into the network they came from (batch norms re-created,
:mod:`onnx_weights`). A file of the current network (2.x: four levels with landmarks) is copied
whole, so a run continues the shipped model. A 1.x file (three levels, boxes only) fills the finer
levels; layers it does not have (the fourth level, the landmark heads) stay new, and the fourth
level's lateral branch starts faint (scale 0.01) so that the finer levels begin almost exactly as
shipped while the new level can still learn.
"""
from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch
from torch import nn

from ..detection.onnx_detector import DetectorInfo
from .detector_model import FaceDetectorNet
from .errors import TrainingError
from .onnx_weights import load_folded_convs

ONNX_STRIDES = (8, 16, 32)  # the levels of a 1.x file
NEW_LEVEL_SCALE = 1e-2      # the new level starts this faint in the finer levels' features


def three_level_net_from_onnx(path: str | Path, photos: torch.Tensor) -> FaceDetectorNet:
    """The 1.x network of ``path`` with batch norms calibrated on ``photos`` (N, 3, H, W, BGR 0..255)."""
    net = FaceDetectorNet(strides=ONNX_STRIDES)
    load_folded_convs(net, path, photos, skip=lambda name: name.startswith("landmark"))
    return net


def warm_start(model: FaceDetectorNet, onnx_path: str | Path, photos: torch.Tensor) -> list[str]:
    """Copy an EmoScope ONNX detector into ``model``; returns the names of the parameters left new.

    The file's outputs tell its kind: three per level (score, box, landmarks) is ``model``'s own
    network, two per level for three levels is 1.x."""
    try:
        proto = onnx.load(str(onnx_path))
    except Exception as error:   # onnx raises DecodeError, OSError and others on a file it cannot read
        raise TrainingError(f"{onnx_path}: not a readable ONNX detector ({error})") from None
    kind = {prop.key: prop.value for prop in proto.metadata_props}.get("kind")
    if kind != json.dumps(DetectorInfo.KIND):       # YuNet's file, say, has as many outputs as 2.x
        raise TrainingError(f"{onnx_path}: not an EmoScope face detector (metadata 'kind' is {kind or 'missing'})")
    outputs = len(proto.graph.output)
    if outputs == 3 * len(model.strides):
        load_folded_convs(model, onnx_path, photos)
        return []
    if outputs != 2 * len(ONNX_STRIDES):
        raise TrainingError(f"{onnx_path}: {outputs} outputs; an EmoScope detector has {3 * len(model.strides)} "
                            f"(2.x) or {2 * len(ONNX_STRIDES)} (1.x)")
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
