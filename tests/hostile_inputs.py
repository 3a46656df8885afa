"""A generator of malformed and hostile inputs for every surface (tests/test_hostile.py).

Each image case is a file to lay out in a folder: its bytes (or a link, a FIFO, a folder) and what
a right answer is: ``ok`` (an image of ``size``), ``error`` (a clear one), or ``either`` (a truncated
file that a decoder may still read in part). All bytes are built here, seeded, in milliseconds.
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

RNG_SEED = 10


@dataclass(frozen=True)
class Case:
    name: str                       # file name inside the case folder
    data: bytes | None = None       # the file's bytes; None for the special kinds
    kind: str = "file"              # file | broken-link | loop-link | device-link | fifo | folder
    expect: str = "error"           # ok | error | either
    size: tuple[int, int] | None = None   # (width, height) when ok

    def make(self, folder: Path) -> Path:
        path = folder / self.name
        if self.kind == "file":
            path.write_bytes(self.data)
        elif self.kind == "broken-link":
            path.symlink_to(folder / "no-such-target.png")
        elif self.kind == "loop-link":
            path.symlink_to(path)
        elif self.kind == "device-link":
            path.symlink_to("/dev/zero")  # endless bytes: must be refused, not read
        elif self.kind == "fifo":
            os.mkfifo(path)  # reading would block forever
        elif self.kind == "folder":
            path.mkdir()
        return path


def _image(width: int, height: int, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(width * 7919 + height)
    high = 65535 if dtype == np.uint16 else 255
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, high, shape, dtype=dtype)


def encoded(ext: str, width: int = 48, height: int = 32, channels: int = 3, dtype=np.uint8) -> bytes:
    return cv2.imencode(ext, _image(width, height, channels, dtype))[1].tobytes()


def png_claiming(width: int, height: int) -> bytes:
    """A valid small PNG whose header (CRC fixed) claims width x height."""
    data = bytearray(encoded(".png", 2, 2, 1))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims width x height (the rest is the small image's)."""
    data = bytearray(encoded(".jpg", 16, 16))
    at = data.index(b"\xff\xc0")
    data[at + 5: at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(encoded(".bmp", 4, 4))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """An extended (VP8X) WebP header claiming width x height, with no image data after it."""
    chunk = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + \
        (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def tiff_claiming(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, width * height)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", 8 + 0) + ifd


def pnm_claiming(width: int, height: int) -> bytes:
    return f"P5\n# a comment\n{width} {height}\n255\n".encode() + b"\x80" * 64


BOMBS = [(30000, 30000), (65500, 65500), (2**31 - 1, 1), (1, 2**31 - 1), (16383, 16383), (20000, 12501),
         (16384, 15300), (250_000_001, 1)]
FORMATS = (".png", ".jpg", ".bmp", ".webp", ".tif", ".jp2", ".ppm")
NOT_IMAGES = {
    "html": b"<!doctype html><html><body>not an image</body></html>",
    "json": b'{"image": "no"}',
    "text": b"just some text\n" * 20,
    "pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
    "zip": b"PK\x03\x04" + bytes(60),
    "elf": b"\x7fELF\x02\x01\x01" + bytes(57),
    "gif": b"GIF89a\x10\x00\x10\x00\x80\x00\x00" + bytes(40),
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>',
    "nul": bytes(256),
}


def image_cases() -> list[Case]:
    """Every image-file case: about 250 of them."""
    cases: list[Case] = []
    rng = np.random.default_rng(RNG_SEED)
    # zero bytes under every accepted name
    cases += [Case(f"zero{ext}", b"") for ext in (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2",
                                                 ".pgm", ".ppm", ".pbm")]
    # truncated at every interesting point, in every format
    for ext in FORMATS:
        whole = encoded(ext)
        for cut in (1, 2, 8, 16, 24, 33, 64, len(whole) // 2, len(whole) - 16, len(whole) - 1):
            if 0 < cut < len(whole):
                expect = "error" if cut <= 64 else "either"
                cases.append(Case(f"cut{cut}{ext}", whole[:cut], expect=expect))
        # a flipped byte run in the middle: a decoder may or may not notice
        damaged = bytearray(whole)
        middle = len(damaged) // 2
        damaged[middle: middle + 16] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
        cases.append(Case(f"damaged{ext}", bytes(damaged), expect="either"))
    # header bombs in every format whose header can claim a size
    for width, height in BOMBS:
        tag = f"{width}x{height}"
        cases += [Case(f"bomb-{tag}.png", png_claiming(width, height)),
                  Case(f"bomb-{tag}.bmp", bmp_claiming(width, height)),
                  Case(f"bomb-{tag}.tif", tiff_claiming(width, height)),
                  Case(f"bomb-{tag}.pgm", pnm_claiming(width, height))]
        if width < 65536 and height < 65536:
            cases.append(Case(f"bomb-{tag}.jpg", jpeg_claiming(width, height)))
        if width <= 16384 and height <= 16384:
            cases.append(Case(f"bomb-{tag}.webp", webp_claiming(width, height)))
    cases += [Case("zero-size.png", png_claiming(0, 0)), Case("zero-size.jpg", jpeg_claiming(0, 0)),
              Case("zero-width.bmp", bmp_claiming(0, 5))]
    # wrong type under an image name, and random bytes
    for label, payload in NOT_IMAGES.items():
        cases += [Case(f"{label}.jpg", payload), Case(f"{label}.png", payload), Case(f"{label}.webp", payload)]
    cases += [Case(f"random{i}.{ext}", rng.integers(0, 256, int(rng.integers(1, 4096)), dtype=np.uint8).tobytes())
              for i, ext in enumerate(["jpg", "png", "bmp", "webp", "tif"] * 3)]
    # a right image behind a wrong name (read by content)
    cases += [Case("png-named.jpg", encoded(".png"), expect="ok", size=(48, 32)),
              Case("jpeg-named.png", encoded(".jpg"), expect="ok", size=(48, 32))]
    # odd sizes and modes: all right images
    for width, height in ((1, 1), (1, 300), (300, 1), (3, 4000), (4000, 3), (2, 2), (1, 2), (7, 5), (1000, 1)):
        cases.append(Case(f"size-{width}x{height}.png", encoded(".png", width, height), expect="ok",
                          size=(width, height)))
    for label, ext, channels, dtype in (("gray", ".png", 1, np.uint8), ("rgba", ".png", 4, np.uint8),
                                        ("deep", ".png", 3, np.uint16), ("deepgray", ".png", 1, np.uint16),
                                        ("gray", ".jpg", 1, np.uint8), ("rgba", ".webp", 4, np.uint8),
                                        ("deep", ".tif", 3, np.uint16), ("gray", ".pgm", 1, np.uint8),
                                        ("bits", ".pbm", 1, np.uint8), ("gray", ".bmp", 1, np.uint8)):
        cases.append(Case(f"mode-{label}{ext}", encoded(ext, 40, 30, channels, dtype), expect="ok", size=(40, 30)))
    # odd names, all right images
    good = encoded(".png", 20, 10)
    for name in ("ünïcødé-😀.png", "with space.png", "new\nline.png", "-starts-with-dash.png", "x" * 240 + ".png",
                 "..dots...png", "UPPER.PNG", "tab\there.png", "quote'\"`$(x).png", "back\\slash.png"):
        cases.append(Case(name, good, expect="ok", size=(20, 10)))
    # links, devices, pipes and folders where an image should be
    cases += [Case("broken-link.png", kind="broken-link"), Case("loop-link.png", kind="loop-link"),
              Case("zero-device.png", kind="device-link"), Case("pipe.png", kind="fifo"),
              Case("folder.png", kind="folder")]
    return cases


def video_cases(clip: bytes) -> list[Case]:
    """Corrupt containers and wrong types under video names, from a good clip's bytes."""
    rng = np.random.default_rng(RNG_SEED + 1)
    cases = [Case("zero.mp4", b""), Case("text.mp4", b"not a video\n" * 50),
             Case("image.mp4", encoded(".png"), expect="either"),  # FFmpeg reads a PNG as a 1-frame video
             Case("random.mkv", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()),
             Case("header-only.mp4", clip[:64]), Case("html.webm", NOT_IMAGES["html"])]
    for fraction in (0.3, 0.6, 0.95):
        cases.append(Case(f"cut{int(fraction * 100)}.mp4", clip[: int(len(clip) * fraction)], expect="either"))
    damaged = bytearray(clip)
    damaged[len(clip) // 3: len(clip) // 3 + 512] = rng.integers(0, 256, 512, dtype=np.uint8).tobytes()
    cases.append(Case("damaged.mp4", bytes(damaged), expect="either"))
    return cases


def websocket_messages(bomb: bytes, limit: int) -> list[tuple[str, object]]:
    """(kind, payload) live messages that must each get an ``{"error": ...}`` answer."""
    import base64
    import json

    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    texts = ["", "not json", "{", "[]", "null", "42", '"a string"', "{}", '{"image": null}', '{"image": 5}',
             '{"image": []}', '{"image": {"nested": 1}}', '{"image": "!!!not base64!!!"}',
             '{"image": "data:image/jpeg;base64,"}', '{"picture": "abc"}', "\u0000\u0001\u0002",
             json.dumps({"image": "data:image/png;base64," + b64(b"<html>")}),
             json.dumps({"image": b64(bomb)}), json.dumps({"image": b64(NOT_IMAGES["pdf"])}),
             json.dumps({"image": "data:image/jpeg;base64," + "A" * (limit * 4 // 3 + 8)})]
    blobs = [b"", b"\x00", NOT_IMAGES["html"], bomb, encoded(".png")[:40], encoded(".jpg")[:100],
             NOT_IMAGES["zip"], b"\xff" * (limit + 1)]
    return [("text", t) for t in texts] + [("bytes", b) for b in blobs]


TRAVERSALS = ["/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/%2e%2e/settings.py",
              "/static/....//app.py", "/static/%252e%252e/app.py", "/static//etc/passwd",
              "/swagger/../../../../etc/passwd", "/swagger/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
              "/api/videos/..%2F..%2Fetc%2Fpasswd", "/api/videos/x/..%2F..%2F..%2Fetc%2Fpasswd",
              "/api/videos/x/%00", "/api/videos/%2e%2e/summary.json", "/static/common.js%00.html",
              "/api/videos/x/upload", "/static/\\..\\app.py"]
