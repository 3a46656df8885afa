"""Knowledge distillation: a teacher's ten-crop logits for every image of a data file, saved once,
then used as soft targets when a smaller student trains (Hinton et al. 2015).

The logits file (``.npz``) holds ``logits`` (rows of the source file x the teacher's outputs) and
``source`` (the data set family it was computed on); :func:`load_teacher_logits` checks both
against the training set, so logits of another data set or model never train silently.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data import FaceDataset
from .errors import TrainingError
from .tensors import InputSpec, to_unit


def _source_family(dataset: FaceDataset) -> str:
    """``fer2013`` for every loader that reads the FER2013 CSV (its labels or FER+ votes)."""
    return "fer2013" if "fer" in dataset.name.split("/")[0] else dataset.name.split("/")[0]


@torch.no_grad()
def ten_crop_logits(model: torch.nn.Module, spec: InputSpec, images: np.ndarray, batch_size: int = 128,
                    crop_fraction: float = 0.9) -> np.ndarray:
    """Logits averaged over ten views of each image: four corners and the centre at ``crop_fraction``
    of the side, and their mirror images, each resized back to the input size."""
    model.eval()
    images = spec.fit(images)
    size = spec.size
    side = int(round(size * crop_fraction))
    offsets = [(0, 0), (0, size - side), (size - side, 0), (size - side, size - side),
               ((size - side) // 2, (size - side) // 2)]
    outputs = []
    for start in range(0, len(images), batch_size):
        x = to_unit(images[start: start + batch_size])
        total = 0
        for top, left in offsets:
            view = F.interpolate(x[..., top: top + side, left: left + side], size=(size, size), mode="bilinear",
                                 align_corners=False)
            for flipped in (view, view.flip(-1)):
                total = total + model(spec.prepare(flipped))
        outputs.append(total / 10.0)
    return torch.cat(outputs).numpy()


def save_teacher_logits(path: str | Path, logits_by_row: dict[int, np.ndarray], source: str) -> Path:
    """Write the logits of every row computed (all splits of one data file) to ``path`` (.npz)."""
    rows = max(logits_by_row) + 1
    width = len(next(iter(logits_by_row.values())))
    logits = np.full((rows, width), np.nan, np.float32)
    for row, value in logits_by_row.items():
        logits[row] = value
    path = Path(path)
    np.savez_compressed(path, logits=logits, source=np.array(source))
    return path


def load_teacher_logits(path: str | Path, dataset: FaceDataset, outputs: int) -> torch.Tensor:
    """The teacher logits for each image of ``dataset``, (N, outputs); one clear error naming the file
    when they belong to another data set, have another width, or miss some of its rows."""
    try:
        archive = np.load(path)
        logits, source = archive["logits"], str(archive["source"])
    except (OSError, KeyError, ValueError) as error:
        raise TrainingError(f"{path}: not a teacher-logits file ({error})") from None
    if dataset.rows is None:
        raise TrainingError(f"{path}: the data set {dataset.name} has no row numbers to match teacher logits to")
    if source != _source_family(dataset):
        raise TrainingError(f"{path}: teacher logits of {source!r}, but the training data is {dataset.name!r}")
    if logits.ndim != 2 or logits.shape[1] != outputs:
        raise TrainingError(f"{path}: teacher logits have shape {logits.shape}; this model needs {outputs} outputs")
    if dataset.rows.max() >= len(logits) or np.isnan(logits[dataset.rows]).any():
        raise TrainingError(f"{path}: has no logits for some rows of {dataset.name}")
    return torch.from_numpy(logits[dataset.rows])


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                      heads: tuple[slice, ...]) -> torch.Tensor:
    """Mean over heads of KL(teacher || student) at ``temperature``, scaled by T^2 so its gradient
    keeps the size of a hard-label loss (Hinton et al. 2015)."""
    total = 0.0
    for head in heads:
        teacher_p = F.log_softmax(teacher[:, head] / temperature, 1)
        student_p = F.log_softmax(student[:, head] / temperature, 1)
        total = total + F.kl_div(student_p, teacher_p, log_target=True, reduction="batchmean") * temperature ** 2
    return total / len(heads)
