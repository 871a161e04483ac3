"""The one mask tracer (mrcnn.outlines) and the COCO polygons made from
it: positions, winding, holes, and masks that read back through pycocotools."""
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mrcnn.outlines import coco_polygons, mask_outlines, signed_area


def ring(shape=(40, 50), outer=(12, 20, 30, 41), inner=(17, 26, 24, 33)):
    mask = np.zeros(shape, bool)
    mask[outer[0]:outer[2], outer[1]:outer[3]] = True
    mask[inner[0]:inner[2], inner[1]:inner[3]] = False
    return mask


def test_outlines_sit_half_a_pixel_outside_the_pixels_in_image_coordinates():
    mask = ring()
    outer, hole = sorted(mask_outlines(mask), key=signed_area, reverse=True)
    # Rows 12..29, columns 20..40 -> x in [19.5, 40.5], y in [11.5, 29.5]
    np.testing.assert_allclose(outer.min(axis=0), [19.5, 11.5])
    np.testing.assert_allclose(outer.max(axis=0), [40.5, 29.5])
    assert signed_area(outer) > 0 > signed_area(hole)
    np.testing.assert_allclose(hole.min(axis=0), [25.5, 16.5])
    np.testing.assert_allclose(hole.max(axis=0), [32.5, 23.5])
    assert not np.allclose(outer[0], outer[-1])  # implicitly closed


def test_coco_polygons_read_back_as_the_mask_with_holes_filled():
    mask = ring()
    polygons = coco_polygons(mask, tolerance=0)
    assert len(polygons) == 1
    decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, *mask.shape)))
    filled = np.zeros_like(mask)
    filled[12:30, 20:41] = True
    assert (decoded.astype(bool) == filled).all()


@pytest.mark.parametrize("tolerance", [0, 0.5])
def test_a_mask_touching_the_border_and_single_pixels_are_closed(tolerance):
    mask = np.zeros((10, 12), bool)
    mask[0:4, 8:12] = True
    mask[9, 0] = True
    polygons = coco_polygons(mask, tolerance)
    assert len(polygons) == 2
    decoded = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, 10, 12)))
    if tolerance:
        # Simplified, the block may lose a corner pixel; the lone pixel stays.
        assert (decoded.astype(bool) != mask).sum() <= 4 and decoded[9, 0]
    else:
        assert (decoded.astype(bool) == mask).all()


def test_an_empty_mask_has_no_outline():
    assert mask_outlines(np.zeros((5, 5), bool)) == []
    assert coco_polygons(np.zeros((5, 5), bool)) == []
