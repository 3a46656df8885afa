"""Crops to tensors, shared by the trainer and distillation (kept apart so neither imports the other for it)."""
from __future__ import annotations

import numpy as np
import torch


def to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 gray crops (N, H, W) -> float (N, 1, H, W) in [0, 1]."""
    return torch.from_numpy(images).unsqueeze(1).float().div_(255.0)
