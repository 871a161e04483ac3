"""The five Mask R-CNN losses and the L2 weight decay.

Each returns a float32 scalar. A loss with nothing to measure (no positive
anchors, no positive ROIs) is 0, never NaN.
"""
import tensorflow as tf


def smooth_l1_loss(y_true, y_pred):
    """Implements Smooth-L1 loss.
    y_true and y_pred are typically: [N, 4], but could be any shape.
    """
    diff = tf.abs(y_true - y_pred)
    less_than_one = tf.cast(tf.less(diff, 1.0), tf.float32)
    loss = (less_than_one * 0.5 * diff ** 2) + (1 - less_than_one) * (diff - 0.5)
    return loss


def _mean_or_zero(values):
    return tf.math.divide_no_nan(tf.reduce_sum(values), tf.cast(tf.size(values), tf.float32))


def rpn_class_loss_graph(rpn_match, rpn_class_logits):
    """RPN anchor classifier loss.

    rpn_match: [batch, anchors, 1]. Anchor match type. 1=positive,
               -1=negative, 0=neutral anchor.
    rpn_class_logits: [batch, anchors, 2]. RPN classifier logits for BG/FG.
    """
    # Squeeze last dim to simplify
    rpn_match = tf.squeeze(tf.cast(rpn_match, tf.int32), -1)
    # Get anchor classes. Convert the -1/+1 match to 0/1 values.
    anchor_class = tf.cast(tf.equal(rpn_match, 1), tf.int32)
    # Positive and Negative anchors contribute to the loss,
    # but neutral anchors (match value = 0) don't.
    indices = tf.where(tf.not_equal(rpn_match, 0))
    # Pick rows that contribute to the loss and filter out the rest.
    rpn_class_logits = tf.gather_nd(rpn_class_logits, indices)
    anchor_class = tf.gather_nd(anchor_class, indices)
    # Cross entropy loss
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=anchor_class, logits=rpn_class_logits)
    return _mean_or_zero(loss)


def batch_pack_graph(x, counts):
    """Picks different number of values from each row in x depending on the
    values in counts. x: [batch, max, ...]; counts: int [batch]."""
    mask = tf.sequence_mask(counts, tf.shape(x)[1])
    return tf.boolean_mask(x, mask)


def rpn_bbox_loss_graph(target_bbox, rpn_match, rpn_bbox):
    """Return the RPN bounding box loss graph.

    target_bbox: [batch, max positive anchors, (dy, dx, log(dh), log(dw))].
        Uses 0 padding to fill in unused bbox deltas.
    rpn_match: [batch, anchors, 1]. Anchor match type. 1=positive,
               -1=negative, 0=neutral anchor.
    rpn_bbox: [batch, anchors, (dy, dx, log(dh), log(dw))]
    """
    # Positive anchors contribute to the loss, but negative and
    # neutral anchors (match value of 0 or -1) don't.
    rpn_match = tf.squeeze(tf.cast(rpn_match, tf.int32), -1)
    indices = tf.where(tf.equal(rpn_match, 1))

    # Pick bbox deltas that contribute to the loss
    rpn_bbox = tf.gather_nd(rpn_bbox, indices)

    # Trim target bounding box deltas to the same length as rpn_bbox.
    batch_counts = tf.reduce_sum(tf.cast(tf.equal(rpn_match, 1), tf.int32), axis=1)
    target_bbox = batch_pack_graph(target_bbox, batch_counts)

    loss = smooth_l1_loss(target_bbox, rpn_bbox)
    return _mean_or_zero(loss)


def mrcnn_class_loss_graph(target_class_ids, pred_class_logits, active_class_ids):
    """Loss for the classifier head of Mask RCNN.

    target_class_ids: [batch, num_rois]. Integer class IDs. Uses zero
        padding to fill in the array.
    pred_class_logits: [batch, num_rois, num_classes]
    active_class_ids: [batch, num_classes]. Has a value of 1 for
        classes that are in the dataset of the image, and 0
        for classes that are not in the dataset.
    """
    target_class_ids = tf.cast(target_class_ids, tf.int32)

    # Find predictions of classes that are not in the dataset of each image.
    pred_class_ids = tf.argmax(pred_class_logits, axis=2, output_type=tf.int32)
    pred_active = tf.gather(tf.cast(active_class_ids, tf.float32), pred_class_ids, batch_dims=1)

    # Loss
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=target_class_ids, logits=pred_class_logits)

    # Erase losses of predictions of classes that are not in the active
    # classes of the image.
    loss = loss * pred_active

    # Compute loss mean. Use only predictions that contribute
    # to the loss to get a correct mean.
    return tf.math.divide_no_nan(tf.reduce_sum(loss), tf.reduce_sum(pred_active))


