"""Anchors: constants of the image shape.

Anchors are computed in NumPy once per image shape and cached; they are never
trainable variables and never tied to the batch size.
"""
import functools

import numpy as np

from mrcnn.backbones import get_backbone
from mrcnn.boxes import norm_boxes


def compute_backbone_shapes(config, image_shape):
    """The [height, width] of each feature map the anchors are laid on, as
    the registered backbone of `config.BACKBONE` computes them.

    Returns: int [N, (height, width)] where N is the number of pyramid levels.
    """
    spec = get_backbone(config.BACKBONE, getattr(config, "COMPUTE_BACKBONE_SHAPE", None))
    return spec.feature_shapes(image_shape, config.BACKBONE_STRIDES)


def generate_anchors(scales, ratios, shape, feature_stride, anchor_stride):
    """Anchors of one feature map.

    scales: 1D array of anchor sizes in pixels. Example: [32, 64, 128]
    ratios: 1D array of anchor ratios of width/height. Example: [0.5, 1, 2]
    shape: [height, width] spatial shape of the feature map over which
            to generate anchors.
    feature_stride: Stride of the feature map relative to the image in pixels.
    anchor_stride: Stride of anchors on the feature map. For example, if the
        value is 2 then generate anchors for every other feature map pixel.

    Returns: float [N, (y1, x1, y2, x2)] in pixels, ordered by position
    (row-major) then by (scale, ratio).
    """
    # Get all combinations of scales and ratios
    scales, ratios = np.meshgrid(np.array(scales), np.array(ratios))
    scales = scales.flatten()
    ratios = ratios.flatten()

    # Enumerate heights and widths from scales and ratios
    heights = scales / np.sqrt(ratios)
    widths = scales * np.sqrt(ratios)

    # Enumerate shifts in feature space
    shifts_y = np.arange(0, shape[0], anchor_stride) * feature_stride
    shifts_x = np.arange(0, shape[1], anchor_stride) * feature_stride
    shifts_x, shifts_y = np.meshgrid(shifts_x, shifts_y)

    # Enumerate combinations of shifts, widths, and heights
    box_widths, box_centers_x = np.meshgrid(widths, shifts_x)
    box_heights, box_centers_y = np.meshgrid(heights, shifts_y)

    # Reshape to get a list of (y, x) and a list of (h, w)
    box_centers = np.stack([box_centers_y, box_centers_x], axis=2).reshape([-1, 2])
    box_sizes = np.stack([box_heights, box_widths], axis=2).reshape([-1, 2])

    # Convert to corner coordinates (y1, x1, y2, x2)
    boxes = np.concatenate([box_centers - 0.5 * box_sizes,
                            box_centers + 0.5 * box_sizes], axis=1)
    return boxes


def generate_pyramid_anchors(scales, ratios, feature_shapes, feature_strides, anchor_stride):
    """Generate anchors at different levels of a feature pyramid. Each scale
    is associated with a level of the pyramid, but each ratio is used in
    all levels of the pyramid.

    Returns:
    anchors: float [N, (y1, x1, y2, x2)]. All generated anchors in one array.
        Sorted with the same order of the given scales. So, anchors of scale[0]
        come first, then anchors of scale[1], and so on.
    """
    # Anchors
    # [anchor_count, (y1, x1, y2, x2)]
    anchors = []
    for i in range(len(scales)):
        anchors.append(generate_anchors(scales[i], ratios, feature_shapes[i],
                                        feature_strides[i], anchor_stride))
    return np.concatenate(anchors, axis=0)


@functools.lru_cache(maxsize=16)
def _cached_anchors(scales, ratios, shapes, strides, anchor_stride, image_hw):
    anchors = generate_pyramid_anchors(
        scales, ratios, np.array(shapes), strides, anchor_stride)
    normed = norm_boxes(anchors, image_hw)
    # Shared between callers through the cache: make accidental edits fail.
    anchors.flags.writeable = False
    normed.flags.writeable = False
    return anchors, normed


def get_anchors(config, image_shape, normalized=True):
    """All anchors of an image of `image_shape` for `config`, cached.

    Returns: float32 [num_anchors, (y1, x1, y2, x2)], normalized coordinates
    by default (as the network uses them), pixels with normalized=False.
    """
    backbone_shapes = compute_backbone_shapes(config, image_shape)
    pixels, normed = _cached_anchors(
        tuple(config.RPN_ANCHOR_SCALES), tuple(config.RPN_ANCHOR_RATIOS),
        tuple(map(tuple, backbone_shapes.tolist())), tuple(config.BACKBONE_STRIDES),
        config.RPN_ANCHOR_STRIDE, tuple(int(v) for v in image_shape[:2]))
    return normed if normalized else pixels


def pyramid_anchors_graph(config, image_hw):
    """The anchors of `get_anchors` computed in TensorFlow, for inputs whose
    size is only known when the graph runs (IMAGE_RESIZE_MODE pad64/none).

    image_hw: int32 [2] tensor (height, width) of the molded input.

    Returns: float32 [num_anchors, (y1, x1, y2, x2)] normalized, in the same
    order as `get_anchors(config, image_shape)`.
    """
    import tensorflow as tf

    hw = tf.cast(image_hw, tf.float32)
    ratios = np.asarray(config.RPN_ANCHOR_RATIOS, dtype=np.float32)
    levels = []
    for scale, stride in zip(config.RPN_ANCHOR_SCALES, config.BACKBONE_STRIDES):
        heights = tf.constant(scale / np.sqrt(ratios), tf.float32)
        widths = tf.constant(scale * np.sqrt(ratios), tf.float32)
        feat = tf.cast(tf.math.ceil(hw / stride), tf.int32)
        shifts_y = tf.cast(tf.range(0, feat[0], config.RPN_ANCHOR_STRIDE) * stride, tf.float32)
        shifts_x = tf.cast(tf.range(0, feat[1], config.RPN_ANCHOR_STRIDE) * stride, tf.float32)
        shifts_x, shifts_y = tf.meshgrid(shifts_x, shifts_y)
        cy = tf.reshape(shifts_y, [-1, 1])
        cx = tf.reshape(shifts_x, [-1, 1])
        boxes = tf.stack([cy - 0.5 * heights, cx - 0.5 * widths,
                          cy + 0.5 * heights, cx + 0.5 * widths], axis=-1)
        levels.append(tf.reshape(boxes, [-1, 4]))
    anchors = tf.concat(levels, axis=0)
    scale = tf.stack([hw[0] - 1, hw[1] - 1, hw[0] - 1, hw[1] - 1])
    return (anchors - tf.constant([0., 0., 1., 1.])) / scale
