"""Uploads are checked by content (decoded), not by name, and limited in size; a bad one is an
HTTPException, which the app answers as a JSON 4xx."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi import HTTPException, UploadFile

from ..errors import InputError
from ..io.images import decode_image


def decode_upload(data: bytes) -> np.ndarray:
    """Upload bytes -> BGR image, by content; HTTP 415 when they are not an image."""
    try:
        return decode_image(data)
    except InputError:
        raise HTTPException(415, "the upload is not a readable image") from None


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise too_large(limit)
    return data


def save_limited(source, target: Path, limit: int) -> None:
    """Copy an upload to ``target`` a chunk at a time (never whole in memory); 413 past ``limit`` bytes."""
    written = 0
    with open(target, "wb") as out:
        while chunk := source.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise too_large(limit)
            out.write(chunk)


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the upload is larger than {limit / 2**20:g} MB")
