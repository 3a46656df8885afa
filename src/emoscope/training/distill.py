"""Knowledge distillation: a teacher's outputs for every training image, computed once, then used as
soft targets when a smaller student trains (Hinton et al. 2015).

Two kinds of teacher:

- a training checkpoint's ten-crop logits for every row of a data file (``emoscope teacher-logits``), an
  ``.npz`` holding ``logits`` (rows of the source file x the teacher's outputs) and ``source`` (the data set
  family it was computed on); :func:`load_teacher_logits` checks both against the training set, so logits
  of another data set or model never train silently;
- an exported ONNX emotion model of any architecture, e.g. an ensemble (:mod:`.ensemble`), run once on the
  training images themselves, whatever data sets they were combined from (:func:`onnx_teacher_outputs`), or
  on every augmented batch (:class:`OnlineTeacher`). It teaches the label head only: its outputs are the 7
  emotions, not the FER+ votes.
"""
from __future__ import annotations

import hashlib
import zipfile
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


def onnx_teacher_outputs(model: str | Path, model_sha256: str, dataset: FaceDataset, cache: Path, threads: int = 2,
                         batch_size: int = 256) -> torch.Tensor:
    """An exported emotion model's outputs (its logits) for every image of ``dataset``, (N, labels).
    They are kept in ``cache`` with a fingerprint of the model file (``model_sha256``, its SHA-256) and the
    images, so a resumed run reads them back and another model or other images compute them afresh."""
    from ..preprocess import fit_all

    teacher = _checked_teacher(model, dataset.labels, threads)
    images = np.ascontiguousarray(dataset.images)
    digest = hashlib.sha256(f"{model_sha256} {images.dtype} {images.shape}".encode())
    digest.update(memoryview(images).cast("B"))
    fingerprint = digest.hexdigest()
    kept = _kept_outputs(cache)
    if kept is not None and kept[1] == fingerprint:
        return torch.from_numpy(kept[0])
    if kept is not None:
        print(f"{cache}: kept for another teacher file or other images; computing the teacher's outputs again")
    size = teacher.info.input_size
    outputs = np.concatenate([
        teacher.raw_outputs(fit_all(images[start: start + batch_size], size))
        for start in range(0, len(images), batch_size)]).astype(np.float32)
    partial = cache.with_name(cache.name + ".partial.npz")
    np.savez(partial, outputs=outputs, fingerprint=np.array(fingerprint))
    partial.replace(cache)
    return torch.from_numpy(outputs)


def _checked_teacher(model: str | Path, labels: tuple[str, ...], threads: int):
    """The exported model as an :class:`~emoscope.classification.EmotionClassifier`, after checking that it
    gives logits for ``labels`` from gray crops."""
    from ..classification import EmotionClassifier

    teacher = EmotionClassifier(model, threads)
    if teacher.labels != tuple(labels) or teacher.info.outputs != "logits" or teacher.info.color != "gray":
        raise TrainingError(f"{model}: a teacher must give logits for {list(labels)} from gray crops; it gives "
                            f"{teacher.info.outputs} for {list(teacher.labels)} from {teacher.info.color} crops")
    return teacher


class OnlineTeacher:
    """An exported emotion model run on every augmented training batch, so that it grades the very crop the
    student is shown (consistent teaching, Beyer et al. 2022) rather than the plain image once. The trainer keeps
    a copy of the training images at the teacher's input size and augments it with the student's random draws
    (the same warp, jitter and erasing, up to a pixel's rounding)."""

    def __init__(self, model: str | Path, labels: tuple[str, ...], threads: int):
        self._classifier = _checked_teacher(model, labels, threads)
        self.input_size = tuple(self._classifier.info.input_size)   # (height, width)

    def __call__(self, gray_unit: torch.Tensor) -> torch.Tensor:
        """Logits (N, labels) for a batch of gray crops (N, 1, H, W) in [0, 1] at the teacher's input size."""
        return torch.from_numpy(self._classifier.raw_outputs(gray_unit[:, 0].numpy() * np.float32(255.0)))


def _kept_outputs(cache: Path) -> tuple[np.ndarray, str] | None:
    """The outputs and fingerprint a run folder kept, or None when there are none or the file is damaged."""
    try:
        with np.load(cache) as kept:
            return kept["outputs"], str(kept["fingerprint"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def load_teacher(logits_file: str, model: str, model_sha256: str | None, online: bool, dataset: FaceDataset,
                 num_labels: int, num_soft: int, out_dir: Path,
                 threads: int) -> tuple[torch.Tensor | OnlineTeacher, tuple[slice, ...]]:
    """The teacher's outputs for each training image (or, ``online``, the teacher to run on each batch) and
    the student's heads they teach: every head for a teacher-logits file (its width is checked), the label
    head for an ONNX model (``model_sha256``: its file's SHA-256)."""
    if logits_file and model:
        raise TrainingError("give a teacher-logits file or a teacher model, not both")
    if online and not model:
        raise TrainingError("a teacher run on each batch must be an exported model (--teacher ONNX): "
                            "a teacher-logits file holds one output per image, not per augmented crop")
    if online:
        return OnlineTeacher(model, dataset.labels, threads), (slice(0, num_labels),)
    if model:
        return (onnx_teacher_outputs(model, model_sha256, dataset, out_dir / "teacher_outputs.npz", threads),
                (slice(0, num_labels),))
    heads = (slice(0, num_labels),) + ((slice(num_labels, num_labels + num_soft),) if num_soft else ())
    return load_teacher_logits(logits_file, dataset, num_labels + num_soft), heads


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
