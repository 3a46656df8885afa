"""Images in, as BGR uint8: paths (EXIF orientation applied), numpy arrays, PIL images.

Arrays are taken as OpenCV's BGR (or BGRA / gray); PIL images are converted from their own RGB.
16-bit images are scaled to 8 bits. Encoded images over ``MAX_PIXELS`` are refused from their
header, before decoding (see ``image_header``), on every surface: files, uploads, live frames.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from .image_header import image_size

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # our own errors say what went wrong
MAX_PIXELS = 250_000_000  # the one limit on an image's pixel count (a 16,000 x 15,600 photo)

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
    try:
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not an image")
        if not path.exists():
            raise InputError(f"{path}: " + ("a broken or looping link" if path.is_symlink() else "no such file"))
        if not path.is_file():  # a FIFO or a device would block or never end
            raise InputError(f"{path}: not a regular file")
        if path.stat().st_size == 0:
            raise InputError(f"{path}: empty file")
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:  # unreadable, a link loop, a name too long, a device
        raise InputError(f"{path}: {error.strerror or error}") from None
    return decode_image(data, str(path))


def check_pixels(data, name: str = "image") -> tuple[int, int]:
    """(width, height) from the header of encoded image bytes; InputError when the header cannot
    be read or claims more than ``MAX_PIXELS`` — before anything is decoded."""
    size = image_size(memoryview(data)[:1 << 20])
    if size is None:
        raise InputError(f"{name}: not a readable image (not PNG, JPEG, BMP, WebP, TIFF, JPEG 2000 or PNM, "
                         "or its header is damaged)")
    if size[0] * size[1] > MAX_PIXELS:
        raise InputError(f"{name}: not a readable image: {size[0]:,} x {size[1]:,} pixels is over the limit "
                         f"of {MAX_PIXELS:,}")
    return size


def decode_image(data, name: str = "image") -> np.ndarray:
    """Encoded image bytes -> BGR uint8, its pixel count checked first; InputError naming ``name``
    if they are not a readable image."""
    buffer = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    check_pixels(buffer.data if isinstance(buffer, np.ndarray) else buffer, name)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error:
        image = None
    if image is None:
        raise InputError(f"{name}: not a readable image (truncated or damaged)")
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


def walk_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Everything but folders under ``folder`` with one of ``suffixes``, sorted. Linked folders are
    not entered (no loops); folders that cannot be read are passed over; a broken link is listed so
    that reading it reports it."""
    found = []
    for root, _dirs, names in os.walk(folder):
        found += [Path(root, name) for name in names if Path(name).suffix.lower() in suffixes]
    return sorted(found)


def find_images(paths) -> list[Path]:
    """Expand files and folders (recursively) into image files, sorted; InputError when nothing is found."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = walk_files(path, IMAGE_SUFFIXES)
            if not inside:
                raise InputError(f"{path}: no images in this folder")
            found += inside
        elif path.exists() or path.is_symlink():  # a broken link is reported when it is read
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return found
