"""Image dimensions read from the first bytes of a file, without decoding it.

Every surface checks the pixel count here before OpenCV allocates anything, so a small file whose
header claims 65,500 x 65,500 pixels costs microseconds instead of gigabytes. Only the formats
EmoScope accepts are parsed; anything else gives None and is refused as unreadable.
"""
from __future__ import annotations

import struct

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...): not DHT, JPG or DAC.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG, BMP, WebP, TIFF, JPEG 2000 or PNM header; None when the
    bytes are none of those or the header is cut short or malformed."""
    data = bytes(data[:1 << 20])  # headers live near the start; never scan a whole upload
    try:
        for magic, parse in _PARSERS:
            if data.startswith(magic):
                size = parse(data)
                return size if size and size[0] > 0 and size[1] > 0 else None
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _png(data: bytes):
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes):
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            position += 2
            continue
        length = struct.unpack(">H", data[position + 2: position + 4])[0]
        if length < 2:
            return None
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[position + 5: position + 9])
            return width, height
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        position += 2 + length
    return None


def _bmp(data: bytes):
    header_size = struct.unpack("<I", data[14:18])[0]
    if header_size == 12:  # OS/2 BITMAPCOREHEADER
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows


def _webp(data: bytes):
    if data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = struct.unpack("<I", data[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def _tiff(data: bytes):
    order = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack(order + "I", data[4:8])[0]
    count = struct.unpack(order + "H", data[offset: offset + 2])[0]
    found = {}
    for index in range(count):
        entry = data[offset + 2 + 12 * index: offset + 14 + 12 * index]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT or LONG
            found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), entry[8:10] if kind == 3 else entry[8:12])[0]
    if 256 not in found or 257 not in found:
        return None
    return found[256], found[257]


def _jp2(data: bytes):
    at = data.find(b"ihdr")
    if at < 0:
        return None
    height, width = struct.unpack(">II", data[at + 4: at + 12])
    return width, height


def _j2k(data: bytes):  # a raw JPEG 2000 codestream: the SIZ marker follows SOC
    if data[2:4] != b"\xff\x51":
        return None
    width, height, x0, y0 = struct.unpack(">IIII", data[8:24])
    return width - x0, height - y0


def _pnm(data: bytes):
    fields, position = [], 2
    while len(fields) < 2:
        while position < len(data) and data[position:position + 1].isspace():
            position += 1
        if data[position:position + 1] == b"#":  # a comment runs to the end of the line
            position = data.index(b"\n", position)
            continue
        end = position
        while end < len(data) and data[end:end + 1].isdigit():
            end += 1
        if end == position or end - position > 9:
            return None
        fields.append(int(data[position:end]))
        position = end
    return fields[0], fields[1]


_PARSERS = (
    (b"\x89PNG\r\n\x1a\n", _png),
    (b"\xff\xd8", _jpeg),
    (b"BM", _bmp),
    (b"RIFF", _webp),
    (b"II*\x00", _tiff),
    (b"MM\x00*", _tiff),
    (b"\x00\x00\x00\x0cjP  ", _jp2),
    (b"\xff\x4f\xff\x51", _j2k),
    *((b"P" + str(n).encode(), _pnm) for n in range(1, 7)),
)
