"""matterport's data_generator, generate_random_rois and build_detection_targets
on the tiny synthetic dataset (no model is built)."""
import logging
import os
import sys

import albumentations as A
import numpy as np
import pytest
import skimage.transform

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core"))
from tiny import DiscsAndBars, TinyConfig, tiny_dataset  # noqa: E402  tests/core/tiny.py

from mrcnn.anchors import get_anchors  # noqa: E402
from mrcnn.boxes import apply_box_deltas, compute_overlaps  # noqa: E402
from mrcnn.data.errors import DatasetError  # noqa: E402
from mrcnn.data.pipeline import (  # noqa: E402
    DataGenerator,
    data_generator,
    load_image_gt,
    mold_image,
    unmold_image,
)
from mrcnn.data.resize import expand_mask  # noqa: E402
from mrcnn.data.targets import build_detection_targets, generate_random_rois  # noqa: E402
from mrcnn.image_meta import parse_image_meta  # noqa: E402


class FullMaskConfig(TinyConfig):
    USE_MINI_MASK = False


def grown(gt_boxes, shape):
    """The regions generate_random_rois draws around each GT box: the box grown
    by its height and width on every side, clipped to the image."""
    h = gt_boxes[:, 2] - gt_boxes[:, 0]
    w = gt_boxes[:, 3] - gt_boxes[:, 1]
    return np.stack([np.maximum(gt_boxes[:, 0] - h, 0), np.maximum(gt_boxes[:, 1] - w, 0),
                     np.minimum(gt_boxes[:, 2] + h, shape[0]),
                     np.minimum(gt_boxes[:, 3] + w, shape[1])], axis=1)


def inside(rois, regions):
    """bool [len(rois), len(regions)]: roi i lies within region j."""
    return ((rois[:, None, 0] >= regions[None, :, 0]) & (rois[:, None, 1] >= regions[None, :, 1])
            & (rois[:, None, 2] <= regions[None, :, 2]) & (rois[:, None, 3] <= regions[None, :, 3]))


def crowded_image(config, use_mini_mask):
    """The first image of the tiny dataset with three instances, loaded as
    the pipeline loads it."""
    dataset = tiny_dataset(count=12)
    for image_id in dataset.image_ids:
        if len(dataset.image_info[image_id]["objects"]) == 3:
            return load_image_gt(dataset, config, image_id, use_mini_mask=use_mini_mask)
    raise AssertionError("no image with three instances")


# ---- generate_random_rois ----------------------------------------------------

def test_generate_random_rois_properties():
    gt_boxes = np.array([[10, 10, 26, 26], [30, 5, 40, 45]], np.int32)
    rois = generate_random_rois((64, 80, 3), 1000, np.array([1, 2]), gt_boxes,
                                rng=np.random.default_rng(0))
    assert rois.shape == (1000, 4) and rois.dtype == np.int32
    assert np.all((rois[:, 0] >= 0) & (rois[:, 1] >= 0))
    assert np.all((rois[:, 2] <= 64) & (rois[:, 3] <= 80))
    assert np.all((rois[:, 2] > rois[:, 0]) & (rois[:, 3] > rois[:, 1]))
    # 90% split among the GT boxes, each drawn inside its grown box ...
    regions = grown(gt_boxes, (64, 80))
    assert np.all(inside(rois[:450], regions[:1])) and np.all(inside(rois[450:900], regions[1:]))
    near = inside(rois, regions).any(axis=1)
    assert 0.9 <= near.mean() < 0.97
    # ... most of those overlapping it; the other 10% anywhere in the image.
    overlapping = compute_overlaps(rois, gt_boxes).max(axis=1) > 0
    assert overlapping[:900].mean() > 0.6
    assert (~near[900:]).mean() > 0.3
    assert rois[900:, 2].max() > 50 and rois[900:, 3].max() > 70

    again = generate_random_rois((64, 80, 3), 1000, np.array([1, 2]), gt_boxes,
                                 rng=np.random.default_rng(0))
    np.testing.assert_array_equal(rois, again)


