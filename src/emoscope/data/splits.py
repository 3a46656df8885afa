"""Pick a data set layout by name and return its training and validation splits."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import DatasetError, FaceDataset
from .face_table import FACE_TABLE, load_face_table
from .loaders import load_affectnet, load_fer2013, load_fer2013_with_votes, load_ferplus, load_image_folder, load_rafdb

DATASET_KINDS = ("fer2013", "ferplus", "fer2013+ferplus", "folder", "expw", "rafdb", "affectnet")


def holdout_split(dataset: FaceDataset, fraction: float, seed: int) -> tuple[FaceDataset, FaceDataset]:
    """Stratified random split for layouts that ship no validation set."""
    rng = np.random.default_rng(seed)
    labels = dataset.hard_labels
    val_index = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        val_index.extend(members[: max(1, int(round(len(members) * fraction)))])
    is_val = np.zeros(len(dataset), bool)
    is_val[val_index] = True

    def subset(mask, suffix):
        return FaceDataset(dataset.images[mask], dataset.targets[mask], dataset.labels, f"{dataset.name}/{suffix}")

    return subset(~is_val, "train"), subset(is_val, "val")


def load_split(kind: str, data: str | Path, split: str, votes: str | Path | None = None,
               scheme: str = "majority", with_contempt: bool = False, on_error: str = "fail",
               crop=None, size: int | None = None) -> FaceDataset:
    """One split (train, val or test) of a data set given by layout name and path.

    ``expw``, and ``folder`` where the tree holds a ``faces.csv`` of face boxes, cut each face out by
    the crop rule ``crop`` (a :class:`emoscope.models.CropSpec`) at ``size`` pixels: give the model's
    (``classifier.info.crop``, its input height); by default the bundled model's.
    """
    data = Path(data)
    if kind == "expw" or (kind == "folder" and (data / FACE_TABLE).is_file()):
        if crop is None or size is None:
            from ..classification import read_model_info

            info = read_model_info()
            crop, size = crop or info.crop, size or info.input_size[0]
        return load_face_table(data, split, crop, size, on_error)
    if kind == "fer2013":
        return load_fer2013(data, split, on_error)
    if kind == "ferplus":
        if votes is None:
            raise DatasetError("FER+ needs --votes PATH/fer2013new.csv beside the FER2013 CSV")
        return load_ferplus(data, votes, split, scheme, with_contempt, on_error)
    if kind == "fer2013+ferplus":
        if votes is None:
            raise DatasetError("fer2013+ferplus needs --votes PATH/fer2013new.csv beside the FER2013 CSV")
        return load_fer2013_with_votes(data, votes, split, on_error)
    if kind == "folder":
        folder = next((data / name for name in _FOLDER_SPLIT_NAMES[split] if (data / name).is_dir()), None)
        return load_image_folder(folder if folder else data, on_error=on_error)
    if kind == "rafdb":
        return load_rafdb(data, "test" if split in ("val", "test") else "train", on_error=on_error)
    if kind == "affectnet":
        folder = next((data / name for name in _FOLDER_SPLIT_NAMES[split] if (data / name).is_dir()), data)
        return load_affectnet(folder, with_contempt=with_contempt, on_error=on_error)
    raise DatasetError(f"unknown data set layout {kind!r}; use one of {', '.join(DATASET_KINDS)}")


# Sub-folder names per split; the Kaggle FER2013 layout has only train/ and test/, so test/ validates there.
_FOLDER_SPLIT_NAMES = {"train": ("train", "training", "Training"), "val": ("val", "validation", "PublicTest", "test"),
                       "test": ("test", "PrivateTest", "val", "validation")}


def load_train_val(kind: str, data: str | Path, votes=None, scheme="majority", with_contempt=False,
                   on_error="fail", seed=0, crop=None, size=None,
                   holdout: bool = True) -> tuple[FaceDataset, FaceDataset | None]:
    """Training and validation splits; layouts without a validation split get a 10% stratified hold-out, or, with
    ``holdout=False`` (a data set added to one that validates), none: all of it trains and the split is None. A
    hold-out of a small added set would weigh its few faces in the choice of epoch like a whole data set."""
    train_set = load_split(kind, data, "train", votes, scheme, with_contempt, on_error, crop, size)
    has_val = kind in ("fer2013", "ferplus", "fer2013+ferplus", "expw") or (
        kind in ("folder", "affectnet") and any((Path(data) / n).is_dir() for n in _FOLDER_SPLIT_NAMES["val"]))
    if has_val:
        return train_set, load_split(kind, data, "val", votes, scheme, with_contempt, on_error, crop, size)
    return holdout_split(train_set, 0.1, seed) if holdout else (train_set, None)
