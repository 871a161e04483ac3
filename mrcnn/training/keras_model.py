"""The Keras model that owns the Mask R-CNN training step.

Losses are computed in `train_step`/`test_step` from the graph's outputs, so
`fit()` and `evaluate()` report the five losses (and `val_*` versions), and
stock Keras callbacks work unchanged.
"""
import keras
import tensorflow as tf

from mrcnn.config import LOSS_NAMES
from mrcnn.image_meta import parse_image_meta_graph
from mrcnn.modeling import losses as L
from mrcnn.training.distribute import reducible_metrics, scale_loss_for_replicas
from mrcnn.weights import MatterportH5Weights


def compute_losses(inputs, outputs):
    """The five losses of one batch, unweighted.

    inputs: the batch dict of DataGenerator; outputs: the training graph's
    output dict. Returns {loss name: float32 scalar}.
    """
    active_class_ids = parse_image_meta_graph(inputs["input_image_meta"])["active_class_ids"]
    return {
        "rpn_class_loss": L.rpn_class_loss_graph(
            inputs["input_rpn_match"], outputs["rpn_class_logits"]),
        "rpn_bbox_loss": L.rpn_bbox_loss_graph(
            inputs["input_rpn_bbox"], inputs["input_rpn_match"], outputs["rpn_bbox"]),
        "mrcnn_class_loss": L.mrcnn_class_loss_graph(
            outputs["target_class_ids"], outputs["mrcnn_class_logits"], active_class_ids),
        "mrcnn_bbox_loss": L.mrcnn_bbox_loss_graph(
            outputs["target_bbox"], outputs["target_class_ids"], outputs["mrcnn_bbox"]),
        "mrcnn_mask_loss": L.mrcnn_mask_loss_graph(
            outputs["target_mask"], outputs["target_mask_class_ids"],
            outputs["mrcnn_mask_logits"]),
    }


class MaskRCNNTrainingModel(MatterportH5Weights, keras.Model):
    """Functional Mask R-CNN training graph with its own train/test steps.

    Build it as `MaskRCNNTrainingModel(inputs=..., outputs=..., loss_weights=...,
    weight_decay=...)`. Reported metrics: loss (the optimised total), the five
    losses (unweighted, as matterport logged them) and l2_loss.
    """

    def __init__(self, *args, loss_weights=None, weight_decay=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_weights_by_name = dict(loss_weights or {name: 1.0 for name in LOSS_NAMES})
        self.weight_decay = float(weight_decay)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss",) + LOSS_NAMES + ("l2_loss",)}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _batch_losses(self, data, training):
        inputs = data[0] if isinstance(data, (tuple, list)) else data
        outputs = self(inputs, training=training)
        losses = compute_losses(inputs, outputs)
        total = tf.add_n([losses[name] * self.loss_weights_by_name.get(name, 1.0)
                          for name in LOSS_NAMES])
        l2 = L.weight_decay_loss(self.trainable_weights, self.weight_decay)
        losses["l2_loss"] = l2
        losses["loss"] = total + l2
        return losses

    def _update(self, losses):
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name])
        return reducible_metrics({name: t.result() for name, t in self.trackers.items()})

    def train_step(self, data):
        """One optimisation step on one replica's batch.

        data: the batch dict of DataGenerator (or a 1-tuple of it), batch
        axis of IMAGES_PER_GPU images under a MirroredStrategy (fit() splits
        the global BATCH_SIZE batch), BATCH_SIZE on one device.
        Returns {metric name: float32 scalar}, the unscaled losses' means.

        Under a keras.optimizers.LossScaleOptimizer (mixed_float16) the loss
        is multiplied by the current loss scale before differentiation, so
        that small float16 gradients do not round to zero; apply_gradients
        divides it back out, and skips the update (lowering the scale) when a
        gradient overflowed. Other optimizers leave the loss as it is.
        """
        with tf.GradientTape() as tape:
            losses = self._batch_losses(data, training=True)
            # The optimizer sums the replicas' gradients: differentiate
            # loss / replicas so the sum is the mean over replicas. The
            # metrics keep the unscaled losses.
            objective = self.optimizer.scale_loss(scale_loss_for_replicas(losses["loss"]))
        variables = self.trainable_variables
        gradients = tape.gradient(objective, variables)
        self.optimizer.apply_gradients(
            [(g, v) for g, v in zip(gradients, variables) if g is not None])
        return self._update(losses)

    def test_step(self, data):
        return self._update(self._batch_losses(data, training=False))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras averages a first batch across the replicas to build what is
        # not built yet, which a MultiWorkerMirroredStrategy cannot do for a
        # dict of tensors; the build reads only shapes and dtypes, which the
        # first local replica's part has.
        strategy = self._distribute_strategy
        if iterator is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = keras.tree.map_structure(
                lambda v: strategy.experimental_local_results(v)[0], next(batches))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)


class MaskRCNNInferenceModel(MatterportH5Weights, keras.Model):
    """Functional Mask R-CNN inference graph; `save_weights("x.h5")` writes
    matterport's layout (see MatterportH5Weights)."""
