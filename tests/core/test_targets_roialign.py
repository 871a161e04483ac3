"""RPN targets, ROIAlign and detection-target sampling against references."""
import numpy as np
import tensorflow as tf
from tiny import TinyConfig

from mrcnn import utils
from mrcnn.anchors import get_anchors
from mrcnn.data.targets import build_rpn_targets
from mrcnn.image_meta import compose_image_meta
from mrcnn.modeling.detection_targets import detection_targets_graph
from mrcnn.modeling.roi_align import PyramidROIAlign


def test_rpn_targets_properties():
    config = TinyConfig()
    anchors = get_anchors(config, (64, 64), normalized=False)
    gt_boxes = np.array([[10, 10, 26, 26], [30, 5, 40, 45]], np.int32)
    gt_class_ids = np.array([1, 2], np.int32)
    match, bbox = build_rpn_targets((64, 64, 3), anchors, gt_class_ids, gt_boxes, config,
                                    rng=np.random.default_rng(0))
    overlaps = utils.compute_overlaps(anchors, gt_boxes)
    positives = np.where(match == 1)[0]
    negatives = np.where(match == -1)[0]
    assert 0 < len(positives) <= config.RPN_TRAIN_ANCHORS_PER_IMAGE // 2
    assert len(positives) + len(negatives) <= config.RPN_TRAIN_ANCHORS_PER_IMAGE
    # Negatives overlap every GT box below 0.3.
    assert np.all(overlaps[negatives].max(axis=1) < 0.3)
    # Each GT box has at least its best anchor among the positives.
    for g in range(len(gt_boxes)):
        best = np.flatnonzero(overlaps[:, g] == overlaps[:, g].max())
        assert np.intersect1d(best, positives).size > 0
    # The deltas of the positives decode back to their GT boxes.
    assigned = gt_boxes[overlaps[positives].argmax(axis=1)]
    deltas = bbox[:len(positives)] * config.RPN_BBOX_STD_DEV
    decoded = utils.apply_box_deltas(anchors[positives], deltas)
    np.testing.assert_allclose(decoded, assigned, atol=1e-3)
    assert np.all(bbox[len(positives):] == 0)


def test_rpn_targets_of_a_negative_image_and_of_crowds():
    config = TinyConfig()
    anchors = get_anchors(config, (64, 64), normalized=False)
    match, bbox = build_rpn_targets((64, 64, 3), anchors, np.zeros([0], np.int32),
                                    np.zeros([0, 4]), config, rng=np.random.default_rng(0))
    assert np.sum(match == 1) == 0
    assert np.sum(match == -1) == config.RPN_TRAIN_ANCHORS_PER_IMAGE
    assert np.all(bbox == 0)
    # A crowd region (negative class id) makes no positives and no negatives under it.
    crowd = np.array([[0, 0, 32, 32]])
    match, _ = build_rpn_targets((64, 64, 3), anchors, np.array([-1]), crowd, config,
                                 rng=np.random.default_rng(0))
    under_crowd = utils.compute_overlaps(anchors, crowd)[:, 0] >= 0.001
    assert np.all(match[under_crowd] == 0)


def bilinear(feature, y, x):
    """Sample a [H, W, C] map at a real (y, x), zero outside, as crop_and_resize."""
    h, w = feature.shape[:2]
    if y < 0 or y > h - 1 or x < 0 or x > w - 1:
        return np.zeros(feature.shape[-1])
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    dy, dx = y - y0, x - x0
    top = feature[y0, x0] * (1 - dx) + feature[y0, x1] * dx
    bottom = feature[y1, x0] * (1 - dx) + feature[y1, x1] * dx
    return top * (1 - dy) + bottom * dy


def reference_roi_align(feature, box, size):
    """numpy ROIAlign of one normalized box on one feature map (crop_and_resize's
    sampling: corners map to pixel centres 0 and H-1)."""
    h, w = feature.shape[:2]
    y1, x1, y2, x2 = box
    out = np.zeros((size, size, feature.shape[-1]))
    for i in range(size):
        for j in range(size):
            y = y1 * (h - 1) + i * (y2 - y1) * (h - 1) / (size - 1)
            x = x1 * (w - 1) + j * (x2 - x1) * (w - 1) / (size - 1)
            out[i, j] = bilinear(feature, y, x)
    return out


