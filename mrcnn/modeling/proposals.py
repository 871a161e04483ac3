"""Proposal layer: RPN scores and deltas -> non-overlapping proposals."""
import keras
import tensorflow as tf

from mrcnn.anchors import get_anchors, pyramid_anchors_graph
from mrcnn.backbones import get_backbone
from mrcnn.modeling.box_ops import apply_box_deltas_graph
from mrcnn.modeling.precision import Float32Layer
from mrcnn.modeling.settings import Settings


@keras.saving.register_keras_serializable(package="mrcnn")
class ProposalLayer(Float32Layer):
    """Receives anchor scores and selects a subset to pass as proposals
    to the second stage. Filtering is done based on anchor scores and
    non-max suppression to remove overlaps. It also applies bounding
    box refinement deltas to anchors.

    Inputs:
        rpn_probs: float32 [batch, num_anchors, (bg prob, fg prob)]
        rpn_bbox: float32 [batch, num_anchors, (dy, dx, log(dh), log(dw))]
        image: float32 [batch, H, W, C], the molded input; only its shape is
            used, to get the anchors (a cached constant when H and W are
            static, computed in the graph otherwise).

    Returns:
        Proposals in normalized coordinates [batch, rois, (y1, x1, y2, x2)],
        zero-padded when fewer than `proposal_count` survive.
    """

    def __init__(self, proposal_count, nms_threshold, rpn_bbox_std_dev, pre_nms_limit,
                 anchor_config, **kwargs):
        super().__init__(**kwargs)
        self.proposal_count = int(proposal_count)
        self.nms_threshold = float(nms_threshold)
        self.rpn_bbox_std_dev = [float(v) for v in rpn_bbox_std_dev]
        self.pre_nms_limit = int(pre_nms_limit)
        # The anchor settings: scales, ratios, strides, anchor stride.
        self.anchor_config = dict(anchor_config)

    def _anchors(self, image):
        # A stand-in Config of the anchor fields, for get_anchors.
        cfg = Settings({**self.anchor_config, "COMPUTE_BACKBONE_SHAPE": None})
        h, w = image.shape[1], image.shape[2]
        if h is not None and w is not None:
            return tf.constant(get_anchors(cfg, (h, w)), tf.float32)
        return pyramid_anchors_graph(cfg, tf.shape(image)[1:3])

    def _refine(self, inputs):
        """The proposals before NMS, for the first PRE_NMS_LIMIT anchors by score.

        Returns a dict of float32 tensors: "scores" [batch, n] (anchors
        clipped to nothing get -1), "pre_nms_anchors" [batch, n, 4],
        "refined_anchors" [batch, n, 4] and "refined_anchors_clipped"
        [batch, n, 4], all in normalized coordinates, sorted by score.
        """
        rpn_probs, rpn_bbox, image = inputs
        anchors = self._anchors(image)
        # Box Scores. Use the foreground class confidence. [Batch, num_rois]
        scores = rpn_probs[:, :, 1]
        # Box deltas [batch, num_rois, 4]
        deltas = rpn_bbox * tf.constant(self.rpn_bbox_std_dev, tf.float32)

        # Improve performance by trimming to top anchors by score
        # and doing the rest on the smaller subset.
        pre_nms_limit = tf.minimum(self.pre_nms_limit, tf.shape(anchors)[0])
        scores, ix = tf.math.top_k(scores, pre_nms_limit, sorted=True, name="top_anchors")
        deltas = tf.gather(deltas, ix, batch_dims=1)
        pre_nms_anchors = tf.gather(anchors, ix)

        # Apply deltas to anchors to get refined anchors, clipped to the
        # image (normalized window 0..1).
        refined = apply_box_deltas_graph(pre_nms_anchors, deltas)
        boxes = tf.clip_by_value(refined, 0.0, 1.0)
        # Anchors pushed off the image collapse to zero area when clipped;
        # they overlap nothing, so NMS would keep them all and they would
        # crowd out real proposals. Give them a score below NMS's threshold.
        min_side = 1e-3
        degenerate = tf.logical_or(boxes[..., 2] - boxes[..., 0] < min_side,
                                   boxes[..., 3] - boxes[..., 1] < min_side)
        scores = tf.where(degenerate, -1.0, scores)
        return {"scores": scores, "pre_nms_anchors": pre_nms_anchors,
                "refined_anchors": refined, "refined_anchors_clipped": boxes}

    def _nms(self, image_boxes, image_scores):
        """Indices int32 [<= proposal_count] of one image's kept boxes."""
        return tf.image.non_max_suppression(
            image_boxes, image_scores, self.proposal_count, self.nms_threshold,
            score_threshold=-0.5, name="rpn_non_max_suppression")

    def call(self, inputs):
        return self._proposals(self._refine(inputs))

    def _proposals(self, refined):
        """NMS of each image's refined boxes (`_refine`'s dict): float32
        [batch, proposal_count, 4], zero-padded."""

        def nms(args):
            image_boxes, image_scores = args
            proposals = tf.gather(image_boxes, self._nms(image_boxes, image_scores))
            # Pad if needed
            padding = tf.maximum(self.proposal_count - tf.shape(proposals)[0], 0)
            return tf.pad(proposals, [(0, padding), (0, 0)])

        proposals = tf.map_fn(
            nms, (refined["refined_anchors_clipped"], refined["scores"]),
            fn_output_signature=tf.TensorSpec([self.proposal_count, 4], tf.float32))
        return proposals

    # The values inside the layer that matterport's inspect_model notebook
    # shows, by the names its TensorFlow-1 graph gave them.
    INTERMEDIATES = ("pre_nms_anchors", "refined_anchors", "refined_anchors_clipped",
                     "rpn_non_max_suppression")

    def intermediates(self, inputs):
        """The layer's steps, eagerly, for inspection (MaskRCNN.run_graph).

        inputs: the layer's inputs as arrays (rpn_probs, rpn_bbox, image).
        Returns a dict of numpy arrays: "pre_nms_anchors", "refined_anchors",
        "refined_anchors_clipped" float32 [batch, n, 4] (normalized, sorted by
        score, n = min(PRE_NMS_LIMIT, anchors)); "rpn_non_max_suppression"
        int32 [k], the indices into those n that NMS keeps for the first
        image (matterport's post_nms_anchor_ix); "proposals" [batch,
        proposal_count, 4], the layer's output.
        """
        inputs = [tf.convert_to_tensor(x, tf.float32) for x in inputs]
        refined = self._refine(inputs)
        values = {name: refined[name].numpy() for name in self.INTERMEDIATES[:3]}
        values["rpn_non_max_suppression"] = self._nms(
            refined["refined_anchors_clipped"][0], refined["scores"][0]).numpy()
        values["proposals"] = self._proposals(refined).numpy()
        return values

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.proposal_count, 4)

    def get_config(self):
        config = super().get_config()
        config.update({
            "proposal_count": self.proposal_count,
            "nms_threshold": self.nms_threshold,
            "rpn_bbox_std_dev": self.rpn_bbox_std_dev,
            "pre_nms_limit": self.pre_nms_limit,
            "anchor_config": self.anchor_config,
        })
        return config


def anchor_settings(config):
    """The part of a Config that defines anchors, as plain serialisable values."""
    return {
        "RPN_ANCHOR_SCALES": [float(s) for s in config.RPN_ANCHOR_SCALES],
        "RPN_ANCHOR_RATIOS": [float(r) for r in config.RPN_ANCHOR_RATIOS],
        "BACKBONE_STRIDES": [int(s) for s in config.BACKBONE_STRIDES],
        "RPN_ANCHOR_STRIDE": int(config.RPN_ANCHOR_STRIDE),
        # The registered name: the layer rebuilds its anchors from it.
        "BACKBONE": get_backbone(config.BACKBONE, config.COMPUTE_BACKBONE_SHAPE).name,
    }
