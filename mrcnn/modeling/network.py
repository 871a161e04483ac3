"""Assembles the stages into the training and inference graphs.

The mapping from Config to the stages' constructor arguments lives here, in
one place.
"""
import keras
import tensorflow as tf
from keras import layers

from mrcnn.modeling.backbone import build_backbone
from mrcnn.modeling.box_ops import norm_boxes_graph
from mrcnn.modeling.detection import DetectionLayer
from mrcnn.modeling.detection_targets import DetectionTargetLayer
from mrcnn.modeling.heads import build_fpn_mask_graph, fpn_classifier_graph
from mrcnn.modeling.precision import FLOAT32, Float32Layer
from mrcnn.modeling.proposals import ProposalLayer, anchor_settings
from mrcnn.modeling.rpn import rpn_graph


@keras.saving.register_keras_serializable(package="mrcnn")
class NormalizeBoxes(Float32Layer):
    """Pixel boxes [batch, N, (y1, x1, y2, x2)] -> normalized coordinates of
    the input image (whose [batch, H, W, C] tensor is the second input)."""

    def call(self, inputs):
        boxes, image = inputs
        return norm_boxes_graph(boxes, tf.shape(image)[1:3])

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def input_image_shape(config, mode):
    """The input's static shape: fixed for square (and crop when training),
    free otherwise, as the anchors then follow the input at run time."""
    channels = config.IMAGE_CHANNEL_COUNT
    if config.IMAGE_RESIZE_MODE == "square" or (
            config.IMAGE_RESIZE_MODE == "crop" and mode == "training"):
        h, w = int(config.IMAGE_SHAPE[0]), int(config.IMAGE_SHAPE[1])
        return (h, w, channels)
    return (None, None, channels)


def _shared_graph(config, mode, norm):
    shape = input_image_shape(config, mode)
    input_image = keras.Input(shape=shape, name="input_image")
    input_image_meta = keras.Input(shape=(config.IMAGE_META_SIZE,), name="input_image_meta")
    rpn_feature_maps, mrcnn_feature_maps = build_backbone(input_image, config, norm)
    anchors_per_location = len(config.RPN_ANCHOR_RATIOS)
    rpn_class_logits, rpn_class, rpn_bbox = rpn_graph(
        rpn_feature_maps, anchors_per_location, config.RPN_ANCHOR_STRIDE,
        config.RPN_CONV_CHANNELS)
    proposal_count = (config.POST_NMS_ROIS_TRAINING if mode == "training"
                      else config.POST_NMS_ROIS_INFERENCE)
    rpn_rois = ProposalLayer(
        proposal_count=proposal_count, nms_threshold=config.RPN_NMS_THRESHOLD,
        rpn_bbox_std_dev=config.RPN_BBOX_STD_DEV, pre_nms_limit=config.PRE_NMS_LIMIT,
        anchor_config=anchor_settings(config), name="ROI")([rpn_class, rpn_bbox, input_image])
    return (input_image, input_image_meta, mrcnn_feature_maps,
            rpn_class_logits, rpn_class, rpn_bbox, rpn_rois)


