"""Detection target layer: sample proposals and give each its training targets
(class, box refinement, mask) for the second stage."""
import keras
import tensorflow as tf

from mrcnn.modeling.box_ops import box_refinement_graph, overlaps_graph, trim_zeros_graph
from mrcnn.modeling.precision import Float32Layer
from mrcnn.modeling.settings import Settings, settings_of


def detection_targets_graph(proposals, gt_class_ids, gt_boxes, gt_masks, config):
    """Generates detection targets for one image. Subsamples proposals and
    generates target class IDs, bounding box deltas, and masks for each.

    Inputs:
    proposals: [POST_NMS_ROIS_TRAINING, (y1, x1, y2, x2)] in normalized coordinates. Might
               be zero padded if there are not enough proposals.
    gt_class_ids: [MAX_GT_INSTANCES] int class IDs; negative ids mark crowd regions.
    gt_boxes: [MAX_GT_INSTANCES, (y1, x1, y2, x2)] in normalized coordinates.
    gt_masks: [height, width, MAX_GT_INSTANCES] of boolean type.

    Returns: Target ROIs and corresponding class IDs, bounding box shifts,
    and masks.
    rois: [TRAIN_ROIS_PER_IMAGE, (y1, x1, y2, x2)] in normalized coordinates
    class_ids: [TRAIN_ROIS_PER_IMAGE]. Integer class IDs. Zero padded.
    deltas: [TRAIN_ROIS_PER_IMAGE, (dy, dx, log(dh), log(dw))]
    masks: [TRAIN_ROIS_PER_IMAGE, height, width]. Masks cropped to bbox
           boundaries and resized to neural network output size.

    Note: Returned arrays might be zero padded if not enough target ROIs.

    Unlike matterport, the ground-truth boxes are added to the proposals (as
    Detectron and torchvision do): while the RPN is still poor, early in
    training from scratch, the heads then always see positive examples.
    """
    # Remove zero padding
    proposals, _ = trim_zeros_graph(proposals, name="trim_proposals")
    gt_boxes, non_zeros = trim_zeros_graph(gt_boxes, name="trim_gt_boxes")
    gt_class_ids = tf.boolean_mask(gt_class_ids, non_zeros, name="trim_gt_class_ids")
    gt_masks = tf.boolean_mask(tf.transpose(gt_masks, [2, 0, 1]), non_zeros, name="trim_gt_masks")

    # Handle COCO crowds
    # A crowd box in COCO is a bounding box around several instances. Exclude
    # them from training. A crowd box is given a negative class ID.
    crowd_ix = tf.where(gt_class_ids < 0)[:, 0]
    non_crowd_ix = tf.where(gt_class_ids > 0)[:, 0]
    crowd_boxes = tf.gather(gt_boxes, crowd_ix)
    gt_class_ids = tf.gather(gt_class_ids, non_crowd_ix)
    gt_boxes = tf.gather(gt_boxes, non_crowd_ix)
    gt_masks = tf.gather(gt_masks, non_crowd_ix)

    if config.USE_RPN_ROIS:
        proposals = tf.concat([proposals, gt_boxes], axis=0)

    # Compute overlaps matrix [proposals, gt_boxes]
    overlaps = overlaps_graph(proposals, gt_boxes)

    # Compute overlaps with crowd boxes [proposals, crowd_boxes]
    crowd_overlaps = overlaps_graph(proposals, crowd_boxes)
    crowd_iou_max = tf.reduce_max(
        tf.concat([crowd_overlaps, tf.zeros_like(proposals[:, :1])], axis=1), axis=1)
    no_crowd_bool = (crowd_iou_max < 0.001)

    # Determine positive and negative ROIs
    roi_iou_max = tf.reduce_max(
        tf.concat([overlaps, tf.zeros_like(proposals[:, :1])], axis=1), axis=1)
    # 1. Positive ROIs are those with >= 0.5 IoU with a GT box
    positive_roi_bool = (roi_iou_max >= 0.5)
    positive_indices = tf.where(positive_roi_bool)[:, 0]
    # 2. Negative ROIs are those with < 0.5 with every GT box. Skip crowds.
    negative_indices = tf.where(tf.logical_and(roi_iou_max < 0.5, no_crowd_bool))[:, 0]

    # Subsample ROIs. Aim for 33% positive
    # Positive ROIs
    positive_count = int(config.TRAIN_ROIS_PER_IMAGE * config.ROI_POSITIVE_RATIO)
    # The draw is random; the order of what was drawn is not, so that one
    # draw gives one set of float32 sums over ROIs (repeatable gradients).
    positive_indices = tf.sort(tf.random.shuffle(positive_indices)[:positive_count])
    positive_count = tf.shape(positive_indices)[0]
    # Negative ROIs. Add enough to maintain positive:negative ratio.
    r = 1.0 / config.ROI_POSITIVE_RATIO
    negative_count = tf.cast(r * tf.cast(positive_count, tf.float32), tf.int32) - positive_count
    # With no positives, fill the quota with negatives so that the
    # classifier still learns what background looks like.
    negative_count = tf.where(positive_count > 0, negative_count, config.TRAIN_ROIS_PER_IMAGE)
    negative_count = tf.minimum(negative_count, config.TRAIN_ROIS_PER_IMAGE - positive_count)
    negative_indices = tf.sort(tf.random.shuffle(negative_indices)[:negative_count])
    # Gather selected ROIs
    positive_rois = tf.gather(proposals, positive_indices)
    negative_rois = tf.gather(proposals, negative_indices)

    # Assign positive ROIs to GT boxes.
    positive_overlaps = tf.gather(overlaps, positive_indices)
    roi_gt_box_assignment = tf.cond(
        tf.greater(tf.shape(positive_overlaps)[1], 0),
        true_fn=lambda: tf.argmax(positive_overlaps, axis=1),
        false_fn=lambda: tf.cast(tf.constant([]), tf.int64))
    roi_gt_boxes = tf.gather(gt_boxes, roi_gt_box_assignment)
    roi_gt_class_ids = tf.gather(gt_class_ids, roi_gt_box_assignment)

    # Compute bbox refinement for positive ROIs
    deltas = box_refinement_graph(positive_rois, roi_gt_boxes)
    deltas /= tf.constant(config.BBOX_STD_DEV, tf.float32)

    # Assign positive ROIs to GT masks: [N, height, width, 1]
    transposed_masks = tf.expand_dims(tf.cast(gt_masks, tf.float32), -1)
    # Pick the right mask for each ROI
    roi_masks = tf.gather(transposed_masks, roi_gt_box_assignment)

    # Compute mask targets
    boxes = positive_rois
    if config.USE_MINI_MASK:
        # Transform ROI coordinates from normalized image space
        # to normalized mini-mask space.
        y1, x1, y2, x2 = tf.split(positive_rois, 4, axis=1)
        gt_y1, gt_x1, gt_y2, gt_x2 = tf.split(roi_gt_boxes, 4, axis=1)
        gt_h = gt_y2 - gt_y1
        gt_w = gt_x2 - gt_x1
        y1 = (y1 - gt_y1) / gt_h
        x1 = (x1 - gt_x1) / gt_w
        y2 = (y2 - gt_y1) / gt_h
        x2 = (x2 - gt_x1) / gt_w
        boxes = tf.concat([y1, x1, y2, x2], 1)
    box_ids = tf.range(0, tf.shape(roi_masks)[0])
    masks = tf.image.crop_and_resize(roi_masks, boxes, box_ids, config.MASK_SHAPE)
    # Remove the extra dimension from masks.
    masks = tf.squeeze(masks, axis=3)

    # Threshold mask pixels at 0.5 to have GT masks be 0 or 1 to use with
    # binary cross entropy loss.
    masks = tf.round(masks)

    # Append negative ROIs and pad bbox deltas and masks that
    # are not used for negative ROIs with zeros.
    rois = tf.concat([positive_rois, negative_rois], axis=0)
    N = tf.shape(negative_rois)[0]
    P = tf.maximum(config.TRAIN_ROIS_PER_IMAGE - tf.shape(rois)[0], 0)
    rois = tf.pad(rois, [(0, P), (0, 0)])
    roi_gt_class_ids = tf.pad(roi_gt_class_ids, [(0, N + P)])
    deltas = tf.pad(deltas, [(0, N + P), (0, 0)])
    masks = tf.pad(masks, [[0, N + P], (0, 0), (0, 0)])

    return rois, roi_gt_class_ids, deltas, masks