def mrcnn_bbox_loss_graph(target_bbox, target_class_ids, pred_bbox):
    """Loss for Mask R-CNN bounding box refinement.

    target_bbox: [batch, num_rois, (dy, dx, log(dh), log(dw))]
    target_class_ids: [batch, num_rois]. Integer class IDs.
    pred_bbox: [batch, num_rois, num_classes, (dy, dx, log(dh), log(dw))]
    """
    # Reshape to merge batch and roi dimensions for simplicity.
    target_class_ids = tf.reshape(tf.cast(target_class_ids, tf.int32), (-1,))
    target_bbox = tf.reshape(target_bbox, (-1, 4))
    num_classes = tf.shape(pred_bbox)[2]
    pred_bbox = tf.reshape(pred_bbox, (-1, num_classes, 4))

    # Only positive ROIs contribute to the loss. And only
    # the right class_id of each ROI. Get their indices.
    positive_roi_ix = tf.where(target_class_ids > 0)[:, 0]
    positive_roi_class_ids = tf.gather(target_class_ids, positive_roi_ix)
    indices = tf.stack([tf.cast(positive_roi_ix, tf.int32), positive_roi_class_ids], axis=1)

    # Gather the deltas (predicted and true) that contribute to loss
    target_bbox = tf.gather(target_bbox, positive_roi_ix)
    pred_bbox = tf.gather_nd(pred_bbox, indices)

    # Smooth-L1 Loss
    return _mean_or_zero(smooth_l1_loss(target_bbox, pred_bbox))


def mrcnn_mask_loss_graph(target_masks, target_class_ids, pred_mask_logits):
    """Mask binary cross-entropy loss for the masks head.

    target_masks: [batch, num_rois, height, width].
        A float32 tensor of values 0 or 1. Uses zero padding to fill array.
    target_class_ids: [batch, num_rois]. Integer class IDs. Zero padded.
    pred_mask_logits: [batch, proposals, height, width, num_classes] float32
        logits (the sigmoid is applied here, stably).
    """
    # Reshape for simplicity. Merge first two dimensions into one.
    target_class_ids = tf.reshape(tf.cast(target_class_ids, tf.int32), (-1,))
    mask_shape = tf.shape(target_masks)
    target_masks = tf.reshape(target_masks, (-1, mask_shape[2], mask_shape[3]))
    pred_shape = tf.shape(pred_mask_logits)
    pred_masks = tf.reshape(pred_mask_logits, (-1, pred_shape[2], pred_shape[3], pred_shape[4]))
    # Permute predicted masks to [N, num_classes, height, width]
    pred_masks = tf.transpose(pred_masks, [0, 3, 1, 2])

    # Only positive ROIs contribute to the loss. And only
    # the class specific mask of each ROI.
    positive_ix = tf.where(target_class_ids > 0)[:, 0]
    positive_class_ids = tf.gather(target_class_ids, positive_ix)
    indices = tf.stack([tf.cast(positive_ix, tf.int32), positive_class_ids], axis=1)

    # Gather the masks (predicted and true) that contribute to loss
    y_true = tf.gather(target_masks, positive_ix)
    y_pred = tf.gather_nd(pred_masks, indices)

    loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=y_true, logits=y_pred)
    return _mean_or_zero(loss)


def weight_decay_loss(trainable_weights, weight_decay):
    """matterport's L2 regularisation: weight_decay * sum(w^2) / size(w) over
    the trainable kernels (BatchNorm gamma and beta and biases excluded).

    trainable_weights: list of keras Variables.
    """
    terms = []
    for w in trainable_weights if weight_decay else ():
        name = w.path if hasattr(w, "path") else w.name
        if not (name.endswith("kernel") or name.endswith("kernel:0")):
            continue
        value = tf.convert_to_tensor(w)
        # l2_loss is sum(w^2) / 2 in one pass, without a squared copy of w,
        # and its gradient is one multiply.
        terms.append((2.0 * weight_decay / value.shape.num_elements()) *
                     tf.nn.l2_loss(value))
    if not terms:
        return tf.constant(0.0)
    return tf.add_n(terms)
