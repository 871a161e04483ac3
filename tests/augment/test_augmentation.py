"""Augmentation keeps masks aligned with the image, recomputes boxes, counts vanished instances."""
import cv2
import numpy as np
import pytest

from mrcnn.boxes import extract_bboxes
from mrcnn.data import augmentation as aug_mod
from mrcnn.data.augmentation import (
    AugmentationStats,
    augment,
    augmentation_from_config,
    default_augmentation,
)

A = pytest.importorskip("albumentations")

H, W = 60, 80
COLORS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
BACKGROUND = (10, 10, 10)


def scene():
    """Three instances, each painted in its own colour on a dark image."""
    image = np.empty((H, W, 3), np.uint8)
    image[:] = BACKGROUND
    masks = np.zeros((H, W, 3), bool)
    masks[5:25, 8:30, 0] = True
    masks[30:55, 20:35, 1] = True
    masks[10:20, 65:78, 2] = True
    for i in range(3):
        image[masks[..., i]] = COLORS[i]
    return image, masks, np.array([1, 2, 1], np.int32)


def assert_aligned(image, masks, class_ids, colours=COLORS[[0, 1, 2]]):
    """Every pixel under mask i has colour i; no pixel of that colour lies outside."""
    assert image.shape[:2] == masks.shape[:2] and masks.dtype == bool
    for i in range(masks.shape[-1]):
        assert masks[..., i].any()
        under = image[masks[..., i]]
        assert (under == colours[i]).all(), f"instance {i}: pixels under the mask differ"
        coloured = (image == colours[i]).all(-1)
        assert not (coloured & ~masks[..., i]).any(), f"instance {i}: colour outside the mask"


NEAREST = {"interpolation": cv2.INTER_NEAREST}


@pytest.mark.parametrize("name,transform", [
    ("flip", A.HorizontalFlip(p=1.0)),
    ("rotate90", A.Affine(rotate=90, p=1.0, **NEAREST)),
    ("scale", A.Compose([A.Affine(scale=0.6, p=1.0, **NEAREST)])),
    ("flip+brightness", A.Compose([A.HorizontalFlip(p=1.0),
                                   A.RandomBrightnessContrast((0.2, 0.2), (0, 0), p=1.0)])),
])
def test_albumentations_masks_follow_the_image(name, transform):
    image, masks, class_ids = scene()
    out_image, out_masks, out_ids, dropped = augment(image, masks, class_ids, transform, stats=None)
    colours = COLORS
    if name == "flip+brightness":  # the colour changes, the masks must not notice
        colours = np.array([out_image[out_masks[..., i]][0] for i in range(3)])
        assert not (colours == COLORS).all()
    assert dropped == 0 and out_ids.tolist() == [1, 2, 1]
    assert_aligned(out_image, out_masks, out_ids, colours)
    boxes = extract_bboxes(out_masks)
    if name.startswith("flip"):
        # x1' = W - x2: the square at x 8..30 goes to 50..72.
        assert boxes[0].tolist() == [5, W - 30, 25, W - 8]
    if name == "scale":
        area = masks.sum((0, 1))
        assert out_masks.sum((0, 1)) == pytest.approx(area * 0.36, rel=0.25)


def test_vanished_instances_are_dropped_and_counted():
    image, masks, class_ids = scene()
    stats = AugmentationStats()
    crop = A.Crop(x_min=0, y_min=0, x_max=50, y_max=60, p=1.0)  # the blue square is cut off
    out_image, out_masks, out_ids, dropped = augment(image, masks, class_ids, crop, stats=stats)
    assert dropped == 1 and out_ids.tolist() == [1, 2]
    assert out_image.shape == (60, 50, 3) and out_masks.shape == (60, 50, 2)
    assert_aligned(out_image, out_masks, out_ids)
    away = A.Affine(translate_px={"x": 200, "y": 0}, p=1.0)
    _, gone_masks, gone_ids, gone = augment(image, masks, class_ids, away, stats=stats)
    assert gone == 3 and gone_masks.shape == (H, W, 0) and gone_ids.shape == (0,)
    assert stats.as_dict() == {"images": 2, "instances": 6, "dropped_instances": 4,
                               "images_with_drops": 2, "images_emptied": 1,
                               # augment() alone resizes nothing
                               "resize_images": 0, "resize_instances": 0, "resize_dropped": 0,
                               "images_with_resize_drops": 0}
    assert stats.summary() == ("augmentation: 4 of 6 instances vanished (66.67%) in 2 of 2 "
                               "images; 1 images lost all their instances")


