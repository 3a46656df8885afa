"""A small anchor-free face detector in the YuNet / SCRFD family, in plain PyTorch.

Depthwise-separable backbone -> three feature maps at strides 8, 16 and 32 -> a top-down feature
pyramid -> per level a head that predicts, at every grid point, a face score (one logit) and the
distances from the point to the box's left, top, right and bottom edges (in units of the stride,
through ``exp``). The model takes BGR pixels 0..255 as they come from OpenCV and normalises them
itself, so inference only resizes and pads.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

STRIDES = (8, 16, 32)


def conv_bn(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def dw_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1: the cheap unit everything is built from."""
    return nn.Sequential(conv_bn(c_in, c_in, 3, stride, groups=c_in), conv_bn(c_in, c_out, 1))


class FaceDetectorNet(nn.Module):
    """``forward(bgr)`` -> per level (scores as logits (N, H*W), box distances (N, H*W, 4) in strides)."""

    def __init__(self, widths: tuple[int, ...] = (16, 24, 40, 64, 96), neck: int = 32):
        super().__init__()
        w0, w1, w2, w3, w4 = widths
        self.stem = nn.Sequential(conv_bn(3, w0, 3, 2), dw_block(w0, w0))                 # /2
        self.stage2 = nn.Sequential(dw_block(w0, w1, 2), dw_block(w1, w1))                 # /4
        self.stage3 = nn.Sequential(dw_block(w1, w2, 2), dw_block(w2, w2), dw_block(w2, w2))  # /8
        self.stage4 = nn.Sequential(dw_block(w2, w3, 2), dw_block(w3, w3), dw_block(w3, w3))  # /16
        self.stage5 = nn.Sequential(dw_block(w3, w4, 2), dw_block(w4, w4))                 # /32
        self.lateral = nn.ModuleList(conv_bn(c, neck, 1) for c in (w2, w3, w4))
        self.smooth = nn.ModuleList(dw_block(neck, neck) for _ in STRIDES)
        self.head = nn.ModuleList(dw_block(neck, neck) for _ in STRIDES)
        self.score = nn.ModuleList(nn.Conv2d(neck, 1, 1) for _ in STRIDES)
        self.box = nn.ModuleList(nn.Conv2d(neck, 4, 1) for _ in STRIDES)
        for layer in self.score:        # start near the prior of "almost no point is a face"
            nn.init.constant_(layer.bias, -4.6)

    def forward(self, bgr: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        x = (bgr - 127.5) / 128.0
        c3 = self.stage3(self.stage2(self.stem(x)))
        c4 = self.stage4(c3)
        c5 = self.stage5(c4)
        p5 = self.lateral[2](c5)
        p4 = self.lateral[1](c4) + F.interpolate(p5, size=c4.shape[-2:], mode="nearest")
        p3 = self.lateral[0](c3) + F.interpolate(p4, size=c3.shape[-2:], mode="nearest")
        outputs = []
        for level, feature in enumerate((p3, p4, p5)):
            feature = self.head[level](self.smooth[level](feature))
            n = feature.shape[0]
            score = self.score[level](feature).reshape(n, -1)
            box = self.box[level](feature).reshape(n, 4, -1).transpose(1, 2)
            outputs.append((score, box))
        return outputs


class ExportWrapper(nn.Module):
    """What ships: per level sigmoid scores (1, H*W) and box distances in pixels (1, H*W, 4)."""

    def __init__(self, net: FaceDetectorNet):
        super().__init__()
        self.net = net

    def forward(self, bgr: torch.Tensor):
        flat = []
        for (score, box), stride in zip(self.net(bgr), STRIDES):
            flat += [torch.sigmoid(score), torch.exp(box.clamp(max=8.0)) * stride]
        return tuple(flat)
