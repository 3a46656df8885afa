"""Annotators that draw results on a BGR frame and return it: boxes, labels, probability panels.

Text is laid out before it is drawn (:func:`layout`): each face gets its probability panel (style
``bars``) where there is room for it, else a compact label, else a shorter one, else its box
alone — placed below, above, beside or inside the box, never over another face's text and never
outside the image. Sizes follow each face and the image, so text stays legible from 20-px to
2,000-px faces.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .settings import ANNOTATION_STYLE
from .types import Face

# One colour per emotion (BGR), shared by every renderer and chart.
EMOTION_COLORS = {
    "angry": (48, 48, 220), "disgust": (60, 140, 60), "fear": (150, 60, 150), "happy": (40, 200, 250),
    "sad": (200, 120, 40), "surprise": (20, 140, 250), "neutral": (170, 170, 170), "contempt": (110, 110, 40),
}
STYLES = ("box", "label", "bars")
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MIN_SCALE = 0.35          # about 8-px capitals: the smallest text drawn


def _color(label: str) -> tuple[int, int, int]:
    return EMOTION_COLORS.get(label, (0, 220, 0))


@dataclass
class TextBlock:
    """Where one face's text goes: ``rect`` (x, y, w, h) in the image; ``lines`` of (text, probability
    or None); ``kind`` is ``panel`` (a line per emotion with bars) or ``label``."""

    face: int
    kind: str
    rect: tuple[int, int, int, int]
    lines: list[tuple[str, float | None]]
    scale: float
    thickness: int
    line_height: int


def _scale(face: Face, base: int) -> float:
    """Text size for a face: with the face, within what the image can show legibly."""
    return float(np.clip(face.box[2] / 150, max(_MIN_SCALE, base / 2400), max(0.5, base / 700)))


def _block_size(lines: list[str], scale: float, thickness: int) -> tuple[int, int, int]:
    """Width, height and line height of a block of text lines with a small margin."""
    sizes = [cv2.getTextSize(text, _FONT, scale, thickness)[0] for text in lines]
    line_height = max(h for _, h in sizes) + max(4, int(10 * scale))
    margin = max(2, int(4 * scale))
    return max(w for w, _ in sizes) + 2 * margin, line_height * len(lines) + margin, line_height


def _candidates(box, size: tuple[int, int], gap: int, inside: bool):
    """Places for a block of ``size`` around a face box, best first: below, above, right, left
    (centred, then aligned to either side); then, where ``inside``, in the box's top corner."""
    x, y, w, h = box
    bw, bh = size
    cx = x + w / 2 - bw / 2
    spots = [(cx, y + h + gap), (cx, y - gap - bh), (x + w + gap, y), (x - gap - bw, y),
             (x, y + h + gap), (x + w - bw, y + h + gap), (x, y - gap - bh), (x + w - bw, y - gap - bh)]
    return spots + [(x, y)] if inside else spots


def _intersects(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def layout(faces: list[Face], width: int, height: int, style: str = ANNOTATION_STYLE,
           prefixes: list[str] | None = None) -> list[TextBlock]:
    """Text blocks for the faces, none overlapping another or leaving the image; a face for which
    no place is found keeps its box only. Bigger faces are placed first."""
    if style not in STYLES:
        raise ValueError(f"style is one of {', '.join(STYLES)}")
    if style == "box":
        return []
    base = max(width, height)
    boxes = [tuple(int(round(v)) for v in face.box) for face in faces]
    placed: list[TextBlock] = []
    for index in sorted(range(len(faces)), key=lambda i: -faces[i].box[2]):
        face, prefix = faces[index], f"{prefixes[index]} " if prefixes else ""
        scale = _scale(face, base)
        thickness = max(1, int(round(scale * 1.5)))
        options = []
        if style == "bars":
            header = [(f"{prefix}{face.emotion}", None)] if prefix else []
            # ranked by the percentage shown, ties in label order: rows that read the same never swap places
            # from one frame to the next
            ranked = sorted(face.probabilities.items(), key=lambda kv: -round(float(kv[1]) * 100))
            options.append(("panel", header + [(f"{k} {p:.0%}", p) for k, p in ranked]))
        options += [("label", [(f"{prefix}{face.emotion} {face.confidence:.0%}", None)]),
                    ("label", [(f"{prefix}{face.emotion[:3]}", None)])]
        for kind, lines in options:
            block_scale = scale * (0.8 if kind == "panel" else 1.0)
            bw, bh, line_height = _block_size([t for t, _ in lines], block_scale, thickness)
            spot = _free_spot(_candidates(boxes[index], (bw, bh), max(2, int(4 * scale)), inside=kind == "label"),
                              (bw, bh), width, height, placed, boxes, index)
            if spot is not None:
                placed.append(TextBlock(index, kind, (*spot, bw, bh), lines, block_scale, thickness, line_height))
                break
    return placed


def _free_spot(candidates, size, width, height, placed, boxes, own: int):
    """The first candidate place inside the image, clear of placed text and of other faces."""
    for x, y in candidates:
        rect = (int(x), int(y), *size)
        if rect[0] < 0 or rect[1] < 0 or rect[0] + rect[2] > width or rect[1] + rect[3] > height:
            continue
        if any(_intersects(rect, block.rect) for block in placed):
            continue
        if any(i != own and _intersects(rect, other) for i, other in enumerate(boxes)):
            continue
        return rect[:2]
    return None


def draw_faces(image: np.ndarray, faces: list[Face], style: str = ANNOTATION_STYLE,
               labels_prefix: list[str] | None = None) -> np.ndarray:
    """Draw every face onto a copy of ``image`` (BGR) and return it: boxes in the emotion's colour,
    and text as :func:`layout` places it (``style``: ``box``, ``label`` or ``bars``)."""
    canvas = image.copy()
    height, width = canvas.shape[:2]
    for face in faces:
        x, y, w, h = (int(round(v)) for v in face.box)
        thickness = max(1, int(round(max(w / 60, max(width, height) / 800))))
        cv2.rectangle(canvas, (x, y), (x + w, y + h), _color(face.emotion), thickness, cv2.LINE_AA)
    for block in layout(faces, width, height, style, labels_prefix):
        _draw_block(canvas, block, faces[block.face])
    return canvas


def _draw_block(canvas: np.ndarray, block: TextBlock, face: Face) -> None:
    x, y, w, h = block.rect
    region = canvas[y:y + h, x:x + w]
    region[:] = (region * 0.25).astype(np.uint8)                     # a dark backing: text reads on any picture
    margin = max(2, int(4 * block.scale))
    for row, (text, probability) in enumerate(block.lines):
        top = y + row * block.line_height
        color = (255, 255, 255)
        if probability is None:
            color = _color(face.emotion)
        else:
            label = text.rsplit(" ", 1)[0]
            bar, thick = int((w - 2 * margin) * probability), max(2, block.line_height // 5)
            bottom = top + block.line_height - 1                       # a bar under the text, in the emotion's colour
            cv2.rectangle(canvas, (x + margin, bottom - thick), (x + margin + max(bar, 1), bottom), _color(label), -1)
        baseline = top + block.line_height - max(4, block.line_height // 4)
        cv2.putText(canvas, text, (x + margin, baseline), _FONT, block.scale, (0, 0, 0), block.thickness + 2, cv2.LINE_AA)
        cv2.putText(canvas, text, (x + margin, baseline), _FONT, block.scale, color, block.thickness, cv2.LINE_AA)
