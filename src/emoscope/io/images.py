"""Images in, as BGR uint8: paths (EXIF orientation applied), numpy arrays, PIL images.

Arrays are taken as OpenCV's BGR (or BGRA / gray); PIL images are converted from their own RGB.
16-bit images are scaled to 8 bits. Files over ``MAX_PIXELS`` are refused before decoding
(OpenCV's own check, which ``import emoscope`` sets to 250 megapixels when it comes before ``import cv2``).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our own errors say what went wrong
MAX_PIXELS = int(os.environ.get("CV_IO_MAX_IMAGE_PIXELS", 1 << 30))  # set by emoscope/__init__ unless cv2 came first

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".pbm")


def to_bgr8(array: np.ndarray) -> np.ndarray:
    """Any gray/BGR/BGRA array of uint8, uint16 or float in [0, 1] -> contiguous BGR uint8."""
    array = np.asarray(array)
    if array.size == 0 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InputError(f"not an image array: shape {array.shape}")
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    elif array.dtype.kind == "f":
        array = (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif array.dtype == bool:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        raise InputError(f"unsupported image dtype {array.dtype}")
    if array.ndim == 2 or array.shape[2] == 1:
        return cv2.cvtColor(array.reshape(array.shape[:2]), cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        return cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(array)


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to BGR uint8 with its EXIF orientation applied; InputError if it cannot be."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    return decode_image(np.fromfile(path, dtype=np.uint8), str(path))


def decode_image(data, name: str = "image") -> np.ndarray:
    """Encoded image bytes (any format OpenCV reads) -> BGR uint8; InputError naming ``name`` if they are not one."""
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray)) else data
    image = cv2.imdecode(buffer, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR) if len(buffer) else None
    if image is None:
        raise InputError(f"{name}: not a readable image (unknown format, truncated, or over {MAX_PIXELS:,} pixels)")
    return to_bgr8(image)


def load_image(source) -> tuple[np.ndarray, str | None]:
    """(BGR uint8 image, path or None) from a path, a numpy array or a PIL image."""
    if isinstance(source, (str, Path)):
        return read_image(source), str(source)
    if isinstance(source, np.ndarray):
        return to_bgr8(source), None
    if hasattr(source, "mode") and hasattr(source, "size"):  # a PIL image, without importing PIL
        rgb = np.asarray(source.convert("RGBA" if "A" in source.mode else "RGB"))
        code = cv2.COLOR_RGBA2BGR if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR
        return cv2.cvtColor(rgb, code), getattr(source, "filename", None) or None
    raise InputError(f"cannot read an image from {type(source).__name__}")


def find_images(paths) -> list[Path]:
    """Expand files and folders (recursively) into image files, sorted; InputError when nothing is found."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise InputError(f"{path}: no images in this folder")
            found += inside
        elif path.exists():
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return found
