"""Each loss on a case computed by hand."""
import numpy as np
import tensorflow as tf

from mrcnn.modeling import losses as L


def test_rpn_class_loss_hand_computed():
    match = tf.constant([[[1], [-1], [0]]], tf.int32)
    logits = tf.constant([[[0.0, 2.0], [1.0, 0.0], [5.0, -5.0]]])
    expected = (np.log(1 + np.exp(-2.0)) + np.log(1 + np.exp(-1.0))) / 2  # neutral ignored
    np.testing.assert_allclose(L.rpn_class_loss_graph(match, logits).numpy(), expected, rtol=1e-6)


def test_rpn_bbox_loss_uses_only_positives_in_order():
    match = tf.constant([[[0], [1], [-1], [1]], [[1], [0], [0], [0]]], tf.int32)
    # Targets are packed: positives' deltas first, zero padded.
    target = tf.constant([[[0.5, 0, 0, 0], [0, 2.0, 0, 0]], [[0, 0, 0, 0], [9, 9, 9, 9]]])
    pred = tf.constant([[[7, 7, 7, 7], [0, 0, 0, 0], [7, 7, 7, 7], [0, 0, 0, 0]],
                        [[0, 0, 0, 1.0], [7, 7, 7, 7], [7, 7, 7, 7], [7, 7, 7, 7]]])
    # smooth-L1: |0.5| -> 0.125, |2| -> 1.5, |1| -> 0.5, over 3 anchors x 4 values
    expected = (0.125 + 1.5 + 0.5) / 12
    np.testing.assert_allclose(L.rpn_bbox_loss_graph(target, match, pred).numpy(), expected,
                               rtol=1e-6)


def test_mrcnn_class_loss_ignores_inactive_classes():
    target = tf.constant([[1, 0]], tf.int32)
    logits = tf.constant([[[0.0, 1.0, 0.0], [0.0, 0.0, 3.0]]])
    active = tf.constant([[1, 1, 0]], tf.float32)  # class 2 not in this image's dataset
    # The second ROI predicts inactive class 2: its loss is erased.
    expected = -np.log(np.exp(1) / (np.exp(1) + 2))
    np.testing.assert_allclose(L.mrcnn_class_loss_graph(target, logits, active).numpy(),
                               expected, rtol=1e-6)


def test_mrcnn_bbox_loss_uses_the_target_class_deltas():
    target_ids = tf.constant([[2, 0]], tf.int32)
    target = tf.constant([[[1.0, 0, 0, 0], [5, 5, 5, 5]]])
    pred = np.zeros((1, 2, 3, 4), np.float32)
    pred[0, 0, 1] = 9.0  # wrong class's deltas must not count
    pred[0, 0, 2] = [0.0, 0.0, 0.0, 0.5]
    expected = (0.5 + 0.125) / 4
    np.testing.assert_allclose(
        L.mrcnn_bbox_loss_graph(target, target_ids, tf.constant(pred)).numpy(), expected,
        rtol=1e-6)


def test_mrcnn_mask_loss_binary_cross_entropy_of_the_class_mask():
    target_ids = tf.constant([[1, 0]], tf.int32)
    target_masks = np.zeros((1, 2, 2, 2), np.float32)
    target_masks[0, 0, 0, 0] = 1.0
    logits = np.zeros((1, 2, 2, 2, 2), np.float32)
    logits[0, 0, :, :, 1] = [[2.0, 0.0], [0.0, -1.0]]
    logits[0, 0, :, :, 0] = 50.0  # background channel is ignored
    bce = [np.log(1 + np.exp(-2.0)), np.log(2), np.log(2), np.log(1 + np.exp(-1.0))]
    np.testing.assert_allclose(
        L.mrcnn_mask_loss_graph(tf.constant(target_masks), target_ids, tf.constant(logits)).numpy(),
        np.mean(bce), rtol=1e-6)


def test_losses_are_zero_not_nan_without_positives():
    match = tf.zeros((1, 4, 1), tf.int32)
    assert L.rpn_class_loss_graph(match, tf.zeros((1, 4, 2))).numpy() == 0.0
    assert L.rpn_bbox_loss_graph(tf.zeros((1, 2, 4)), match, tf.zeros((1, 4, 4))).numpy() == 0.0
    ids = tf.zeros((1, 3), tf.int32)
    assert L.mrcnn_bbox_loss_graph(tf.zeros((1, 3, 4)), ids, tf.zeros((1, 3, 2, 4))).numpy() == 0
    assert L.mrcnn_mask_loss_graph(tf.zeros((1, 3, 4, 4)), ids,
                                   tf.zeros((1, 3, 4, 4, 2))).numpy() == 0.0


def test_weight_decay_matches_matterport_formula():
    import keras

    layer = keras.layers.Dense(2, name="d")
    layer.build((None, 3))
    layer.kernel.assign(np.arange(6, dtype=np.float32).reshape(3, 2))
    layer.bias.assign([100.0, 100.0])  # biases are not decayed
    expected = 0.01 * np.sum(np.arange(6) ** 2) / 6
    with tf.GradientTape() as tape:
        value = L.weight_decay_loss(layer.trainable_weights, 0.01)
    np.testing.assert_allclose(value.numpy(), expected, rtol=1e-6)
    kernel_gradient, bias_gradient = tape.gradient(value, [layer.kernel.value, layer.bias.value])
    np.testing.assert_allclose(kernel_gradient.numpy(),
                               2 * 0.01 * np.arange(6).reshape(3, 2) / 6, rtol=1e-6)
    assert bias_gradient is None
    assert float(L.weight_decay_loss(layer.trainable_weights, 0.0)) == 0.0
