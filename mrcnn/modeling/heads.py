"""The second-stage heads: classifier/box regressor and mask predictor.

matterport wrapped every head layer in TimeDistributed. Here the ROI axis is
merged into the batch axis once, plain layers run on [batch * rois, ...]
(faster, and the same kernels, so weights still load by name), and the result
is split back.
"""
import keras
import tensorflow as tf
from keras import layers

from mrcnn.modeling.precision import FLOAT32, Float32Layer
from mrcnn.modeling.roi_align import PyramidROIAlign
from mrcnn.normalizations import as_norm


@keras.saving.register_keras_serializable(package="mrcnn")
class MergeRoiAxis(Float32Layer):
    """[batch, rois, ...] -> [batch * rois, ...]."""

    def call(self, x):
        shape = tf.shape(x)
        return tf.reshape(x, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))

    def compute_output_shape(self, input_shape):
        batch, rois = input_shape[0], input_shape[1]
        merged = batch * rois if batch is not None and rois is not None else None
        return (merged,) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package="mrcnn")
class SplitRoiAxis(Float32Layer):
    """[batch * rois, ...] -> [batch, rois, ...] with `num_rois` given."""

    def __init__(self, num_rois, **kwargs):
        super().__init__(**kwargs)
        self.num_rois = int(num_rois)

    def call(self, x):
        shape = tf.shape(x)
        return tf.reshape(x, tf.concat([[-1, self.num_rois], shape[1:]], axis=0))

    def compute_output_shape(self, input_shape):
        return (None, self.num_rois) + tuple(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config["num_rois"] = self.num_rois
        return config


@keras.saving.register_keras_serializable(package="mrcnn")
class CompactRois(Float32Layer):
    """Keep the rows of [batch * rois, ...] whose ROI is real.

    Inputs: x [batch * rois, ...], valid bool [batch, rois].
    Returns [valid rois + 1, ...]: the valid rows in row order, then one row
    of zeros. TensorFlow 2.21's CPU Conv2D given an empty batch returns its
    input unchanged (wrong channel count), which broke detect() on images
    without detections; the extra row keeps the batch non-empty and
    ExpandRois drops it.
    """

    def call(self, inputs):
        x, valid = inputs
        kept = tf.boolean_mask(x, tf.reshape(valid, [-1]))
        return tf.concat([kept, tf.zeros_like(x[:1])], axis=0)

    def compute_output_shape(self, input_shape):
        return (None,) + tuple(input_shape[0][1:])


@keras.saving.register_keras_serializable(package="mrcnn")
class ExpandRois(Float32Layer):
    """The inverse of CompactRois: zeros where the ROI was padding.

    Inputs: x [valid rois + 1, ...] (CompactRois' output after the head),
        valid bool [batch, rois].
    Returns [batch * rois, ...].
    """

    def call(self, inputs):
        x, valid = inputs
        x = x[:-1]
        flat = tf.reshape(valid, [-1])
        indices = tf.cast(tf.where(flat), tf.int32)
        shape = tf.concat([tf.shape(flat), tf.shape(x)[1:]], axis=0)
        return tf.scatter_nd(indices, x, shape)

    def compute_output_shape(self, input_shape):
        return (None,) + tuple(input_shape[0][1:])


def fpn_classifier_graph(rois, feature_maps, image_meta, pool_size, num_classes,
                         train_bn=True, fc_layers_size=1024, roi_valid=None, norm=None):
    """Builds the computation graph of the feature pyramid network classifier
    and regressor heads.

    rois: [batch, num_rois, (y1, x1, y2, x2)] Proposal boxes in normalized
          coordinates.
    feature_maps: List of feature maps from different layers of the pyramid,
                  [P2, P3, P4, P5]. Each has a different resolution.
    image_meta: [batch, (meta data)] Image details. See compose_image_meta()
    pool_size: The width of the square feature map generated from ROI Pooling.
    num_classes: number of classes, which determines the depth of the results
    train_bn: without `norm`, whether its BatchNorm layers learn statistics
        (matterport's signature).
    fc_layers_size: Size of the 2 FC layers
    roi_valid: optional bool [batch, num_rois]: run the head only on these
        ROIs (the real proposals at inference; the zero padding gets zero
        logits, probabilities and deltas). The first FC layer costs
        12.8 MMAC per ROI, and on small images or with a trained RPN far
        fewer than POST_NMS_ROIS_INFERENCE proposals survive NMS.
    norm: the factory of its normalization layers, callable(layer name) ->
        layer (an mrcnn.normalizations.Normalization); None: BatchNorm.

    Returns:
        logits: float32 [batch, num_rois, NUM_CLASSES] classifier logits (before softmax)
        probs: float32 [batch, num_rois, NUM_CLASSES] classifier probabilities
        bbox_deltas: float32 [batch, num_rois, NUM_CLASSES, (dy, dx, log(dh), log(dw))]
                     Deltas to apply to proposal boxes
    """
    norm = as_norm(norm, train_bn)
    num_rois = rois.shape[1]
    # ROI Pooling
    # Shape: [batch, num_rois, POOL_SIZE, POOL_SIZE, channels]
    x = PyramidROIAlign([pool_size, pool_size], name="roi_align_classifier")(
        [rois, image_meta] + list(feature_maps))
    x = MergeRoiAxis(name="mrcnn_class_merge_rois")(x)
    if roi_valid is not None:
        x = CompactRois(name="mrcnn_class_valid_rois")([x, roi_valid])
    # Two 1024 FC layers (implemented with Conv2D for consistency)
    x = layers.Conv2D(fc_layers_size, (pool_size, pool_size), padding="valid",
                      name="mrcnn_class_conv1")(x)
    x = norm("mrcnn_class_bn1")(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(fc_layers_size, (1, 1), name="mrcnn_class_conv2")(x)
    x = norm("mrcnn_class_bn2")(x)
    x = layers.Activation("relu")(x)

    shared = layers.Reshape((fc_layers_size,), name="pool_squeeze")(x)

    # Classifier head
    mrcnn_class_logits = layers.Dense(num_classes, name="mrcnn_class_logits",
                                      dtype=FLOAT32)(shared)
    # BBox head
    # [batch * num_rois, NUM_CLASSES * (dy, dx, log(dh), log(dw))]
    x = layers.Dense(num_classes * 4, activation="linear", name="mrcnn_bbox_fc",
                     dtype=FLOAT32)(shared)
    if roi_valid is None:
        mrcnn_class_logits = SplitRoiAxis(num_rois, name="mrcnn_class_logits_rois")(
            mrcnn_class_logits)
        mrcnn_probs = layers.Activation("softmax", name="mrcnn_class", dtype=FLOAT32)(
            mrcnn_class_logits)
    else:
        # Softmax before expanding, so padding gets probabilities of zero.
        mrcnn_probs = layers.Activation("softmax", name="mrcnn_class_compact", dtype=FLOAT32)(
            mrcnn_class_logits)
        mrcnn_probs = ExpandRois(name="mrcnn_class_all_rois")([mrcnn_probs, roi_valid])
        mrcnn_probs = SplitRoiAxis(num_rois, name="mrcnn_class")(mrcnn_probs)
        mrcnn_class_logits = ExpandRois(name="mrcnn_class_logits_all_rois")(
            [mrcnn_class_logits, roi_valid])
        mrcnn_class_logits = SplitRoiAxis(num_rois, name="mrcnn_class_logits_rois")(
            mrcnn_class_logits)
        x = ExpandRois(name="mrcnn_bbox_all_rois")([x, roi_valid])
    x = SplitRoiAxis(num_rois, name="mrcnn_bbox_rois")(x)
    # Reshape to [batch, num_rois, NUM_CLASSES, (dy, dx, log(dh), log(dw))]
    mrcnn_bbox = layers.Reshape((num_rois, num_classes, 4), name="mrcnn_bbox", dtype=FLOAT32)(x)

    return mrcnn_class_logits, mrcnn_probs, mrcnn_bbox


def build_fpn_mask_graph(rois, feature_maps, image_meta, pool_size, num_classes, train_bn=True,
                         roi_valid=None, conv_channels=256, norm=None):
    """Builds the computation graph of the mask head of Feature Pyramid Network.

    rois: [batch, num_rois, (y1, x1, y2, x2)] Proposal boxes in normalized
          coordinates.
    feature_maps: List of feature maps from different layers of the pyramid,
                  [P2, P3, P4, P5]. Each has a different resolution.
    image_meta: [batch, (meta data)] Image details. See compose_image_meta()
    pool_size: The width of the square feature map generated from ROI Pooling.
    num_classes: number of classes, which determines the depth of the results
    train_bn: without `norm`, whether its BatchNorm layers learn statistics
        (matterport's signature).
    roi_valid: optional bool [batch, num_rois]: run the convolutions only on
        these ROIs (the real detections at inference, the positive ROIs in
        training; the others get zero logits). The mask head is the
        costliest stage of inference (0.46 GMAC per ROI), a trained model
        rarely fills all DETECTION_MAX_INSTANCES slots, and in training no
        loss reads the masks of negative ROIs.
    conv_channels: channels of the four convolutions and the deconvolution
        (Config.MASK_HEAD_CONV_CHANNELS; matterport's 256).
    norm: as for fpn_classifier_graph.

    Returns: mask logits, float32
        [batch, num_rois, MASK_POOL_SIZE * 2, MASK_POOL_SIZE * 2, NUM_CLASSES];
        apply a sigmoid for probabilities.
    """
    norm = as_norm(norm, train_bn)
    num_rois = rois.shape[1]
    # ROI Pooling
    # Shape: [batch, num_rois, MASK_POOL_SIZE, MASK_POOL_SIZE, channels]
    x = PyramidROIAlign([pool_size, pool_size], name="roi_align_mask")(
        [rois, image_meta] + list(feature_maps))
    x = MergeRoiAxis(name="mrcnn_mask_merge_rois")(x)
    if roi_valid is not None:
        x = CompactRois(name="mrcnn_mask_valid_rois")([x, roi_valid])

    # Conv layers
    for i in range(1, 5):
        x = layers.Conv2D(conv_channels, (3, 3), padding="same", name=f"mrcnn_mask_conv{i}")(x)
        x = norm(f"mrcnn_mask_bn{i}")(x)
        x = layers.Activation("relu")(x)

    x = layers.Conv2DTranspose(conv_channels, (2, 2), strides=2, activation="relu",
                               name="mrcnn_mask_deconv")(x)
    # matterport put the sigmoid inside this layer; keeping the logits lets
    # the loss use the numerically stable cross-entropy. Same weights.
    x = layers.Conv2D(num_classes, (1, 1), strides=1, activation="linear", name="mrcnn_mask",
                      dtype=FLOAT32)(x)
    if roi_valid is not None:
        x = ExpandRois(name="mrcnn_mask_all_rois")([x, roi_valid])
    return SplitRoiAxis(num_rois, name="mrcnn_mask_logits")(x)
