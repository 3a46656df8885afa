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


def _stripes(side, period=2):
    """Fine vertical stripes, ``period`` px: what a warp that skips pixels turns into a false pattern."""
    row = ((np.arange(side) // (period // 2)) % 2 * 255).astype(np.uint8)
    return np.ascontiguousarray(np.tile(row, (side, 1)))


def test_a_large_face_is_averaged_down_before_the_warp_and_lands_where_the_plain_warp_puts_it():
    """A 600-px face into a 64-px crop (9x smaller): fine stripes average to grey, as the eye sees them, instead
    of the speckle a bare bilinear warp samples from them; a smooth face lands in the same place either way."""
    import cv2

    box, spec = (100, 100, 600, 600), CropSpec(margin=0.05, align_eyes=False)
    crop = crop_face(_stripes(800), box, None, spec, (64, 64))
    bare = cv2.warpAffine(_stripes(800), crop_transform(box, None, spec, (64, 64)), (64, 64), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    assert abs(float(crop.mean()) - 127.5) < 6 and crop.std() < 20    # grey
    assert bare.std() > 60                                              # what the bare warp made of it

    yy, xx = np.mgrid[0:800, 0:800]
    smooth = (128 + 100 * np.sin(xx / 60.0) * np.cos(yy / 45.0)).astype(np.uint8)
    tilted = np.array([[300, 320], [500, 360], [400, 400], [320, 520], [480, 550]], np.float64)
    for landmarks, crop_spec in ((None, spec), (tilted, CropSpec(margin=0.05, align_eyes=True))):
        crop = crop_face(smooth, box, landmarks, crop_spec, (64, 64)).astype(int)
        bare = cv2.warpAffine(smooth, crop_transform(box, landmarks, crop_spec, (64, 64)), (64, 64),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).astype(int)
        assert np.abs(crop - bare).mean() < 1.5 and np.abs(crop - bare).max() < 12


def test_a_large_face_past_the_border_replicates_the_images_border():
    image = np.zeros((400, 400), np.uint8)
    image[:, 340:] = 200    # the image's right part is bright: past its border the crop goes on bright
    crop = crop_face(image, (200, 50, 300, 300), None, CropSpec(margin=0.1, align_eyes=False), (48, 48))
    assert crop.shape == (48, 48) and crop[:, -5:].mean() > 190 and crop[:, :10].mean() < 5


def test_a_small_or_moderate_shrink_is_the_plain_bilinear_warp():
    """Faces at most 2x the crop are cut exactly as before: FER2013's and ExpW's training crops among them (ExpW's
    faces, about 75 px, are cut at 64 or 96 px)."""
    import cv2

    image = np.random.default_rng(1).integers(0, 255, (300, 300), dtype=np.uint8)
    box, spec = (50, 60, 110, 110), CropSpec(margin=0.1, align_eyes=False)   # 132 px into 66: 2x
    matrix = crop_transform(box, None, spec, (66, 66))
    expected = cv2.warpAffine(image, matrix, (66, 66), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(crop_face(image, box, None, spec, (66, 66)), expected)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # crop_transform's arithmetic on NaN
def test_a_box_that_is_not_finite_is_cut_as_the_bare_warp_cuts_it():
    image = np.random.default_rng(2).integers(0, 255, (900, 900), dtype=np.uint8)
    for box in [(np.nan, 100, 600, 600), (np.inf, 100, 600, 600), (100, 100, np.nan, 600)]:
        assert crop_face(image, box, None, CropSpec(align_eyes=False), (64, 64)).shape == (64, 64)


def test_the_averaged_crop_is_right_to_its_edges():
    """Against the whole image averaged down, then warped: the crop's first and last rows and columns too (a part
    cut too tight would leave them to the border's replication)."""
    import cv2

    from emoscope.align import _WARP_SCALE_AFTER_AREA

    yy, xx = np.mgrid[0:1000, 0:1000]
    smooth = (128 + 100 * np.sin(xx / 40.0 + yy / 70.0)).astype(np.uint8)
    box, spec = (220, 180, 600, 600), CropSpec(margin=0.0, align_eyes=False)
    matrix = crop_transform(box, None, spec, (48, 48))
    factor = 48 / 600 / _WARP_SCALE_AFTER_AREA
    small = cv2.resize(smooth, (round(1000 * factor),) * 2, interpolation=cv2.INTER_AREA)
    f = small.shape[1] / 1000
    to_image = np.array([[1 / f, 0, 0.5 / f - 0.5], [0, 1 / f, 0.5 / f - 0.5], [0, 0, 1]])
    expected = cv2.warpAffine(small, matrix @ to_image, (48, 48), flags=cv2.INTER_LINEAR).astype(float)
    crop = crop_face(smooth, box, None, spec, (48, 48)).astype(float)
    for edge in (crop[0] - expected[0], crop[-1] - expected[-1], crop[:, 0] - expected[:, 0],
                 crop[:, -1] - expected[:, -1]):
        assert np.abs(edge).mean() < 1.0
