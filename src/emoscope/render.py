"""Annotators that draw results on a BGR frame and return it: boxes, labels, probability bars.

Sizes follow the image (and each face) so overlays stay legible from thumbnails to 4K.
"""
from __future__ import annotations

import cv2
import numpy as np

from .types import Face

# One colour per emotion (BGR), shared by every renderer and chart.
EMOTION_COLORS = {
    "angry": (48, 48, 220), "disgust": (60, 140, 60), "fear": (150, 60, 150), "happy": (40, 200, 250),
    "sad": (200, 120, 40), "surprise": (20, 140, 250), "neutral": (170, 170, 170), "contempt": (110, 110, 40),
}
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _color(label: str) -> tuple[int, int, int]:
    return EMOTION_COLORS.get(label, (0, 220, 0))


def _text(image, text, origin, scale, color, thickness):
    cv2.putText(image, text, origin, _FONT, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, origin, _FONT, scale, color, thickness, cv2.LINE_AA)


def draw_faces(image: np.ndarray, faces: list[Face], bars: bool = True, labels_prefix: list[str] | None = None) -> np.ndarray:
    """Draw every face onto a copy of ``image`` (BGR) and return it."""
    canvas = image.copy()
    height, width = canvas.shape[:2]
    base = max(height, width)
    for index, face in enumerate(faces):
        x, y, w, h = (int(round(v)) for v in face.box)
        color = _color(face.emotion)
        thickness = max(1, int(round(max(w, base * 0.35) / 150)))
        cv2.rectangle(canvas, (x, y), (x + w, y + h), color, thickness, cv2.LINE_AA)
        scale = max(0.4, min(2.5, max(w, base / 12) / 160))
        text_thickness = max(1, int(round(scale * 1.5)))
        prefix = f"{labels_prefix[index]} " if labels_prefix else ""
        label = f"{prefix}{face.emotion} {face.confidence:.0%}"
        (tw, th), baseline = cv2.getTextSize(label, _FONT, scale, text_thickness)
        ty = y - 6 if y - th - 6 > 0 else y + th + 6
        _text(canvas, label, (x, ty), scale, color, text_thickness)
        if bars:
            _draw_bars(canvas, face, w, base)
    return canvas


def _draw_bars(canvas: np.ndarray, face: Face, box_width: int, base: int) -> None:
    """One bar per label under the face box (where the torso usually is, not another face)."""
    height, width = canvas.shape[:2]
    x, y, w, h = (int(round(v)) for v in face.box)
    bar_width = max(box_width, int(base / 12), 60)
    row = max(9, int(bar_width / 7))
    font_scale = row / 26
    left = min(max(0, x + w // 2 - bar_width // 2), max(0, width - bar_width))
    top = y + h + 4
    for row_index, (name, p) in enumerate(face.probabilities.items()):
        y0 = top + row_index * (row + 1)
        if y0 + row > height:
            break
        region = canvas[y0: y0 + row, left: left + bar_width]
        region[:] = (region * 0.35).astype(np.uint8)
        cv2.rectangle(canvas, (left, y0), (left + int(bar_width * p), y0 + row), _color(name), -1)
        _text(canvas, f"{name} {p:.0%}", (left + 2, y0 + row - max(1, row // 6)), font_scale, (255, 255, 255), 1)
