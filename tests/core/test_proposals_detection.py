"""Proposal and detection layers on constructed inputs."""
import json

import numpy as np
import tensorflow as tf
from tiny import TinyConfig

from mrcnn import utils
from mrcnn.anchors import get_anchors
from mrcnn.image_meta import compose_image_meta
from mrcnn.modeling.detection import DetectionLayer
from mrcnn.modeling.detection_targets import DetectionTargetLayer
from mrcnn.modeling.proposals import ProposalLayer, anchor_settings


def proposal_layer(config, count):
    return ProposalLayer(proposal_count=count, nms_threshold=0.7,
                         rpn_bbox_std_dev=config.RPN_BBOX_STD_DEV, pre_nms_limit=200,
                         anchor_config=anchor_settings(config))


def test_proposals_follow_scores_and_deltas_and_skip_collapsed_boxes():
    config = TinyConfig()
    anchors = get_anchors(config, (64, 64))
    n = anchors.shape[0]
    scores = np.full((1, n), 0.01, np.float32)
    deltas = np.zeros((1, n, 4), np.float32)
    # The best anchor is shifted off the image (collapses when clipped); the
    # second best is kept and refined by a known delta.
    corner = int(np.argmin(anchors[:, 0] + anchors[:, 1]))
    scores[0, corner] = 0.99
    deltas[0, corner] = [-50.0, -50.0, 0, 0]
    inside = int(np.argmin(np.abs(anchors - [0.25, 0.25, 0.5, 0.5]).sum(1)))
    scores[0, inside] = 0.9
    deltas[0, inside] = [1.0, 0.0, 0.0, 0.0]  # dy of 0.1 box heights after std-dev
    probs = np.stack([1 - scores, scores], axis=-1)
    image = np.zeros((1, 64, 64, 3), np.float32)
    proposals = proposal_layer(config, 10)([probs, deltas, image]).numpy()[0]
    expected = utils.apply_box_deltas(anchors[inside:inside + 1],
                                      np.array([[0.1, 0, 0, 0]]))[0]
    np.testing.assert_allclose(proposals[0], np.clip(expected, 0, 1), atol=1e-5)
    sides = np.minimum(proposals[:, 2] - proposals[:, 0], proposals[:, 3] - proposals[:, 1])
    kept = np.abs(proposals).sum(1) > 0
    assert np.all(sides[kept] >= 1e-3), "collapsed boxes must not become proposals"


