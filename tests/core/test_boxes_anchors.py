"""Box utilities and anchors against brute-force references."""
import numpy as np
import tensorflow as tf
from tiny import TinyConfig

from mrcnn import utils
from mrcnn.anchors import get_anchors, pyramid_anchors_graph
from mrcnn.modeling import box_ops


def brute_iou(a, b):
    """IoU of two pixel boxes by counting pixels."""
    grid = np.zeros((2, 80, 80), bool)
    grid[0, a[0]:a[2], a[1]:a[3]] = True
    grid[1, b[0]:b[2], b[1]:b[3]] = True
    union = np.logical_or(grid[0], grid[1]).sum()
    return np.logical_and(grid[0], grid[1]).sum() / union if union else 0.0


def random_boxes(rng, n):
    y1 = rng.integers(0, 60, n)
    x1 = rng.integers(0, 60, n)
    return np.stack([y1, x1, y1 + rng.integers(1, 20, n), x1 + rng.integers(1, 20, n)], 1)


def test_compute_overlaps_matches_pixel_counting():
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 12), random_boxes(rng, 9)
    expected = np.array([[brute_iou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(utils.compute_overlaps(a, b), expected, atol=1e-9)
    # The TF version used inside the network agrees.
    np.testing.assert_allclose(
        box_ops.overlaps_graph(tf.constant(a, tf.float32), tf.constant(b, tf.float32)).numpy(),
        expected, atol=1e-6)


def test_compute_overlaps_masks_matches_pixel_counting():
    rng = np.random.default_rng(1)
    a, b = random_boxes(rng, 5), random_boxes(rng, 4)
    masks_a = np.zeros((80, 80, 5), bool)
    masks_b = np.zeros((80, 80, 4), bool)
    for i, box in enumerate(a):
        masks_a[box[0]:box[2], box[1]:box[3], i] = True
    for i, box in enumerate(b):
        masks_b[box[0]:box[2], box[1]:box[3], i] = True
    expected = np.array([[brute_iou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(utils.compute_overlaps_masks(masks_a, masks_b), expected, atol=1e-6)


def test_box_refinement_and_apply_deltas_are_inverse():
    rng = np.random.default_rng(2)
    boxes = random_boxes(rng, 20).astype(np.float32)
    gt = random_boxes(rng, 20).astype(np.float32)
    deltas = utils.box_refinement(boxes, gt)
    # Hand-checked case: a box twice as tall, shifted by half its height.
    d = utils.box_refinement(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 25, 10]]))
    np.testing.assert_allclose(d, [[1.0, 0.0, np.log(2.0), 0.0]], atol=1e-6)
    np.testing.assert_allclose(utils.apply_box_deltas(boxes, deltas), gt, atol=1e-3)
    tf_deltas = box_ops.box_refinement_graph(boxes, gt).numpy()
    np.testing.assert_allclose(tf_deltas, deltas, atol=1e-5)
    np.testing.assert_allclose(
        box_ops.apply_box_deltas_graph(tf.constant(boxes), tf.constant(deltas)).numpy(),
        gt, atol=1e-3)


def test_norm_and_denorm_boxes_round_trip():
    boxes = np.array([[0, 0, 64, 64], [10, 20, 30, 50]])
    normed = utils.norm_boxes(boxes, (64, 64))
    np.testing.assert_allclose(normed[0], [0, 0, 1, 1])
    np.testing.assert_array_equal(utils.denorm_boxes(normed, (64, 64)), boxes)


def test_extract_bboxes_and_non_max_suppression():
    mask = np.zeros((20, 20, 2), bool)
    mask[2:5, 3:9, 0] = True
    boxes = utils.extract_bboxes(mask)
    np.testing.assert_array_equal(boxes, [[2, 3, 5, 9], [0, 0, 0, 0]])
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    keep = utils.non_max_suppression(boxes, np.array([0.9, 0.8, 0.7]), 0.5)
    np.testing.assert_array_equal(keep, [0, 2])


def test_anchor_counts_centres_and_sizes():
    config = TinyConfig()
    anchors = get_anchors(config, (64, 64), normalized=False)
    ratios = len(config.RPN_ANCHOR_RATIOS)
    # Feature maps of a 64 px image: 16, 8, 4, 2, 1 cells per side.
    assert anchors.shape == ((16 ** 2 + 8 ** 2 + 4 ** 2 + 2 ** 2 + 1) * ratios, 4)
    first_level = anchors[:16 * 16 * ratios]
    heights = first_level[:, 2] - first_level[:, 0]
    widths = first_level[:, 3] - first_level[:, 1]
    # Every anchor of the first level has area 8^2, and the ratio w/h cycles.
    np.testing.assert_allclose(heights * widths, 64.0, rtol=1e-6)
    np.testing.assert_allclose((widths / heights)[:3], config.RPN_ANCHOR_RATIOS, rtol=1e-6)
    centres_y = (first_level[:, 0] + first_level[:, 2]) / 2
    centres_x = (first_level[:, 1] + first_level[:, 3]) / 2
    assert set(np.unique(np.round(centres_y, 6))) == set(range(0, 64, 4))
    assert set(np.unique(np.round(centres_x, 6))) == set(range(0, 64, 4))
    # The cached array is shared: it must be read-only.
    assert not anchors.flags.writeable


def test_graph_anchors_equal_numpy_anchors_for_non_square_input():
    config = TinyConfig()
    expected = get_anchors(config, (128, 64))
    got = pyramid_anchors_graph(config, tf.constant([128, 64])).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
