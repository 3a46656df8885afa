"""The one preprocessing contract: how a face crop of any size becomes the emotion model's input.

Training, evaluation, int8 calibration and inference all call these two functions, so a model
sees the same pixels at every stage (resizing a 48x48 crop to 64x64 one way in training and
another way at inference cost the 1.0.0 model 3 points). NumPy and OpenCV only: no torch here.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np


def fit_to_input(crop: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A crop (H, W) or (H, W, C), uint8 or float (it keeps its dtype), resized to ``size`` = (height, width).

    Enlarging interpolates bilinearly; shrinking averages areas (bilinear sampling would alias).
    """
    height, width = size
    if crop.shape[:2] == (height, width):
        return crop
    shrinking = crop.shape[0] > height and crop.shape[1] > width
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def fit_all(crops: Sequence[np.ndarray] | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Crops of any sizes -> one array (N, height, width[, C]) of their dtype (uint8 when there are none), each
    through :func:`fit_to_input`."""
    if isinstance(crops, np.ndarray) and crops.shape[1:3] == tuple(size):
        return crops
    if len(crops) == 0:
        return np.zeros((0, *size), np.uint8)
    return np.stack([fit_to_input(crop, size) for crop in crops])


def crops_to_tensor(crops: Sequence[np.ndarray] | np.ndarray, channels: int, mean: Sequence[float],
                    std: Sequence[float]) -> np.ndarray:
    """Crops already at the input size (uint8, (H, W) gray or (H, W, C)) -> normalised float32 (N, C, H, W)."""
    batch = np.asarray(crops, dtype=np.float32) / np.float32(255.0)
    batch = batch[:, None] if batch.ndim == 3 else batch.transpose(0, 3, 1, 2)
    if batch.shape[1] != channels:
        batch = np.repeat(batch, channels, axis=1)
    mean_ = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    std_ = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return np.ascontiguousarray((batch - mean_) / std_)
