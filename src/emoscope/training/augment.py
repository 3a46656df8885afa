"""Batch augmentation on tensors: one random affine warp per image (shift, scale, rotation,
flip), brightness/contrast jitter and random erasing, all drawn from an explicit generator so
a seeded run is repeatable."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    shift: float = 0.1          # max translation, fraction of the side
    scale: float = 0.15         # zoom in [1 - scale, 1 + scale]
    rotation: float = 15.0      # degrees
    flip: bool = True
    brightness: float = 0.25    # additive, pixels in [0, 1]
    contrast: float = 0.25      # multiplicative around the image mean
    erase_probability: float = 0.25

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(0.0, 0.0, 0.0, False, 0.0, 0.0, 0.0)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator) * (high - low) + low


def augment_batch(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Augment float images ``(N, C, H, W)`` with pixels in [0, 1]; returns a new tensor."""
    n = images.shape[0]
    angle = _uniform(n, -config.rotation, config.rotation, generator) * math.pi / 180
    scale = _uniform(n, 1 - config.scale, 1 + config.scale, generator)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if config.flip else torch.ones(n)
    tx = _uniform(n, -config.shift, config.shift, generator) * 2
    ty = _uniform(n, -config.shift, config.shift, generator) * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(n, 1 - config.contrast, 1 + config.contrast, generator).view(n, 1, 1, 1)
    brightness = _uniform(n, -config.brightness, config.brightness, generator).view(n, 1, 1, 1)
    out = ((out - mean) * contrast + mean + brightness).clamp(0, 1)

    if config.erase_probability > 0:
        h, w = out.shape[-2:]
        erase = torch.rand(n, generator=generator) < config.erase_probability
        eh = (_uniform(n, 0.15, 0.4, generator) * h).long()
        ew = (_uniform(n, 0.15, 0.4, generator) * w).long()
        y0 = (torch.rand(n, generator=generator) * (h - eh)).long()
        x0 = (torch.rand(n, generator=generator) * (w - ew)).long()
        fill = torch.rand(n, generator=generator)
        for i in torch.nonzero(erase).flatten().tolist():
            out[i, :, y0[i]: y0[i] + eh[i], x0[i]: x0[i] + ew[i]] = fill[i]
    return out
