"""The import paths and helpers that matterport tutorials use."""
import urllib.error

import pytest


def test_tutorial_import_paths():
    from mrcnn import utils, visualize  # noqa: F401
    from mrcnn.config import Config  # noqa: F401
    import mrcnn.model as modellib
    from mrcnn.model import log  # noqa: F401

    for name in ("MaskRCNN", "load_image_gt", "mold_image", "compose_image_meta", "log",
                 "parse_image_meta", "unmold_image", "build_rpn_targets", "data_generator",
                 "generate_random_rois", "build_detection_targets"):
        assert callable(getattr(modellib, name)), name
    for name in ("ancestor", "run_graph", "detect", "find_last", "set_trainable", "get_anchors"):
        assert callable(getattr(modellib.MaskRCNN, name)), name
    for name in ("Dataset", "compute_ap", "compute_ap_range", "compute_recall", "compute_matches",
                 "compute_overlaps", "compute_overlaps_masks", "compute_iou", "extract_bboxes",
                 "resize_image", "resize_mask", "minimize_mask", "expand_mask",
                 "non_max_suppression", "box_refinement", "generate_pyramid_anchors",
                 "download_trained_weights", "norm_boxes", "denorm_boxes"):
        assert callable(getattr(utils, name)), name


def test_download_trained_weights_offline_names_url_and_path(tmp_path, monkeypatch):
    from mrcnn import utils, weights

    def offline(url):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(weights, "_urlopen", offline)
    target = tmp_path / "mask_rcnn_coco.h5"
    with pytest.raises(FileNotFoundError) as error:
        utils.download_trained_weights(str(target))
    assert utils.COCO_MODEL_URL in str(error.value) and str(target) in str(error.value)
    assert not target.exists() and not list(tmp_path.iterdir())


MATTERPORT_MODEL_GRAPH_NAMES = (
    "BatchNorm", "identity_block", "conv_block", "resnet_graph", "apply_box_deltas_graph",
    "clip_boxes_graph", "ProposalLayer", "log2_graph", "PyramidROIAlign", "overlaps_graph",
    "detection_targets_graph", "DetectionTargetLayer", "refine_detections_graph",
    "DetectionLayer", "rpn_graph", "fpn_classifier_graph", "build_fpn_mask_graph",
    "smooth_l1_loss", "rpn_class_loss_graph", "rpn_bbox_loss_graph", "mrcnn_class_loss_graph",
    "mrcnn_bbox_loss_graph", "mrcnn_mask_loss_graph", "parse_image_meta_graph",
    "trim_zeros_graph", "batch_pack_graph", "norm_boxes_graph", "denorm_boxes_graph",
    "build_rpn_model")


def test_matterports_graph_functions_are_importable_from_mrcnn_model():
    import mrcnn.model as modellib
    from mrcnn import utils

    for name in MATTERPORT_MODEL_GRAPH_NAMES:
        assert callable(getattr(modellib, name)), name
    assert callable(utils.box_refinement_graph) and callable(utils.batch_slice)


def test_batch_slice_runs_a_function_per_image_and_stacks():
    import numpy as np
    import tensorflow as tf

    from mrcnn import utils

    boxes = tf.reshape(tf.range(24.0), (3, 2, 4))
    scale = tf.constant([1.0, 2.0, 3.0])
    both = utils.batch_slice([boxes, scale], lambda b, s: (b * s, tf.reduce_sum(b)), 3)
    assert np.allclose(both[0].numpy()[2], boxes.numpy()[2] * 3)
    assert both[1].numpy().tolist() == [28.0, 92.0, 156.0]
    one = utils.batch_slice(boxes, lambda b: b[0], 2, names=["first"])
    assert one.shape == (2, 4) and one.numpy()[1].tolist() == [8.0, 9.0, 10.0, 11.0]


def test_trainable_layers_are_those_with_weights(tmp_path):
    from tiny import TinyConfig

    import mrcnn.model as modellib

    model = modellib.MaskRCNN("training", TinyConfig(), str(tmp_path))
    layers = model.get_trainable_layers()
    names = [layer.name for layer in layers]
    assert "mrcnn_class_logits" in names and "fpn_p2" in names
    assert all(layer.weights for layer in layers) and "ROI" not in names
    assert model.find_trainable_layer(layers[0]) is layers[0]


def test_build_rpn_model_is_matterports_one_level_rpn():
    import numpy as np

    import mrcnn.model as modellib

    rpn = modellib.build_rpn_model(anchor_stride=1, anchors_per_location=3, depth=8)
    assert rpn.name == "rpn_model"
    assert {"rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred"} <= {l.name for l in rpn.layers}
    logits, probs, bbox = rpn(np.zeros((2, 4, 5, 8), np.float32))
    assert logits.shape == (2, 4 * 5 * 3, 2) and bbox.shape == (2, 60, 4)
    assert np.allclose(np.asarray(probs).sum(-1), 1)
