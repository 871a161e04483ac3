"""imgaug augmenters (matterport compatibility), when imgaug is installed."""
import numpy as np
import pytest
from test_augmentation import COLORS, H, W, assert_aligned, scene

from mrcnn.boxes import extract_bboxes
from mrcnn.data.augmentation import augment, augmentation_from_config, import_imgaug

try:
    iaa = import_imgaug()
except ImportError:  # the optional extra is not installed
    pytest.skip("imgaug is not installed (pip install mrcnn[imgaug])", allow_module_level=True)


def test_shim_keeps_existing_numpy_names():
    assert np.bool is np.bool_  # NumPy 2 has np.bool again: left as it is
    assert isinstance(np.sctypes["float"], list)


@pytest.mark.parametrize("name", ["fliplr", "rot90", "affine_scale", "sequential_with_colour"])
def test_imgaug_masks_follow_the_image(name):
    augmenter = {
        "fliplr": iaa.Fliplr(1.0),
        # Rot90 was not on matterport's whitelist: its masks stayed put.
        "rot90": iaa.Rot90(1, keep_size=False),
        "affine_scale": iaa.Affine(scale=0.6, order=0),
        "sequential_with_colour": iaa.Sequential([iaa.Fliplr(1.0), iaa.Multiply(0.5)]),
    }[name]
    image, masks, class_ids = scene()
    out_image, out_masks, out_ids, dropped = augment(image, masks, class_ids, augmenter, stats=None)
    assert dropped == 0 and out_ids.tolist() == [1, 2, 1]
    colours = COLORS // 2 if name == "sequential_with_colour" else COLORS
    assert_aligned(out_image, out_masks, out_ids, colours)
    boxes = extract_bboxes(out_masks)
    if name == "fliplr":
        assert boxes[0].tolist() == [5, W - 30, 25, W - 8]
    if name == "rot90":  # clockwise: (y, x) -> (x, H - 1 - y)
        assert out_image.shape == (W, H, 3)
        assert boxes[0].tolist() == [8, H - 25, 30, H - 5]


def test_imgaug_vanished_and_random_choice_consistent():
    image, masks, class_ids = scene()
    away = iaa.Affine(translate_px={"x": -70})
    out_image, out_masks, out_ids, dropped = augment(image, masks, class_ids, away, stats=None)
    assert dropped == 2 and out_ids.tolist() == [1]
    assert_aligned(out_image, out_masks, out_ids, COLORS[[2]])
    # A random choice among geometric augmenters: image and masks get the same one.
    some = iaa.OneOf([iaa.Fliplr(1.0), iaa.Flipud(1.0), iaa.Rot90(1, keep_size=False)])
    outcomes = set()
    for _ in range(10):
        out_image, out_masks, out_ids, dropped = augment(image, masks, class_ids, some, stats=None)
        assert dropped == 0
        assert_aligned(out_image, out_masks, out_ids)
        outcomes.add(tuple(extract_bboxes(out_masks)[0]))
    assert len(outcomes) >= 2

def test_imgaug_from_config():
    class Cfg:
        AUGMENTATION = iaa.Fliplr(0.5)

    assert augmentation_from_config(Cfg()) is Cfg.AUGMENTATION