def test_generate_random_rois_edge_cases():
    # Without a generator: NumPy's global state, as matterport.
    np.random.seed(3)
    first = generate_random_rois((32, 32, 3), 50, np.array([1]), np.array([[4, 4, 8, 8]]))
    np.random.seed(3)
    np.testing.assert_array_equal(
        first, generate_random_rois((32, 32, 3), 50, np.array([1]), np.array([[4, 4, 8, 8]])))
    # No GT box: everything anywhere. A GT box of zero height at the border
    # and more boxes than ROIs.
    for gt_boxes in (np.zeros((0, 4), np.int32), np.array([[32, 3, 32, 9]]),
                     np.array([[1, 1, 5, 5]] * 7)):
        rois = generate_random_rois((32, 32, 3), 5, np.ones(len(gt_boxes)), gt_boxes,
                                    rng=np.random.default_rng(1))
        assert rois.shape == (5, 4)
        assert np.all((rois[:, :2] >= 0) & (rois[:, 2:] <= 32) & (rois[:, 2:] > rois[:, :2]))


# ---- build_detection_targets -------------------------------------------------

@pytest.mark.parametrize("config_class", [TinyConfig, FullMaskConfig])
def test_build_detection_targets(config_class):
    config = config_class()
    image, _, gt_class_ids, gt_boxes, gt_masks = crowded_image(config, config.USE_MINI_MASK)
    full_masks = (expand_mask(gt_boxes, gt_masks, image.shape) if config.USE_MINI_MASK
                  else gt_masks)
    rng = np.random.default_rng(0)
    rpn_rois = generate_random_rois(image.shape, 2000, gt_class_ids, gt_boxes, rng=rng)
    rois, class_ids, bboxes, masks = build_detection_targets(
        rpn_rois, gt_class_ids, gt_boxes, gt_masks, config, rng=rng)

    n = config.TRAIN_ROIS_PER_IMAGE
    assert rois.shape == (n, 4) and rois.dtype == np.int32
    assert class_ids.shape == (n,) and class_ids.dtype == np.int32
    assert bboxes.shape == (n, config.NUM_CLASSES, 4) and bboxes.dtype == np.float32
    assert masks.shape == (n,) + tuple(config.MASK_SHAPE) + (config.NUM_CLASSES,)
    assert masks.dtype == np.float32
    # Every ROI is one of the proposals.
    assert inside(rois, rpn_rois).any(axis=1).all()

    positive = class_ids > 0
    # Plenty of positives among 2000 ROIs around 3 boxes: exactly the ratio.
    assert positive.sum() == int(n * config.ROI_POSITIVE_RATIO)
    overlaps = compute_overlaps(rois, gt_boxes)
    best = overlaps.argmax(axis=1)
    for i in np.flatnonzero(positive):
        c = class_ids[i]
        assert overlaps[i, best[i]] >= 0.5
        assert c == gt_class_ids[best[i]]
        # The class's delta leads the ROI to its GT box; other classes have none.
        refined = apply_box_deltas(rois[i:i + 1], bboxes[i:i + 1, c] * config.BBOX_STD_DEV)
        np.testing.assert_allclose(refined[0], gt_boxes[best[i]], atol=1e-3)
        assert np.all(np.delete(bboxes[i], c, axis=0) == 0)
        # The mask is the GT mask inside the ROI.
        y1, x1, y2, x2 = rois[i]
        expected = skimage.transform.resize(full_masks[y1:y2, x1:x2, best[i]].astype(float),
                                            config.MASK_SHAPE, order=0) > 0.5
        assert np.mean((masks[i, :, :, c] > 0.5) == expected) > 0.9
        assert masks[i, :, :, c].max() <= 1 and masks[i, :, :, c].min() >= 0
        assert np.all(np.delete(masks[i], c, axis=-1) == 0)
    negative = ~positive
    assert np.all(overlaps[negative].max(axis=1) < 0.5)
    assert np.all(bboxes[negative] == 0) and np.all(masks[negative] == 0)