def test_detection_layer_refines_filters_and_suppresses():
    config = TinyConfig()
    config.DETECTION_MIN_CONFIDENCE = 0.5
    config.DETECTION_NMS_THRESHOLD = 0.3
    rois = np.array([[[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9],
                      [0.6, 0.6, 0.9, 0.9], [0.0, 0.0, 0.2, 0.2]]], np.float32)
    probs = np.array([[[0.1, 0.9, 0.0], [0.2, 0.8, 0.0], [0.1, 0.0, 0.9], [0.1, 0.85, 0.05],
                       [0.6, 0.4, 0.0]]], np.float32)
    deltas = np.zeros((1, 5, 3, 4), np.float32)
    deltas[0, 2, 2] = [1.0, 0, 0, 0]  # class-2 delta: move down by 0.1 box heights
    meta = compose_image_meta(0, (64, 64, 3), (64, 64, 3), (0, 0, 64, 64), 1, np.ones(3))
    layer = DetectionLayer(config)
    # The layer keeps the settings it reads, as plain values, and a copy
    # made from its config (a saved model's) computes the same.
    settings = json.loads(json.dumps(layer.get_config()))["settings"]
    assert settings == {"DETECTION_MAX_INSTANCES": config.DETECTION_MAX_INSTANCES,
                        "DETECTION_MIN_CONFIDENCE": 0.5, "DETECTION_NMS_THRESHOLD": 0.3,
                        "BBOX_STD_DEV": [0.1, 0.1, 0.2, 0.2]}
    copy = DetectionLayer.from_config(layer.get_config())
    inputs = [rois, probs, deltas, meta[None].astype(np.float32)]
    detections = layer(inputs).numpy()[0]
    np.testing.assert_array_equal(copy(inputs).numpy()[0], detections)
    found = detections[detections[:, 4] > 0]
    # ROI 1 is suppressed by ROI 0 (same class, IoU 0.95); ROI 3 overlaps ROI 2
    # fully but is another class, so both stay; ROI 4 is background.
    assert sorted(found[:, 4].tolist()) == [1, 1, 2]
    by_class = {(int(c), round(float(s), 2)): box for *box, c, s in found}
    np.testing.assert_allclose(by_class[(1, 0.9)], [0.1, 0.1, 0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(by_class[(2, 0.9)], [0.63, 0.6, 0.93, 0.9], atol=1e-5)
    assert np.all(detections[len(found):] == 0)


def test_mask_head_runs_only_on_real_detections_and_pads_with_zeros():
    from mrcnn.modeling.heads import CompactRois, ExpandRois

    x = np.arange(2 * 3 * 2, dtype=np.float32).reshape(6, 2) + 1
    valid = np.array([[True, False, True], [False, False, True]])
    compact = CompactRois()([x, valid]).numpy()
    # The real rows, then one zero row that keeps the batch non-empty.
    np.testing.assert_array_equal(compact, np.concatenate([x[[0, 2, 5]], np.zeros((1, 2))]))
    expanded = ExpandRois()([compact * 10, valid]).numpy()
    np.testing.assert_array_equal(expanded[[0, 2, 5]], x[[0, 2, 5]] * 10)
    assert np.all(expanded[[1, 3, 4]] == 0)
    # No detection at all: only the zero row runs; all zeros come back.
    none = np.zeros((2, 3), bool)
    assert CompactRois()([x, none]).shape[0] == 1
    assert np.all(ExpandRois()([np.ones((1, 2), np.float32), none]).numpy() == 0)


def test_classifier_on_real_proposals_only_matches_the_full_head():
    """At inference the classifier skips the proposal layer's zero padding:
    real rows equal the full head's, padded rows are zeros."""
    import keras

    from mrcnn.modeling.heads import fpn_classifier_graph

    rng = np.random.default_rng(0)
    rois = np.array([[[0.1, 0.1, 0.5, 0.6], [0.2, 0.0, 0.9, 0.4], [0.0, 0.3, 0.2, 0.9],
                      [0, 0, 0, 0], [0, 0, 0, 0]]], np.float32)
    meta = compose_image_meta(0, (64, 64, 3), (64, 64, 3), (0, 0, 64, 64), 1.0,
                              np.ones(3))[None].astype(np.float32)
    maps = [rng.normal(size=(1, 64 // s, 64 // s, 8)).astype(np.float32) for s in (4, 8, 16, 32)]

    def head(compact):
        roi_in = keras.Input((5, 4))
        meta_in = keras.Input((meta.shape[1],))
        map_ins = [keras.Input(m.shape[1:]) for m in maps]
        valid = keras.ops.any(keras.ops.not_equal(roi_in, 0.0), axis=-1) if compact else None
        outputs = fpn_classifier_graph(roi_in, map_ins, meta_in, 7, 3, train_bn=False,
                                       fc_layers_size=16, roi_valid=valid)
        return keras.Model([roi_in, meta_in] + map_ins, list(outputs))

    full, compact = head(False), head(True)
    for layer in full.layers:
        if layer.weights:
            compact.get_layer(layer.name).set_weights(layer.get_weights())
    expected = [t.numpy() for t in full([rois, meta] + maps)]
    got = [t.numpy() for t in compact([rois, meta] + maps)]
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g[:, :3], e[:, :3], rtol=1e-5, atol=1e-6)
        assert np.all(g[:, 3:] == 0)
    np.testing.assert_allclose(got[1][0, :3].sum(-1), 1.0, rtol=1e-5)


def test_detection_target_layer_keeps_only_its_settings():
    config = TinyConfig()
    layer = DetectionTargetLayer(config, name="proposal_targets")
    settings = json.loads(json.dumps(layer.get_config()))["settings"]
    assert set(settings) == set(DetectionTargetLayer.SETTINGS)
    assert settings["TRAIN_ROIS_PER_IMAGE"] == config.TRAIN_ROIS_PER_IMAGE
    assert settings["MASK_SHAPE"] == list(config.MASK_SHAPE)
    copy = DetectionTargetLayer.from_config(layer.get_config())
    assert copy.config.MASK_SHAPE == tuple(config.MASK_SHAPE)
    # Same targets for proposals that are all positives (no random draw).
    proposals = np.array([[[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9]]], np.float32)
    boxes = proposals.copy()
    masks = np.zeros((1,) + tuple(config.MINI_MASK_SHAPE) + (2,), bool)
    masks[:, 10:40, 10:40] = True
    inputs = [proposals, np.array([[1, 2]], np.int32), boxes, masks]
    for expected, got in zip(layer(inputs), copy(inputs)):
        np.testing.assert_array_equal(expected.numpy(), got.numpy())
