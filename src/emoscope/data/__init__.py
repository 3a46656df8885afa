"""Labelled face data sets in one in-memory form, for training and evaluation (numpy + OpenCV only)."""
from .dataset import DatasetError, FaceDataset, combine_datasets
from .splits import DATASET_KINDS, load_split, load_train_val

__all__ = ["DATASET_KINDS", "DatasetError", "FaceDataset", "combine_datasets", "load_split", "load_train_val"]