def build_training_graph(config, norm):
    """The training graph.

    norm: its normalization (an mrcnn.normalizations.Normalization).

    Returns (inputs, outputs), dicts of KerasTensors:
      inputs: input_image, input_image_meta, input_rpn_match, input_rpn_bbox,
        input_gt_class_ids, input_gt_boxes (pixels), input_gt_masks
        (see mrcnn.data.pipeline.DataGenerator for shapes and dtypes).
      outputs: rpn_class_logits [B, A, 2], rpn_bbox [B, A, 4],
        rpn_rois [B, POST_NMS_ROIS_TRAINING, 4], rois [B, T, 4],
        target_class_ids [B, T], target_bbox [B, T, 4],
        mrcnn_class_logits [B, T, C], mrcnn_class [B, T, C], mrcnn_bbox [B, T, C, 4];
        for the first P ROIs (where the positives are): target_mask [B, P, h, w],
        target_mask_class_ids [B, P], mrcnn_mask_logits [B, P, h, w, C].
        T = TRAIN_ROIS_PER_IMAGE, P = int(T * ROI_POSITIVE_RATIO).
    """
    (input_image, input_image_meta, mrcnn_feature_maps,
     rpn_class_logits, rpn_class, rpn_bbox, rpn_rois) = _shared_graph(config, "training", norm)

    input_rpn_match = keras.Input(shape=(None, 1), name="input_rpn_match", dtype="int32")
    input_rpn_bbox = keras.Input(shape=(None, 4), name="input_rpn_bbox", dtype="float32")
    input_gt_class_ids = keras.Input(shape=(None,), name="input_gt_class_ids", dtype="int32")
    input_gt_boxes = keras.Input(shape=(None, 4), name="input_gt_boxes", dtype="float32")
    if config.USE_MINI_MASK:
        mask_shape = tuple(config.MINI_MASK_SHAPE)
    else:
        mask_shape = input_image_shape(config, "training")[:2]
    input_gt_masks = keras.Input(shape=mask_shape + (None,), name="input_gt_masks", dtype="bool")

    gt_boxes = NormalizeBoxes(name="normalize_gt_boxes")([input_gt_boxes, input_image])

    rois, target_class_ids, target_bbox, target_mask = DetectionTargetLayer(
        config, name="proposal_targets")([rpn_rois, input_gt_class_ids, gt_boxes, input_gt_masks])

    mrcnn_class_logits, mrcnn_class, mrcnn_bbox = fpn_classifier_graph(
        rois, mrcnn_feature_maps, input_image_meta, config.POOL_SIZE, config.NUM_CLASSES,
        fc_layers_size=config.FPN_CLASSIF_FC_LAYERS_SIZE, norm=norm)
    # Only positive ROIs train the mask head, and the target layer puts them
    # first, at most int(TRAIN_ROIS_PER_IMAGE * ROI_POSITIVE_RATIO) of them:
    # running the mask head on those slots alone gives the same loss for a
    # fraction of the cost (the mask head dominates a step on small images).
    mask_slots = max(1, int(config.TRAIN_ROIS_PER_IMAGE * config.ROI_POSITIVE_RATIO))
    mask_rois = rois[:, :mask_slots]
    # Slots past the positives hold negative ROIs (or padding), whose masks
    # no loss reads: the convolutions run on the positives only, and the
    # others get zero logits.
    mask_class_ids = target_class_ids[:, :mask_slots]
    positive = keras.ops.greater(mask_class_ids, 0)
    mrcnn_mask_logits = build_fpn_mask_graph(
        mask_rois, mrcnn_feature_maps, input_image_meta, config.MASK_POOL_SIZE,
        config.NUM_CLASSES, conv_channels=config.MASK_HEAD_CONV_CHANNELS, norm=norm,
        roi_valid=positive)

    inputs = {
        "input_image": input_image,
        "input_image_meta": input_image_meta,
        "input_rpn_match": input_rpn_match,
        "input_rpn_bbox": input_rpn_bbox,
        "input_gt_class_ids": input_gt_class_ids,
        "input_gt_boxes": input_gt_boxes,
        "input_gt_masks": input_gt_masks,
    }
    outputs = {
        "rpn_class_logits": rpn_class_logits,
        "rpn_bbox": rpn_bbox,
        "rpn_rois": rpn_rois,
        "rois": rois,
        "target_class_ids": target_class_ids,
        "target_bbox": target_bbox,
        "target_mask": target_mask[:, :mask_slots],
        "target_mask_class_ids": mask_class_ids,
        "mrcnn_class_logits": mrcnn_class_logits,
        "mrcnn_class": mrcnn_class,
        "mrcnn_bbox": mrcnn_bbox,
        "mrcnn_mask_logits": mrcnn_mask_logits,
    }
    return inputs, outputs


def build_inference_graph(config, norm):
    """The inference graph.

    norm: its normalization (an mrcnn.normalizations.Normalization; an
        inference graph's statistics are never learned).

    Returns (inputs, outputs):
      inputs: dict with input_image [B, H, W, C] float32 molded and
        input_image_meta [B, IMAGE_META_SIZE].
      outputs: dict with detections [B, DETECTION_MAX_INSTANCES,
        (y1, x1, y2, x2, class_id, score)] normalized, mrcnn_class, mrcnn_bbox
        (of the proposals), mrcnn_mask [B, DETECTION_MAX_INSTANCES, h, w, C]
        probabilities for the detections, rpn_rois, rpn_class, rpn_bbox.
    """
    (input_image, input_image_meta, mrcnn_feature_maps,
     _, rpn_class, rpn_bbox, rpn_rois) = _shared_graph(config, "inference", norm)

    # Network Heads
    # Proposal classifier and BBox regressor heads
    # Zero padding of the proposal layer skips the classifier's layers.
    proposal_valid = keras.ops.any(keras.ops.not_equal(rpn_rois, 0.0), axis=-1)
    _, mrcnn_class, mrcnn_bbox = fpn_classifier_graph(
        rpn_rois, mrcnn_feature_maps, input_image_meta, config.POOL_SIZE, config.NUM_CLASSES,
        fc_layers_size=config.FPN_CLASSIF_FC_LAYERS_SIZE, roi_valid=proposal_valid, norm=norm)

    # Detections
    # output is [batch, num_detections, (y1, x1, y2, x2, class_id, score)] in
    # normalized coordinates
    detections = DetectionLayer(config, name="mrcnn_detection")(
        [rpn_rois, mrcnn_class, mrcnn_bbox, input_image_meta])

    # Create masks for detections
    detection_boxes = detections[..., :4]
    # Padding slots (class id 0) skip the mask head's convolutions.
    detection_valid = detections[..., 4] > 0
    mrcnn_mask_logits = build_fpn_mask_graph(
        detection_boxes, mrcnn_feature_maps, input_image_meta, config.MASK_POOL_SIZE,
        config.NUM_CLASSES, roi_valid=detection_valid,
        conv_channels=config.MASK_HEAD_CONV_CHANNELS, norm=norm)
    mrcnn_mask = layers.Activation("sigmoid", name="mrcnn_mask_probs", dtype=FLOAT32)(
        mrcnn_mask_logits)

    inputs = {"input_image": input_image, "input_image_meta": input_image_meta}
    outputs = {
        "detections": detections,
        "mrcnn_class": mrcnn_class,
        "mrcnn_bbox": mrcnn_bbox,
        "mrcnn_mask": mrcnn_mask,
        "rpn_rois": rpn_rois,
        "rpn_class": rpn_class,
        "rpn_bbox": rpn_bbox,
    }
    return inputs, outputs
