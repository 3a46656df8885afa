"""Crops to model inputs, shared by the trainer, distillation and export (kept apart so that none
of them imports another for it)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..preprocess import fit_all


def to_unit(images: np.ndarray) -> torch.Tensor:
    """uint8 gray crops (N, H, W) -> float (N, 1, H, W) in [0, 1]."""
    return torch.from_numpy(images).unsqueeze(1).float().div_(255.0)


@dataclass(frozen=True)
class InputSpec:
    """How a gray 0..255 crop becomes the model's input; exported with the model.

    Resizing is not here: crops reach the model size through :func:`emoscope.preprocess.fit_to_input`,
    as at inference, and this only normalises (the same arithmetic as ``crops_to_tensor``).
    """

    size: int
    channels: int
    mean: float
    std: float

    def prepare(self, gray_unit: torch.Tensor) -> torch.Tensor:
        """(N, 1, size, size) gray in [0, 1] -> normalised (N, C, size, size)."""
        return ((gray_unit - self.mean) / self.std).expand(-1, self.channels, -1, -1)

    def fit(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W) crops of any size -> (N, size, size), through the preprocessing contract."""
        return fit_all(images, (self.size, self.size))
