"""The instances the input pipeline loses are counted by cause: the resize or
crop before augmentation (`resize_dropped`) apart from augmentation
(`dropped_instances`, logged as `augmentation_dropped`)."""
import numpy as np
import pytest

from mrcnn.config import Config
from mrcnn.data import augmentation as aug_mod
from mrcnn.data.augmentation import AugmentationStats
from mrcnn.data.dataset import Dataset
from mrcnn.data.pipeline import load_image_gt
from mrcnn.training.callbacks import AugmentationSummary

A = pytest.importorskip("albumentations")


class OneImage(Dataset):
    """One image with the given masks; instance i has class i + 1."""

    def __init__(self, image, masks):
        super().__init__()
        for i in range(masks.shape[-1]):
            self.add_class("t", i + 1, f"c{i + 1}")
        self.add_image("t", image_id=0, path=None)
        self.prepare()
        self._image, self._masks = image, masks

    def load_image(self, image_id):
        return self._image.copy()

    def load_mask(self, image_id):
        return self._masks.copy(), np.arange(1, self._masks.shape[-1] + 1, dtype=np.int32)


def config(mode, min_dim, max_dim):
    class Cfg(Config):
        NAME = "drops"
        NUM_CLASSES = 1 + 3
        IMAGES_PER_GPU = 1
        IMAGE_RESIZE_MODE = mode
        IMAGE_MIN_DIM = min_dim
        IMAGE_MAX_DIM = max_dim

    return Cfg()


def crop_scene(seed):
    """A 64x32 image that IMAGE_RESIZE_MODE "crop" cuts to 32x32 at row y
    (drawn from np.random after np.random.seed(seed)): instance 1 straddles
    rows 30-33, inside every crop; instance 2 lies above row y, outside."""
    np.random.seed(seed)
    y = np.random.randint(0, 64 - 32 + 1)
    assert y >= 4, "pick a seed whose crop starts below instance 2"
    image = np.full((64, 32, 3), 10, np.uint8)
    masks = np.zeros((64, 32, 2), bool)
    masks[30:34, 5:25, 0] = True
    masks[0:y, 10:20, 1] = True
    image[masks[..., 0]] = (255, 0, 0)
    image[masks[..., 1]] = (0, 255, 0)
    return image, masks


def test_only_the_crop_drops_an_instance():
    seed = 3
    image, masks = crop_scene(seed)
    stats = AugmentationStats()
    np.random.seed(seed)
    out_image, _, class_ids, boxes, out_masks = load_image_gt(
        OneImage(image, masks), config("crop", 32, 64), 0,
        augmentation=A.HorizontalFlip(p=1.0), stats=stats)
    assert out_image.shape == (32, 32, 3) and class_ids.tolist() == [1]
    # The survivor is flipped by augmentation and still under its colour.
    assert (out_image[out_masks[..., 0]] == (255, 0, 0)).all()
    assert boxes[0].tolist()[1:4:2] == [32 - 25, 32 - 5]
    counts = stats.as_dict()
    assert counts == {"images": 1, "instances": 1, "dropped_instances": 0,
                      "images_with_drops": 0, "images_emptied": 0,
                      "resize_images": 1, "resize_instances": 2, "resize_dropped": 1,
                      "images_with_resize_drops": 1}
    assert stats.summary().splitlines() == [
        "augmentation: 1 images, 1 instances, none vanished",
        "resize: 1 of 2 instances vanished (50.00%) in 1 of 1 images before augmentation: "
        "cut off by IMAGE_RESIZE_MODE \"crop\" or too thin for the downscale"]


def test_a_mask_too_thin_for_the_downscale_is_the_resize_s_loss():
    image = np.full((128, 128, 3), 10, np.uint8)
    masks = np.zeros((128, 128, 2), bool)
    masks[0, 10:100, 0] = True  # one row: nearest-neighbour at 1/4 never samples row 0
    masks[40:100, 40:100, 1] = True
    stats = AugmentationStats()
    out_image, _, class_ids, _, _ = load_image_gt(
        OneImage(image, masks), config("square", 32, 32), 0,
        augmentation=A.NoOp(), stats=stats)
    assert out_image.shape == (32, 32, 3) and class_ids.tolist() == [2]
    counts = stats.as_dict()
    assert (counts["resize_instances"], counts["resize_dropped"]) == (2, 1)
    assert (counts["instances"], counts["dropped_instances"]) == (1, 0)