@keras.saving.register_keras_serializable(package="mrcnn")
class DetectionTargetLayer(Float32Layer):
    """Subsamples proposals and generates target box refinement, class_ids,
    and masks for each.

    Inputs:
    proposals: [batch, N, (y1, x1, y2, x2)] in normalized coordinates. Might
               be zero padded if there are not enough proposals.
    gt_class_ids: [batch, MAX_GT_INSTANCES] Integer class IDs.
    gt_boxes: [batch, MAX_GT_INSTANCES, (y1, x1, y2, x2)] in normalized
              coordinates.
    gt_masks: [batch, height, width, MAX_GT_INSTANCES] of boolean type

    Returns: Target ROIs and corresponding class IDs, bounding box shifts,
    and masks.
    rois: float32 [batch, TRAIN_ROIS_PER_IMAGE, (y1, x1, y2, x2)] in normalized coordinates
    target_class_ids: int32 [batch, TRAIN_ROIS_PER_IMAGE]. Integer class IDs.
    target_deltas: float32 [batch, TRAIN_ROIS_PER_IMAGE, (dy, dx, log(dh), log(dw))]
    target_mask: float32 [batch, TRAIN_ROIS_PER_IMAGE, height, width]
                 Masks cropped to bbox boundaries and resized to neural
                 network output size.

    Note: Returned arrays might be zero padded if not enough target ROIs.
    """

    SETTINGS = ("TRAIN_ROIS_PER_IMAGE", "ROI_POSITIVE_RATIO", "USE_RPN_ROIS", "BBOX_STD_DEV",
                "USE_MINI_MASK", "MASK_SHAPE")

    def __init__(self, config=None, settings=None, **kwargs):
        """config: a Config (matterport's argument), or settings: its
        SETTINGS as plain values (what get_config() returns)."""
        super().__init__(**kwargs)
        self.settings = dict(settings) if settings is not None else settings_of(
            config, self.SETTINGS)
        self.config = Settings(self.settings)

    def get_config(self):
        return {**super().get_config(), "settings": self.settings}

    def call(self, inputs):
        proposals, gt_class_ids, gt_boxes, gt_masks = inputs
        config = self.config
        n = config.TRAIN_ROIS_PER_IMAGE
        mask_h, mask_w = config.MASK_SHAPE
        return tf.map_fn(
            lambda args: detection_targets_graph(*args, config),
            (proposals, tf.cast(gt_class_ids, tf.int32), gt_boxes, gt_masks),
            fn_output_signature=(
                tf.TensorSpec([n, 4], tf.float32),
                tf.TensorSpec([n], tf.int32),
                tf.TensorSpec([n, 4], tf.float32),
                tf.TensorSpec([n, mask_h, mask_w], tf.float32)))

    def compute_output_spec(self, proposals, *args, **kwargs):
        n = self.config.TRAIN_ROIS_PER_IMAGE
        batch = proposals[0].shape[0]
        return [
            keras.KerasTensor((batch, n, 4), "float32"),  # rois
            keras.KerasTensor((batch, n), "int32"),  # class_ids
            keras.KerasTensor((batch, n, 4), "float32"),  # deltas
            keras.KerasTensor((batch, n) + tuple(self.config.MASK_SHAPE), "float32"),  # masks
        ]
