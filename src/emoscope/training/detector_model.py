"""A small anchor-free face detector in the YuNet / SCRFD family, in plain PyTorch.

Depthwise-separable backbone -> feature maps at strides 8, 16, 32 and 64 -> a top-down feature
pyramid -> per level a head that predicts, at every grid point, a face score (one logit), the
distances from the point to the box's left, top, right and bottom edges (in units of the stride,
through ``exp``) and five landmarks (eyes, nose tip, mouth corners) as offsets from the point in
units of the stride. The stride-64 level exists for faces that fill the whole input: its receptive
field covers a 320-px face, which stride 32's barely did. The model takes BGR pixels 0..255 as they
come from OpenCV and normalises them itself, so inference only resizes and pads.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

STRIDES = (8, 16, 32, 64)
N_LANDMARKS = 5


def conv_bn(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def dw_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1: the cheap unit everything is built from."""
    return nn.Sequential(conv_bn(c_in, c_in, 3, stride, groups=c_in), conv_bn(c_in, c_out, 1))


class FaceDetectorNet(nn.Module):
    """``forward(bgr)`` -> per level (scores as logits (N, H*W), box distances (N, H*W, 4) in strides,
    landmark offsets (N, H*W, 5, 2) in strides).

    ``strides`` shorter than :data:`STRIDES` builds the earlier three-level network (1.x), whose
    weights :mod:`detector_warm_start` reads back from a shipped ONNX file."""

    def __init__(self, widths: tuple[int, ...] = (16, 24, 40, 64, 96, 128), neck: int = 32,
                 strides: tuple[int, ...] = STRIDES):
        super().__init__()
        self.strides = tuple(strides)
        w0, w1, w2, w3, w4, w5 = widths
        self.stem = nn.Sequential(conv_bn(3, w0, 3, 2), dw_block(w0, w0))                 # /2
        self.stage2 = nn.Sequential(dw_block(w0, w1, 2), dw_block(w1, w1))                 # /4
        self.stage3 = nn.Sequential(dw_block(w1, w2, 2), dw_block(w2, w2), dw_block(w2, w2))  # /8
        self.stage4 = nn.Sequential(dw_block(w2, w3, 2), dw_block(w3, w3), dw_block(w3, w3))  # /16
        self.stage5 = nn.Sequential(dw_block(w3, w4, 2), dw_block(w4, w4))                 # /32
        levels = len(self.strides)
        if levels == 4:
            self.stage6 = nn.Sequential(dw_block(w4, w5, 2), dw_block(w5, w5))             # /64
        self.lateral = nn.ModuleList(conv_bn(c, neck, 1) for c in (w2, w3, w4, w5)[:levels])
        self.smooth = nn.ModuleList(dw_block(neck, neck) for _ in range(levels))
        self.head = nn.ModuleList(dw_block(neck, neck) for _ in range(levels))
        self.score = nn.ModuleList(nn.Conv2d(neck, 1, 1) for _ in range(levels))
        self.box = nn.ModuleList(nn.Conv2d(neck, 4, 1) for _ in range(levels))
        self.landmark = nn.ModuleList(nn.Conv2d(neck, 2 * N_LANDMARKS, 1) for _ in range(levels))
        for layer in self.score:        # start near the prior of "almost no point is a face"
            nn.init.constant_(layer.bias, -4.6)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        c3 = self.stage3(self.stage2(self.stem(x)))
        backbone = [c3]
        for stage in (self.stage4, self.stage5, getattr(self, "stage6", None))[:len(self.strides) - 1]:
            backbone.append(stage(backbone[-1]))
        pyramid = [self.lateral[-1](backbone[-1])]
        for level in range(len(backbone) - 2, -1, -1):       # top-down: coarse meaning into finer maps
            above = F.interpolate(pyramid[0], size=backbone[level].shape[-2:], mode="nearest")
            pyramid.insert(0, self.lateral[level](backbone[level]) + above)
        return pyramid

    def forward(self, bgr: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        x = (bgr - 127.5) / 128.0
        outputs = []
        for level, feature in enumerate(self.features(x)):
            feature = self.head[level](self.smooth[level](feature))
            n = feature.shape[0]
            score = self.score[level](feature).reshape(n, -1)
            box = self.box[level](feature).reshape(n, 4, -1).transpose(1, 2)
            landmarks = self.landmark[level](feature).reshape(n, 2 * N_LANDMARKS, -1).transpose(1, 2)
            outputs.append((score, box, landmarks.reshape(n, -1, N_LANDMARKS, 2)))
        return outputs


class ExportWrapper(nn.Module):
    """What ships: per level sigmoid scores (1, H*W), box distances in pixels (1, H*W, 4) and
    landmark offsets from the grid point in pixels (1, H*W, 10)."""

    def __init__(self, net: FaceDetectorNet):
        super().__init__()
        self.net = net

    def forward(self, bgr: torch.Tensor):
        flat = []
        for (score, box, landmarks), stride in zip(self.net(bgr), self.net.strides):
            flat += [torch.sigmoid(score), torch.exp(box.clamp(max=8.0)) * stride,
                     landmarks.flatten(2) * stride]
        return tuple(flat)
