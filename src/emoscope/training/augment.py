"""Batch augmentation on tensors: one random affine warp per image (shift, scale, rotation,
flip), brightness/contrast jitter, random erasing and, where asked, a change of image quality, all drawn from an
explicit generator so a seeded run is repeatable.

The quality change (``degrade_probability``) shows the network the faces the pipeline gives it that the training
crops lack: FER2013's faces are all 48 px and soft, while a face cut from a photo may be a 20-px face enlarged
(blurrier) or a large face averaged down (sharper)."""
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
    degrade_probability: float = 0.0    # share of images seen at a lower resolution, blurred or sharpened

    @classmethod
    def none(cls) -> "AugmentConfig":
        return cls(shift=0.0, scale=0.0, rotation=0.0, flip=False, brightness=0.0, contrast=0.0,
                   erase_probability=0.0, degrade_probability=0.0)


LOWEST_RESOLUTION = 0.3     # a degraded image's side may shrink to this share before it is enlarged back
# Blur widths are px on a 64-px side and in proportion on others, so that a teacher's larger copy of a batch
# (``train --teacher-online``) is changed as the student's is.
REFERENCE_SIDE = 64
BLUR_SIGMAS = (0.5, 1.5)
SHARPEN_SIGMA = 1.0
SHARPEN_AMOUNTS = (0.5, 1.5)    # unsharp masking: image + amount * (image - blurred)


def _gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``image`` (1, C, H, W) blurred by a separable Gaussian of ``sigma`` px on a ``REFERENCE_SIDE`` side (in
    proportion on others), the border replicated."""
    sigma = sigma * image.shape[-1] / REFERENCE_SIDE
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.exp(-(torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device) ** 2)
                     / (2 * sigma ** 2))
    taps = taps / taps.sum()
    channels = image.shape[1]
    padded = F.pad(image, (radius, radius, radius, radius), mode="replicate")
    rows = F.conv2d(padded, taps.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(rows, taps.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def degrade(image: torch.Tensor, kind: int, strength: float) -> torch.Tensor:
    """One image (1, C, H, W) in [0, 1] changed in quality. ``kind`` 0: shrunk by area averaging to between
    ``LOWEST_RESOLUTION`` and 1 of its side (``strength`` 0..1 from the smallest) and enlarged back bilinearly;
    1: Gaussian blur; 2: unsharp masking. ``strength`` in [0, 1] picks within each kind's range. Each kind is in
    proportion to the side, so that one image changed at two sizes looks alike."""
    height, width = image.shape[-2:]
    if kind == 0:
        share = LOWEST_RESOLUTION + (1 - LOWEST_RESOLUTION) * strength
        small = F.interpolate(image, size=(max(1, round(height * share)), max(1, round(width * share))), mode="area")
        return F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)
    if kind == 1:
        return _gaussian_blur(image, BLUR_SIGMAS[0] + (BLUR_SIGMAS[1] - BLUR_SIGMAS[0]) * strength)
    amount = SHARPEN_AMOUNTS[0] + (SHARPEN_AMOUNTS[1] - SHARPEN_AMOUNTS[0]) * strength
    return (image + amount * (image - _gaussian_blur(image, SHARPEN_SIGMA))).clamp(0, 1)


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

    if config.degrade_probability > 0:   # no draws otherwise: runs recorded before this option repeat exactly
        chosen = torch.rand(n, generator=generator) < config.degrade_probability
        kinds = torch.randint(0, 3, (n,), generator=generator)
        strengths = torch.rand(n, generator=generator)
        for i in torch.nonzero(chosen).flatten().tolist():
            out[i: i + 1] = degrade(out[i: i + 1], int(kinds[i]), float(strengths[i]))
    return out