def test_pyramid_roi_align_matches_numpy_bilinear_and_picks_levels():
    rng = np.random.default_rng(3)
    image_size = 256
    maps = [rng.normal(size=(2, image_size // s, image_size // s, 3)).astype(np.float32)
            for s in (4, 8, 16, 32)]
    # Box sizes chosen for levels 2 (small), 4 (224 px) and 5 (whole image).
    boxes = np.array([[[0.1, 0.1, 0.2, 0.25], [0.05, 0.1, 0.9, 0.85], [0, 0, 1, 1]],
                      [[0.5, 0.5, 0.6, 0.6], [0.2, 0.3, 0.4, 0.35], [0, 0, 0, 0]]], np.float32)
    meta = np.stack([compose_image_meta(0, (256, 256, 3), (256, 256, 3), (0, 0, 256, 256), 1,
                                        np.ones(3))] * 2).astype(np.float32)
    pooled = PyramidROIAlign([7, 7])([boxes, meta] + maps).numpy()
    assert pooled.shape == (2, 3, 7, 7, 3)
    for b in range(2):
        for n in range(3):
            y1, x1, y2, x2 = boxes[b, n]
            size = np.sqrt((y2 - y1) * (x2 - x1)) * image_size
            level = 2 if size == 0 else int(min(5, max(2, 4 + np.round(np.log2(size / 224)))))
            expected = reference_roi_align(maps[level - 2][b], boxes[b, n], 7)
            np.testing.assert_allclose(pooled[b, n], expected, atol=1e-4,
                                       err_msg=f"box {b},{n} on P{level}")


def test_detection_targets_sampling_ratio_and_targets():
    config = TinyConfig()
    config.TRAIN_ROIS_PER_IMAGE = 30
    config.ROI_POSITIVE_RATIO = 0.33
    config.USE_MINI_MASK = False
    rng = np.random.default_rng(4)
    gt_boxes = np.array([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.8]], np.float32)
    # Many proposals near the GT boxes (positives) and many far away (negatives).
    near = np.repeat(gt_boxes, 20, axis=0) + rng.normal(0, 0.01, (40, 4)).astype(np.float32)
    far = np.tile(np.array([[0.0, 0.6, 0.1, 0.7]], np.float32), (40, 1))
    proposals = np.concatenate([near, far, np.zeros((20, 4), np.float32)])
    gt_masks = np.zeros((64, 64, 2), bool)
    gt_masks[6:26, 6:26, 0] = True
    gt_masks[32:58, 32:51, 1] = True
    rois, class_ids, deltas, masks = [t.numpy() for t in detection_targets_graph(
        tf.constant(proposals), tf.constant([1, 2], tf.int32), tf.constant(gt_boxes),
        tf.constant(gt_masks), config)]
    positives = int(config.TRAIN_ROIS_PER_IMAGE * config.ROI_POSITIVE_RATIO)
    assert rois.shape == (30, 4)
    # Positives first, exactly the quota; then negatives to keep the ratio.
    assert np.all(class_ids[:positives] > 0)
    assert np.all(class_ids[positives:] == 0)
    negatives = np.sum(np.abs(rois[positives:]).sum(1) > 0)
    assert negatives == int(positives / config.ROI_POSITIVE_RATIO) - positives
    # Targets: deltas decode the ROI onto its GT box; masks are those of the GT.
    overlaps = utils.compute_overlaps(rois[:positives], gt_boxes)
    assigned = overlaps.argmax(1)
    np.testing.assert_array_equal(class_ids[:positives], assigned + 1)
    decoded = utils.apply_box_deltas(rois[:positives], deltas[:positives] * config.BBOX_STD_DEV)
    np.testing.assert_allclose(decoded, gt_boxes[assigned], atol=1e-4)
    assert set(np.unique(masks)) <= {0.0, 1.0}
    assert masks[:positives].mean() > 0.5 and np.all(masks[positives:] == 0)
