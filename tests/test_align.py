import math

import numpy as np
import pytest

from emoscope.align import crop_face, crop_transform
from emoscope.models import CropSpec


def _apply(matrix, point):
    return matrix @ np.array([point[0], point[1], 1.0])


@pytest.mark.parametrize("margin, shift_y", [(0.0, 0.0), (0.2, 0.0), (0.1, 0.1)])
def test_box_centre_lands_at_crop_centre(margin, shift_y):
    spec = CropSpec(margin=margin, shift_y=shift_y, align_eyes=False)
    matrix = crop_transform((100, 50, 80, 80), None, spec, (48, 48))
    side = 80 * (1 + 2 * margin)
    centre = _apply(matrix, (140, 90 + shift_y * side))
    np.testing.assert_allclose(centre, (24, 24), atol=1e-6)
    # the square's side spans the whole crop
    np.testing.assert_allclose(_apply(matrix, (140 + side / 2, 90 + shift_y * side))[0], 48, atol=1e-6)


def test_eye_alignment_levels_tilted_eyes():
    angle = math.radians(20)
    centre = np.array([200.0, 200.0])
    offset = 30 * np.array([math.cos(angle), math.sin(angle)])
    landmarks = np.array([centre - offset, centre + offset, centre, centre, centre])
    matrix = crop_transform((170, 170, 60, 60), landmarks, CropSpec(align_eyes=True), (64, 64))
    right, left = _apply(matrix, landmarks[0]), _apply(matrix, landmarks[1])
    assert abs(right[1] - left[1]) < 1e-6 and left[0] > right[0]


def test_crop_has_the_requested_size_even_past_the_border():
    image = np.random.default_rng(0).integers(0, 255, (100, 100), dtype=np.uint8)
    crop = crop_face(image, (-20, -20, 60, 60), None, CropSpec(), (48, 40))
    assert crop.shape == (48, 40)