@pytest.mark.parametrize("config_class", [TinyConfig, FullMaskConfig])
def test_detection_targets_of_a_disc_and_too_few_rois(config_class):
    config = config_class()
    image, _, gt_class_ids, gt_boxes, gt_masks = crowded_image(config, config.USE_MINI_MASK)
    disc = int(np.flatnonzero(gt_class_ids == 1)[0])
    # The disc's own box and two ROIs far from everything, in a corner.
    rpn_rois = np.array([gt_boxes[disc], [0, 0, 2, 2], [62, 62, 64, 64]], np.int32)
    assert compute_overlaps(rpn_rois[1:], gt_boxes).max() < 0.5
    rois, class_ids, bboxes, masks = build_detection_targets(
        rpn_rois, gt_class_ids, gt_boxes, gt_masks, config, rng=np.random.default_rng(0))
    # Positives first; the rest filled with repeated negatives.
    np.testing.assert_array_equal(rois[0], gt_boxes[disc])
    assert class_ids[0] == 1 and np.all(class_ids[1:] == 0)
    assert inside(rois[1:], rpn_rois[1:]).any(axis=1).all()
    assert len(rois) == config.TRAIN_ROIS_PER_IMAGE
    # The box is exact: no refinement.
    np.testing.assert_allclose(bboxes[0, 1], 0, atol=1e-6)
    # A disc fills its box's centre, not its corners.
    mask = masks[0, :, :, 1]
    h, w = mask.shape
    assert mask[h // 2, w // 2] == 1
    assert mask[0, 0] == 0 and mask[0, -1] == 0 and mask[-1, 0] == 0 and mask[-1, -1] == 0

    # Only positive ROIs: they are repeated, targets and all.
    rois, class_ids, bboxes, masks = build_detection_targets(
        gt_boxes, gt_class_ids, gt_boxes, gt_masks, config, rng=np.random.default_rng(0))
    assert len(rois) == config.TRAIN_ROIS_PER_IMAGE and np.all(class_ids > 0)
    for i in range(len(rois)):
        g = int(np.flatnonzero((gt_boxes == rois[i]).all(axis=1))[0])
        assert class_ids[i] == gt_class_ids[g]
        assert masks[i, :, :, class_ids[i]].max() == 1


def test_detection_targets_ignore_padding_and_crowds_and_need_instances():
    config = TinyConfig()
    image, _, gt_class_ids, gt_boxes, gt_masks = crowded_image(config, True)
    rpn_rois = generate_random_rois(image.shape, 500, gt_class_ids, gt_boxes,
                                    rng=np.random.default_rng(0))
    # A crowd over the first instance and zero padding, as in a batch array.
    class_ids = np.concatenate([[-1], gt_class_ids[1:], [0, 0]]).astype(np.int32)
    boxes = np.concatenate([gt_boxes, np.zeros((2, 4), np.int32)])
    masks = np.concatenate([gt_masks, np.zeros(gt_masks.shape[:2] + (2,), bool)], axis=-1)
    rois, roi_class_ids, _, _ = build_detection_targets(
        rpn_rois, class_ids, boxes, masks, config, rng=np.random.default_rng(0))
    overlaps = compute_overlaps(rois, gt_boxes[1:])
    positive = roi_class_ids > 0
    np.testing.assert_array_equal(roi_class_ids[positive],
                                  gt_class_ids[1:][overlaps[positive].argmax(axis=1)])
    with pytest.raises(ValueError, match="instances"):
        build_detection_targets(rpn_rois, np.array([0, -1]), gt_boxes[:2], gt_masks[..., :2],
                                config)


# ---- data_generator ------------------------------------------------------------

@pytest.mark.parametrize("random_rois, detection_targets, lengths", [
    (0, False, (7, 0)), (0, True, (7, 0)), (50, False, (8, 0)), (50, True, (9, 3))])
@pytest.mark.parametrize("config_class", [TinyConfig, FullMaskConfig])
def test_data_generator_shapes(config_class, random_rois, detection_targets, lengths):
    config = config_class()
    dataset = tiny_dataset(count=5)
    b = 3  # not config.BATCH_SIZE: data_generator has its own
    g = data_generator(dataset, config, shuffle=True, random_rois=random_rois, batch_size=b,
                       detection_targets=detection_targets, rng=np.random.default_rng(0))
    for _ in range(2):
        inputs, outputs = next(g)
        assert isinstance(inputs, list) and isinstance(outputs, list)
        assert (len(inputs), len(outputs)) == lengths
        anchors = get_anchors(config, config.IMAGE_SHAPE, normalized=False).shape[0]
        mask_hw = tuple(config.MINI_MASK_SHAPE) if config.USE_MINI_MASK else (64, 64)
        max_gt = config.MAX_GT_INSTANCES
        expected = [((b, 64, 64, 3), np.float32), ((b, config.IMAGE_META_SIZE), np.float32),
                    ((b, anchors, 1), np.int32),
                    ((b, config.RPN_TRAIN_ANCHORS_PER_IMAGE, 4), np.float32),
                    ((b, max_gt), np.int32), ((b, max_gt, 4), np.int32),
                    ((b,) + mask_hw + (max_gt,), np.bool_)]
        n, classes = config.TRAIN_ROIS_PER_IMAGE, config.NUM_CLASSES
        if random_rois:
            expected.append(((b, random_rois, 4), np.int32))
            if detection_targets:
                expected.append(((b, n, 4), np.int32))
        for array, (shape, dtype) in zip(inputs, expected):
            assert (array.shape, array.dtype) == (shape, dtype)
        if outputs:
            expected = [((b, n, 1), np.int32), ((b, n, classes, 4), np.float32),
                        ((b, n) + tuple(config.MASK_SHAPE) + (classes,), np.float32)]
            for array, (shape, dtype) in zip(outputs, expected):
                assert (array.shape, array.dtype) == (shape, dtype)
        # Every image has instances; GT rows beyond them are zero padding.
        gt_class_ids, gt_boxes = inputs[4], inputs[5]
        assert np.all((gt_class_ids > 0).sum(axis=1) > 0)
        assert np.all(gt_boxes[gt_class_ids == 0] == 0)


def test_data_generator_targets_are_the_training_pipelines():
    config = TinyConfig()
    dataset = tiny_dataset(count=4)
    inputs, _ = next(data_generator(dataset, config, shuffle=False, batch_size=2,
                                    rng=np.random.default_rng(7)))
    loader = DataGenerator(dataset, config, shuffle=False)
    rng = np.random.default_rng(7)
    examples = [loader.load_example(image_id, rng) for image_id in dataset.image_ids[:2]]
    batch = loader.collate(examples)
    names = ["input_image", "input_image_meta", "input_rpn_match", "input_rpn_bbox",
             "input_gt_class_ids", "input_gt_boxes", "input_gt_masks"]
    for array, name in zip(inputs, names):
        np.testing.assert_array_equal(array, batch[name])
    assert np.sum(inputs[2] == 1) > 0 and np.sum(inputs[2] == -1) > 0
    np.testing.assert_array_equal(parse_image_meta(inputs[1])["image_id"], [0, 1])
    np.testing.assert_array_equal(inputs[0][0], mold_image(examples[0][0], config))


def test_data_generator_skips_images_without_instances():
    config = TinyConfig()
    dataset = tiny_dataset(count=6, empty_every=2)  # images 0, 2, 4 are empty
    g = data_generator(dataset, config, shuffle=False, batch_size=1)
    seen = [int(parse_image_meta(next(g)[0][1])["image_id"][0]) for _ in range(4)]
    assert seen == [1, 3, 5, 1]
    g = data_generator(dataset, config, shuffle=True, batch_size=2, random_rois=20,
                       detection_targets=True, rng=np.random.default_rng(0))
    for _ in range(3):
        inputs, _ = next(g)
        assert set(parse_image_meta(inputs[1])["image_id"]) <= {1, 3, 5}

    nothing = tiny_dataset(count=3, empty_every=1)
    with pytest.raises(DatasetError, match="mrcnn validate"):
        next(data_generator(nothing, config, batch_size=1))


class TwoSources(DiscsAndBars):
    """The tiny dataset's images under two sources: "toy" and "plain"."""

    def load(self, count, size=64, seed=0, empty_every=0):
        super().load(count, size=size, seed=seed, empty_every=empty_every)
        self.add_class("plain", 1, "disc")
        self.add_class("plain", 2, "bar")
        for info in self.image_info[count // 2:]:
            info["source"] = "plain"


class TwoSourcesConfig(TinyConfig):
    NUM_CLASSES = 5


def test_no_augmentation_sources_are_not_augmented():
    config = TwoSourcesConfig()
    dataset = TwoSources()
    dataset.load(6)
    dataset.prepare()
    flip = A.HorizontalFlip(p=1)
    g = data_generator(dataset, config, shuffle=False, augmentation=flip, batch_size=1,
                       no_augmentation_sources=["plain"])
    sources = {}
    for _ in range(6):
        inputs, _ = next(g)
        image_id = int(parse_image_meta(inputs[1])["image_id"][0])
        image = load_image_gt(dataset, config, image_id)[0]
        source = dataset.image_info[image_id]["source"]
        expected = image if source == "plain" else np.fliplr(image)
        np.testing.assert_array_equal(inputs[0][0], mold_image(expected, config))
        sources[source] = sources.get(source, 0) + 1
    assert sources == {"toy": 3, "plain": 3}
    # Without the exclusion every image is flipped.
    inputs, _ = next(data_generator(dataset, config, shuffle=False, augmentation=flip,
                                    batch_size=6))
    for image_id, molded in zip(parse_image_meta(inputs[1])["image_id"], inputs[0]):
        image = load_image_gt(dataset, config, int(image_id))[0]
        np.testing.assert_array_equal(molded, mold_image(np.fliplr(image), config))


def test_training_batches_skip_augmentation_for_no_augmentation_sources():
    """train(no_augmentation_sources=...) reaches the training generator."""
    dataset = TwoSources()
    dataset.load(6)
    dataset.prepare()
    config = TwoSourcesConfig()
    generator = DataGenerator(dataset, config, shuffle=False, augmentation=A.HorizontalFlip(p=1),
                              no_augmentation_sources=["plain"], seed=0)
    for image_id in dataset.image_ids:
        molded = generator.load_example(int(image_id), np.random.default_rng(0))[0]
        image = load_image_gt(dataset, config, int(image_id))[0]
        plain = dataset.image_info[image_id]["source"] == "plain"
        np.testing.assert_array_equal(molded, image if plain else np.fliplr(image))


def test_deprecated_augment_flips_about_half(caplog):
    config = TinyConfig()
    dataset = tiny_dataset(count=8)
    originals = {int(i): load_image_gt(dataset, config, int(i)) for i in dataset.image_ids}
    with caplog.at_level(logging.WARNING, logger="mrcnn.data.pipeline"):
        g = data_generator(dataset, config, shuffle=False, augment=True, batch_size=8)
    assert "deprecated" in caplog.text
    flipped = 0
    for _ in range(5):
        inputs, _ = next(g)
        for image_id, molded, boxes in zip(parse_image_meta(inputs[1])["image_id"], inputs[0],
                                           inputs[5]):
            original, _, _, original_boxes, _ = originals[int(image_id)]
            is_flipped = np.array_equal(molded, mold_image(np.fliplr(original), config))
            assert is_flipped or np.array_equal(molded, mold_image(original, config))
            flipped += is_flipped
            # The masks, hence the boxes, go with the image.
            y1, x1, y2, x2 = original_boxes.T
            expected = np.stack([y1, 64 - x2, y2, 64 - x1], axis=1) if is_flipped else original_boxes
            np.testing.assert_array_equal(boxes[:len(expected)], expected)
    assert 8 <= flipped <= 32


class Unreadable(DiscsAndBars):
    """The tiny dataset where the images in `broken` cannot be read."""
    broken = ()

    def load_image(self, image_id):
        if image_id in self.broken:
            raise OSError(f"cannot read image {image_id}")
        return super().load_image(image_id)

    def image_reference(self, image_id):
        return f"disc-{image_id}.png"


def test_unreadable_images_are_skipped_then_raise(caplog):
    config = TinyConfig()
    dataset = Unreadable()
    dataset.load(8)
    dataset.prepare()
    dataset.broken = {1, 2}
    g = data_generator(dataset, config, shuffle=False, batch_size=3)
    with caplog.at_level(logging.WARNING, logger="mrcnn.data.pipeline"):
        inputs, _ = next(g)
    np.testing.assert_array_equal(parse_image_meta(inputs[1])["image_id"], [0, 3, 4])
    assert "disc-1.png" in caplog.text and "disc-2.png" in caplog.text

    # Five failures in a row are skipped (matterport's tolerance), six are not.
    dataset.broken = set(range(1, 6))
    inputs, _ = next(data_generator(dataset, config, shuffle=False, batch_size=2))
    np.testing.assert_array_equal(parse_image_meta(inputs[1])["image_id"], [0, 6])
    dataset.broken = set(range(1, 7))
    with pytest.raises(DatasetError, match="mrcnn validate") as raised:
        next(data_generator(dataset, config, shuffle=False, batch_size=2))
    assert "disc-6.png" in str(raised.value) and "6 images in a row" in str(raised.value)
    assert isinstance(raised.value.__cause__, OSError)


# ---- matterport's samples/coco/inspect_data.ipynb, without the plots ------------

def test_inspect_data_notebook_cells():
    config = TinyConfig()
    dataset = tiny_dataset(count=8)
    anchors = get_anchors(config, config.IMAGE_SHAPE, normalized=False)

    # Create data generator
    random_rois = 2000
    g = data_generator(
        dataset, config, shuffle=True, random_rois=random_rois,
        batch_size=4,
        detection_targets=True)

    # Get Next Image
    [normalized_images, image_meta, rpn_match, rpn_bbox, gt_class_ids, gt_boxes, gt_masks,
     rpn_rois, rois], [mrcnn_class_ids, mrcnn_bbox, mrcnn_mask] = next(g)
    image_id = parse_image_meta(image_meta)["image_id"][0]
    assert dataset.image_reference(image_id) is not None
    # Remove the last dim in mrcnn_class_ids. It's only added
    # to satisfy Keras restriction on target shape.
    mrcnn_class_ids = mrcnn_class_ids[:, :, 0]

    b = 0
    sample_image = unmold_image(normalized_images[b], config)
    assert sample_image.dtype == np.uint8 and sample_image.shape == (64, 64, 3)
    indices = np.where(rpn_match[b] == 1)[0]
    refined_anchors = apply_box_deltas(anchors[indices],
                                       rpn_bbox[b, :len(indices)] * config.RPN_BBOX_STD_DEV)
    assert len(refined_anchors) == len(indices) > 0
    # Each refined positive anchor lands on a GT box of the image.
    gt = gt_boxes[b][gt_class_ids[b] > 0]
    assert np.all(compute_overlaps(refined_anchors, gt).max(axis=1) > 0.99)
    counts = np.bincount(mrcnn_class_ids[b].flatten())
    assert counts.sum() == config.TRAIN_ROIS_PER_IMAGE

    # Class aware bboxes
    bbox_specific = mrcnn_bbox[b, np.arange(mrcnn_bbox.shape[1]), mrcnn_class_ids[b], :]
    # Refined ROIs
    refined_rois = apply_box_deltas(rois[b].astype(np.float32),
                                    bbox_specific[:, :4] * config.BBOX_STD_DEV)
    # Class aware masks
    mask_specific = mrcnn_mask[b, np.arange(mrcnn_mask.shape[1]), :, :, mrcnn_class_ids[b]]
    assert mask_specific.shape == (config.TRAIN_ROIS_PER_IMAGE,) + tuple(config.MASK_SHAPE)
    positive = mrcnn_class_ids[b] > 0
    assert compute_overlaps(refined_rois[positive], gt).max(axis=1).min() > 0.99
    np.testing.assert_array_equal(refined_rois[~positive], rois[b][~positive])
    assert np.all(mask_specific[positive].max(axis=(1, 2)) > 0.5)
    # Any repeated ROIs?
    rows = np.ascontiguousarray(rois[b]).view(
        np.dtype((np.void, rois.dtype.itemsize * rois.shape[-1])))
    _, idx = np.unique(rows, return_index=True)
    assert 0 < len(idx) <= rois.shape[1]
    for i in range(8):
        assert rois[b, i, :4].astype(np.int32).shape == (4,)
        assert refined_rois[i].astype(np.int64).shape == (4,)

    # Check ratio of positive ROIs in a set of images.
    limit = 10
    temp_g = data_generator(
        dataset, config, shuffle=True, random_rois=10000,
        batch_size=1, detection_targets=True)
    total = 0
    for i in range(limit):
        _, [ids, _, _] = next(temp_g)
        positive_rois = np.sum(ids[0] > 0)
        total += positive_rois
    average = total / (limit * ids.shape[1])
    assert average == pytest.approx(
        int(config.TRAIN_ROIS_PER_IMAGE * config.ROI_POSITIVE_RATIO)
        / config.TRAIN_ROIS_PER_IMAGE)