def test_each_epoch_says_what_augmentation_lost(caplog):
    from mrcnn.training.callbacks import AugmentationSummary

    stats = AugmentationStats()
    stats.record(instances=3, dropped=0)  # before training: not this epoch's
    summary = AugmentationSummary(stats)
    image, masks, class_ids = scene()
    crop = A.Crop(x_min=0, y_min=0, x_max=50, y_max=60, p=1.0)
    away = A.Affine(translate_px={"x": 200, "y": 0}, p=1.0)
    with caplog.at_level("INFO", logger="mrcnn.training.callbacks"):
        summary.on_epoch_begin(0)
        augment(image, masks, class_ids, crop, stats=stats)
        augment(image, masks, class_ids, away, stats=stats)
        first = {}
        summary.on_epoch_end(0, first)
        summary.on_epoch_begin(1)
        augment(image, masks, class_ids, A.HorizontalFlip(p=1.0), stats=stats)
        second = {}
        summary.on_epoch_end(1, second)
    assert first["augmentation_dropped"] == pytest.approx(4 / 6)
    assert second["augmentation_dropped"] == 0.0
    assert first["resize_dropped"] == second["resize_dropped"] == 0.0
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["Epoch 1 augmentation: 4 of 6 instances vanished (66.67%) in 2 of 2 images; "
                     "1 images lost all their instances",
                     "Epoch 2 augmentation: 1 images, 3 instances, none vanished"]


def test_module_counter_and_no_instances():
    image, masks, class_ids = scene()
    aug_mod.AUGMENTATION_STATS.reset()
    out = augment(image, masks[..., :0], class_ids[:0], A.HorizontalFlip(p=1.0))
    assert out[1].shape == (H, W, 0) and out[3] == 0
    assert np.array_equal(out[0], image[:, ::-1])
    assert aug_mod.AUGMENTATION_STATS.images == 1
    assert "none vanished" in aug_mod.AUGMENTATION_STATS.summary()
    assert augment(image, masks, class_ids, None)[3] == 0


def test_default_preset_keeps_size_and_alignment():
    image, masks, class_ids = scene()
    preset = default_augmentation()
    assert isinstance(preset, A.Compose)
    preset.set_random_seed(3)
    for _ in range(8):
        out_image, out_masks, out_ids, dropped = augment(image, masks, class_ids, preset, stats=None)
        assert out_image.shape == image.shape and out_masks.shape[-1] == 3 - dropped
        for i in range(out_masks.shape[-1] if not dropped else 0):
            # Linear image interpolation blurs edges: look at the mask's core,
            # which brightness/contrast leave a saturated pixel of the instance's colour.
            core = cv2.erode(out_masks[..., i].astype(np.uint8), np.ones((3, 3))) > 0
            colour = out_image[core].astype(int)
            assert (np.argmax(colour, -1) == np.argmax(COLORS[i])).all()
            assert (colour.max(-1) - colour.min(-1)).min() > 100


def test_augmentation_from_config():
    class Cfg:
        AUGMENTATION = None

    assert augmentation_from_config(Cfg()) is None
    Cfg.AUGMENTATION = "none"
    assert augmentation_from_config(Cfg()) is None
    Cfg.AUGMENTATION = "default"
    assert isinstance(augmentation_from_config(Cfg()), A.Compose)
    flip = A.HorizontalFlip(p=0.5)
    Cfg.AUGMENTATION = flip
    assert augmentation_from_config(Cfg()) is flip
    Cfg.AUGMENTATION = "strong"
    with pytest.raises(ValueError, match="not a preset"):
        augmentation_from_config(Cfg())
    Cfg.AUGMENTATION = lambda x: x
    with pytest.raises(TypeError, match="AUGMENTATION"):
        augmentation_from_config(Cfg())


def test_errors_name_the_fault():
    image, masks, class_ids = scene()
    with pytest.raises(ValueError, match="do not fit"):
        augment(image, masks[:10], class_ids, A.HorizontalFlip())
    with pytest.raises(TypeError, match="albumentations transform"):
        augment(image, masks, class_ids, object())
    needs_labels = A.Compose([A.HorizontalFlip()], bbox_params=A.BboxParams(
        format="pascal_voc", label_fields=["labels"]))
    with pytest.raises(ValueError, match="Compose failed on an image of"):
        augment(image, masks, class_ids, needs_labels)
