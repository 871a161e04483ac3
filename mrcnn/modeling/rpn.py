"""Region Proposal Network: one small conv net shared by all pyramid levels.

Layer names follow matterport (`rpn_conv_shared`, `rpn_class_raw`,
`rpn_bbox_pred`); matterport wrapped them in a sub-model `rpn_model`, here the
same three layers are applied to each level directly (weights load by name
either way, see mrcnn/weights.py).
"""
from keras import layers

from mrcnn.modeling.precision import FLOAT32


def build_rpn_layers(anchors_per_location, anchor_stride, depth=512):
    """The three RPN layers, to be shared across pyramid levels."""
    shared = layers.Conv2D(depth, (3, 3), padding="same", activation="relu",
                           strides=anchor_stride, name="rpn_conv_shared")
    # Anchor score: [batch, height, width, anchors per location * 2].
    class_raw = layers.Conv2D(2 * anchors_per_location, (1, 1), padding="valid",
                              activation="linear", name="rpn_class_raw", dtype=FLOAT32)
    # Bounding box refinement: [batch, H, W, anchors per location * (dy, dx, log(dh), log(dw))]
    bbox_pred = layers.Conv2D(anchors_per_location * 4, (1, 1), padding="valid",
                              activation="linear", name="rpn_bbox_pred", dtype=FLOAT32)
    return shared, class_raw, bbox_pred


def rpn_graph(feature_maps, anchors_per_location, anchor_stride, depth=512):
    """Apply the RPN to every pyramid level and concatenate the results.

    feature_maps: [P2, ..., P6], float32 [batch, H_i, W_i, depth].

    Returns:
        rpn_class_logits: float32 [batch, anchors, 2] Anchor classifier logits (before softmax)
        rpn_probs: float32 [batch, anchors, 2] Anchor classifier probabilities.
        rpn_bbox: float32 [batch, anchors, (dy, dx, log(dh), log(dw))] Deltas to be
                  applied to anchors.
    Anchors are ordered level by level, then row-major, then by ratio, as
    `mrcnn.anchors.get_anchors` orders them.
    """
    shared, class_raw, bbox_pred = build_rpn_layers(anchors_per_location, anchor_stride, depth)
    logits, bboxes = [], []
    for p in feature_maps:
        x = shared(p)
        logits.append(layers.Reshape((-1, 2), dtype=FLOAT32)(class_raw(x)))
        bboxes.append(layers.Reshape((-1, 4), dtype=FLOAT32)(bbox_pred(x)))
    rpn_class_logits = layers.Concatenate(axis=1, name="rpn_class_logits", dtype=FLOAT32)(logits)
    rpn_probs = layers.Activation("softmax", name="rpn_class", dtype=FLOAT32)(rpn_class_logits)
    rpn_bbox = layers.Concatenate(axis=1, name="rpn_bbox", dtype=FLOAT32)(bboxes)
    return rpn_class_logits, rpn_probs, rpn_bbox


def build_rpn_model(anchor_stride, anchors_per_location, depth):
    """matterport's RPN as a model of one feature map (its `rpn_model`), for
    code that builds the RPN on its own; the network here applies the same
    layers to every level (rpn_graph).

    Input: float32 [batch, H, W, depth]. Outputs: rpn_class_logits
    [batch, anchors, 2], rpn_probs [batch, anchors, 2], rpn_bbox
    [batch, anchors, 4] (anchors = H * W * anchors_per_location /
    anchor_stride ** 2).
    """
    import keras

    feature_map = keras.Input(shape=(None, None, depth), name="input_rpn_feature_map")
    outputs = rpn_graph([feature_map], anchors_per_location, anchor_stride, depth)
    return keras.Model(feature_map, list(outputs), name="rpn_model")
