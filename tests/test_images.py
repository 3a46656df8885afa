import struct
import zlib

import cv2
import numpy as np
import pytest

from emoscope import InputError
from emoscope.io.images import find_images, load_image, read_image, to_bgr8


def png_claiming_size(width: int, height: int) -> bytes:
    """A small valid PNG whose header says width x height (a decompression-bomb stand-in)."""
    data = bytearray(cv2.imencode(".png", np.zeros((2, 2), np.uint8))[1].tobytes())
    ihdr = bytearray(data[12:29])  # chunk type + 13 header bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def _write(tmp_path, name, payload: bytes):
    path = tmp_path / name
    path.write_bytes(payload)
    return path


def _encoded(ext):
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    return cv2.imencode(ext, image)[1].tobytes()


@pytest.mark.parametrize("name, payload, message", [
    ("empty.jpg", b"", "empty file"),
    ("page.jpg", b"<!doctype html><html><body>not an image</body></html>", "not a readable image"),
    ("truncated.png", _encoded(".png")[:200], "not a readable image"),
    ("huge.png", png_claiming_size(30000, 30000), "not a readable image"),
])
def test_bad_files_raise_input_error_with_the_path(tmp_path, name, payload, message):
    path = _write(tmp_path, name, payload)
    with pytest.raises(InputError, match=message) as error:
        read_image(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_truncated_jpeg_decodes_what_is_there_or_fails_cleanly(tmp_path):
    path = _write(tmp_path, "cut.jpg", _encoded(".jpg")[:-400])
    try:
        image = read_image(path)
    except InputError:
        return
    assert image.shape == (64, 64, 3)


def test_missing_file_and_folder_messages(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="is a folder"):
        read_image(tmp_path)


@pytest.mark.parametrize("array, shape", [
    (np.zeros((10, 12), np.uint8), (10, 12, 3)),
    (np.zeros((10, 12, 1), np.uint8), (10, 12, 3)),
    (np.zeros((10, 12, 4), np.uint8), (10, 12, 3)),
    (np.full((10, 12, 3), 65535, np.uint16), (10, 12, 3)),
    (np.ones((10, 12, 3), np.float32), (10, 12, 3)),
])
def test_arrays_of_every_layout_become_bgr8(array, shape):
    out = to_bgr8(array)
    assert out.shape == shape and out.dtype == np.uint8


def test_sixteen_bit_is_scaled_not_clipped():
    assert to_bgr8(np.full((2, 2), 32768, np.uint16))[0, 0, 0] == 128


@pytest.mark.parametrize("bad", [np.zeros((0, 5), np.uint8), np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4), np.int64)])
def test_unusable_arrays_are_refused(bad):
    with pytest.raises(InputError):
        to_bgr8(bad)


def test_sixteen_bit_png_file(tmp_path):
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), np.full((8, 8, 3), 1000, np.uint16))
    assert read_image(path).dtype == np.uint8


def test_exif_orientation_is_applied(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    image = PIL.new("RGB", (40, 20), "red")
    exif = PIL.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert read_image(path).shape[:2] == (40, 20)


def test_pil_images_are_converted_from_rgb():
    PIL = pytest.importorskip("PIL.Image")
    image, path = load_image(PIL.new("RGB", (4, 3), (255, 0, 0)))
    assert image.shape == (3, 4, 3) and image[0, 0].tolist() == [0, 0, 255] and path is None


def test_find_images_recurses_and_reports_empty_folders(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "a" / "b" / "x.png"), np.zeros((4, 4), np.uint8))
    (tmp_path / "a" / "notes.txt").write_text("hi")
    assert [p.name for p in find_images([tmp_path])] == ["x.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        find_images([tmp_path / "empty"])