def test_only_augmentation_drops_an_instance():
    image = np.full((64, 64, 3), 10, np.uint8)
    masks = np.zeros((64, 64, 3), bool)
    masks[5:20, 5:20, 0] = True
    masks[30:50, 10:30, 1] = True
    masks[10:25, 50:60, 2] = True  # the crop below cuts it off
    stats = AugmentationStats()
    out_image, _, class_ids, boxes, _ = load_image_gt(
        OneImage(image, masks), config("square", 64, 64), 0,
        augmentation=A.Crop(x_min=0, y_min=0, x_max=40, y_max=64, p=1.0), stats=stats)
    assert out_image.shape == (64, 40, 3) and class_ids.tolist() == [1, 2]
    assert boxes.tolist() == [[5, 5, 20, 20], [30, 10, 50, 30]]
    counts = stats.as_dict()
    assert (counts["resize_images"], counts["resize_instances"], counts["resize_dropped"]) == (
        1, 3, 0)
    assert (counts["images"], counts["instances"], counts["dropped_instances"],
            counts["images_with_drops"]) == (1, 3, 1, 1)
    assert stats.summary() == ("augmentation: 1 of 3 instances vanished (33.33%) in 1 of 1 "
                               "images")


def test_the_epoch_logs_both_causes_apart(caplog):
    stats = AugmentationStats()
    summary = AugmentationSummary(stats)
    seed = 3
    crop_image, crop_masks = crop_scene(seed)
    with caplog.at_level("INFO", logger="mrcnn.training.callbacks"):
        summary.on_epoch_begin(0)
        np.random.seed(seed)
        load_image_gt(OneImage(crop_image, crop_masks), config("crop", 32, 64), 0,
                      augmentation=A.HorizontalFlip(p=1.0), stats=stats)
        image = np.full((64, 64, 3), 10, np.uint8)
        masks = np.zeros((64, 64, 2), bool)
        masks[5:20, 5:20, 0] = True
        masks[10:25, 50:60, 1] = True
        load_image_gt(OneImage(image, masks), config("square", 64, 64), 0, stats=stats,
                      augmentation=A.Crop(x_min=0, y_min=0, x_max=40, y_max=64, p=1.0))
        logs = {}
        summary.on_epoch_end(0, logs)
    # Augmentation saw 1 + 2 instances and lost 1; the crop saw 2 + 2 and lost 1.
    assert logs["augmentation_dropped"] == pytest.approx(1 / 3)
    assert logs["resize_dropped"] == pytest.approx(1 / 4)
    assert [r.getMessage() for r in caplog.records] == [
        "Epoch 1 augmentation: 1 of 3 instances vanished (33.33%) in 1 of 2 images",
        "Epoch 1 resize: 1 of 4 instances vanished (25.00%) in 1 of 2 images before "
        "augmentation: cut off by IMAGE_RESIZE_MODE \"crop\" or too thin for the downscale"]


def test_module_counters_count_augmented_images_only():
    seed = 3
    image, masks = crop_scene(seed)
    dataset, cfg = OneImage(image, masks), config("crop", 32, 64)
    aug_mod.AUGMENTATION_STATS.reset()
    np.random.seed(seed)
    load_image_gt(dataset, cfg, 0)  # a validation image: not training's figures
    assert aug_mod.AUGMENTATION_STATS.as_dict() == dict.fromkeys(
        aug_mod.AUGMENTATION_STATS.as_dict(), 0)
    np.random.seed(seed)
    load_image_gt(dataset, cfg, 0, augmentation=A.NoOp())
    counts = aug_mod.AUGMENTATION_STATS.as_dict()
    assert (counts["resize_dropped"], counts["dropped_instances"], counts["images"]) == (1, 0, 1)
    aug_mod.AUGMENTATION_STATS.reset()


def test_masks_empty_before_augmentation_are_no_augmentation_loss():
    image = np.full((20, 20, 3), 10, np.uint8)
    masks = np.zeros((20, 20, 2), bool)
    masks[2:8, 2:8, 0] = True  # instance 2 is empty (cropped away before, or in the dataset)
    stats = AugmentationStats()
    _, out_masks, class_ids, dropped = aug_mod.augment(
        image, masks, np.array([1, 2], np.int32), A.HorizontalFlip(p=1.0), stats=stats)
    assert dropped == 0 and class_ids.tolist() == [1] and out_masks.shape == (20, 20, 1)
    assert (stats.instances, stats.dropped_instances) == (1, 0)
