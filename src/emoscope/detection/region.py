"""Detection inside one part of a frame only (``--region x,y,w,h``: a video call's tile)."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..types import Detections


def parse_region(text: str) -> tuple[int, int, int, int]:
    """``"x,y,w,h"`` in pixels -> a tuple; one clear error otherwise."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"region {text!r}: expected x,y,w,h as four whole numbers of pixels") from None
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise InputError(f"region {text!r}: x and y must be 0 or more, w and h more than 0")
    return x, y, w, h


class RegionDetector:
    """Runs ``inner`` on the part of each image inside ``region`` and maps the faces back to the
    whole image. A region reaching past the image is cut to it; one wholly outside finds nothing."""

    def __init__(self, inner, region: tuple[int, int, int, int]):
        self.inner = inner
        self.region = region
        self.name = inner.name
        self.settings = inner.settings

    def detect(self, image: np.ndarray, *options, **keywords) -> Detections:
        """Faces inside the region, in ``image``'s coordinates; the options go to the inner detector."""
        x, y, w, h = self.region
        part = image[y:y + h, x:x + w]
        if part.size == 0:
            return Detections.empty()
        found = self.inner.detect(part, *options, **keywords)
        if len(found):
            shift = np.array([x, y], np.float32)
            found.boxes[:, :2] += shift
            if found.landmarks is not None:
                found.landmarks += shift
        return found
