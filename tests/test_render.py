"""Legible annotations: text never overlaps other text nor leaves the image, from 20-px to 2,000-px faces."""
import numpy as np
import pytest

from emoscope import EMOTIONS
from emoscope.render import draw_faces, layout
from emoscope.types import Face


def _face(x, y, side, seed=0):
    p = np.random.default_rng(seed).dirichlet(np.ones(len(EMOTIONS)))
    return Face((float(x), float(y), float(side), float(side)), 0.9, dict(zip(EMOTIONS, p.tolist())))


def crowd(count=30, width=1280, height=720, seed=0):
    """A class photo: ``count`` faces of 20 to 160 px in rows, some touching the edges."""
    rng = np.random.default_rng(seed)
    faces, x, y, row = [], 0.0, 0.0, 0.0
    while len(faces) < count:
        side = float(rng.uniform(20, 160))
        if x + side > width:
            x, y, row = 0.0, y + row + rng.uniform(0, 30), 0.0
        faces.append(_face(x, min(y, height - side), side, len(faces)))
        x, row = x + side + rng.uniform(0, 40), max(row, side)
    return faces


def _overlap(a, b):
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("style", ["bars", "label"])
@pytest.mark.parametrize("seed", range(5))
def test_a_crowd_of_30_gets_text_that_never_overlaps_or_leaves_the_image(style, seed):
    faces = crowd(seed=seed)
    blocks = layout(faces, 1280, 720, style, [f"#{i + 1}" for i in range(len(faces))])
    assert len(blocks) >= 20  # most faces get some text; the rest keep their coloured box
    for i, a in enumerate(blocks):
        x, y, w, h = a.rect
        assert x >= 0 and y >= 0 and x + w <= 1280 and y + h <= 720
        assert not any(_overlap(a.rect, b.rect) for b in blocks[i + 1:])
    image = draw_faces(np.full((720, 1280, 3), 128, np.uint8), faces, style)
    assert image.shape == (720, 1280, 3)


def test_a_lone_face_gets_its_panel_and_a_face_without_room_a_label():
    lone = layout([_face(100, 100, 120)], 640, 480)
    assert [b.kind for b in lone] == ["panel"] and len(lone[0].lines) == len(EMOTIONS)
    cornered = layout([_face(0, 0, 300)], 320, 320)  # fills the picture: no room for a panel
    assert [b.kind for b in cornered] == ["label"]


def test_panel_rows_that_read_the_same_keep_their_order_from_frame_to_frame():
    """Two frames of one face whose surprise and neutral both show 1% (0.7% and 0.6%, then 0.6% and 0.7%): the
    rows keep label order instead of swapping; a row whose shown percentage is higher goes first."""
    def panel(surprise, neutral):
        p = {"angry": 0.004, "disgust": 0.003, "fear": 0.002, "happy": 0.977, "sad": 0.001, "surprise": surprise,
             "neutral": neutral}
        face = Face((100.0, 100.0, 120.0, 120.0), 0.9, p)
        return [text.split()[0] for text, _ in layout([face], 640, 480)[0].lines]

    assert panel(0.007, 0.006) == panel(0.006, 0.007) == ["happy", "surprise", "neutral", "angry", "disgust", "fear",
                                                           "sad"]
    assert panel(0.004, 0.012)[:2] == ["happy", "neutral"]


@pytest.mark.parametrize("side, image_side", [(20, 640), (200, 1280), (2000, 4000)])
def test_text_size_follows_the_face_and_stays_legible(side, image_side):
    (block,) = layout([_face(image_side / 2 - side / 2, 10, side)], image_side, image_side, "label")
    text_height = block.rect[3]
    assert text_height >= 10                          # 20-px faces: still readable capitals
    assert text_height <= max(40, side * 0.4)        # big faces: big, but not bigger than the face


def test_box_style_draws_no_text_and_unknown_styles_are_refused():
    assert layout([_face(10, 10, 50)], 200, 200, "box") == []
    with pytest.raises(ValueError):
        layout([], 10, 10, "fancy")
