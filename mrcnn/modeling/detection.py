"""Detection layer: classifier output + proposals -> final detections."""
import keras
import tensorflow as tf

from mrcnn.image_meta import parse_image_meta_graph
from mrcnn.modeling.box_ops import apply_box_deltas_graph, clip_boxes_graph, norm_boxes_graph
from mrcnn.modeling.precision import Float32Layer
from mrcnn.modeling.settings import Settings, settings_of


def refine_detections_graph(rois, probs, deltas, window, config):
    """Refine classified proposals and filter overlaps and return final
    detections for one image.

    Inputs:
        rois: [N, (y1, x1, y2, x2)] in normalized coordinates
        probs: [N, num_classes]. Class probabilities.
        deltas: [N, num_classes, (dy, dx, log(dh), log(dw))]. Class-specific
                bounding box deltas.
        window: (y1, x1, y2, x2) in normalized coordinates. The part of the image
            that contains the image excluding the padding.

    Returns detections shaped: [DETECTION_MAX_INSTANCES, (y1, x1, y2, x2, class_id, score)]
    where coordinates are normalized, zero-padded.
    """
    max_instances = config.DETECTION_MAX_INSTANCES
    # Class IDs per ROI
    class_ids = tf.argmax(probs, axis=1, output_type=tf.int32)
    # Class probability of the top class of each ROI
    class_scores = tf.gather(probs, class_ids, batch_dims=1)
    # Class-specific bounding box deltas
    deltas_specific = tf.gather(deltas, class_ids, batch_dims=1)
    # Apply bounding box deltas
    # Shape: [boxes, (y1, x1, y2, x2)] in normalized coordinates
    refined_rois = apply_box_deltas_graph(
        rois, deltas_specific * tf.constant(config.BBOX_STD_DEV, tf.float32))
    # Clip boxes to image window
    refined_rois = clip_boxes_graph(refined_rois, window)

    # Filter out background boxes, padding ROIs and low confidence boxes.
    keep = class_ids > 0
    keep = tf.logical_and(keep, tf.reduce_sum(tf.abs(rois), axis=1) > 0)
    if config.DETECTION_MIN_CONFIDENCE:
        keep = tf.logical_and(keep, class_scores >= config.DETECTION_MIN_CONFIDENCE)
    # Boxes that collapsed to nothing after clipping are not detections.
    keep = tf.logical_and(keep, refined_rois[:, 2] > refined_rois[:, 0])
    keep = tf.logical_and(keep, refined_rois[:, 3] > refined_rois[:, 1])
    keep_ix = tf.where(keep)[:, 0]

    pre_rois = tf.gather(refined_rois, keep_ix)
    pre_class_ids = tf.gather(class_ids, keep_ix)
    pre_scores = tf.gather(class_scores, keep_ix)

    # Per-class NMS in a single call: shifting each class's boxes by a
    # distinct offset keeps boxes of different classes from ever overlapping.
    offsets = tf.cast(pre_class_ids, tf.float32)[:, None] * 2.0
    nms_ix = tf.image.non_max_suppression(
        pre_rois + offsets, pre_scores, max_output_size=max_instances,
        iou_threshold=config.DETECTION_NMS_THRESHOLD)

    # Arrange output as [N, (y1, x1, y2, x2, class_id, score)]
    detections = tf.concat([
        tf.gather(pre_rois, nms_ix),
        tf.cast(tf.gather(pre_class_ids, nms_ix), tf.float32)[:, None],
        tf.gather(pre_scores, nms_ix)[:, None]
    ], axis=1)

    # Pad with zeros if detections < DETECTION_MAX_INSTANCES
    gap = max_instances - tf.shape(detections)[0]
    return tf.pad(detections, [(0, gap), (0, 0)], "CONSTANT")


@keras.saving.register_keras_serializable(package="mrcnn")
class DetectionLayer(Float32Layer):
    """Takes classified proposal boxes and their bounding box deltas and
    returns the final detection boxes.

    Inputs: rois [batch, N, 4], mrcnn_class [batch, N, num_classes],
        mrcnn_bbox [batch, N, num_classes, 4], image_meta [batch, META].

    Returns:
    [batch, num_detections, (y1, x1, y2, x2, class_id, class_score)] where
    coordinates are normalized.
    """

    SETTINGS = ("DETECTION_MAX_INSTANCES", "DETECTION_MIN_CONFIDENCE",
                "DETECTION_NMS_THRESHOLD", "BBOX_STD_DEV")

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
        rois, mrcnn_class, mrcnn_bbox, image_meta = inputs

        # Get windows of images in normalized coordinates. Windows are the area
        # in the image that excludes the padding.
        m = parse_image_meta_graph(image_meta)
        image_shape = m["image_shape"][0]
        window = norm_boxes_graph(m["window"], image_shape[:2])

        return tf.map_fn(
            lambda args: refine_detections_graph(*args, self.config),
            (rois, mrcnn_class, mrcnn_bbox, window),
            fn_output_signature=tf.TensorSpec([self.config.DETECTION_MAX_INSTANCES, 6],
                                              tf.float32))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.config.DETECTION_MAX_INSTANCES, 6)
