"""Recompute BatchNorm population statistics for the current weights
("precise BN", Wu & Johnson 2021).

When BatchNorm statistics are learned from scratch, the moving averages mix
the statistics of many past weight states; while the weights change fast
they lag the network enough that inference (which uses them) differs from
training (which uses batch statistics), and the validation losses rise far
above the training ones (measured: docs/normalization.md). Averaging the
batch statistics of a few batches with the weights frozen gives statistics
that belong to these weights.
"""
import logging

import keras
import numpy as np
import tensorflow as tf

from mrcnn.modeling.normalization import batch_statistics_only, learning_statistics

logger = logging.getLogger(__name__)


def learning_batchnorm_layers(keras_model):
    """The layers of `keras_model` whose BatchNorm statistics are being
    learned (frozen BatchNorm and GroupNorm layers have none)."""
    return [layer for layer in keras_model.layers if learning_statistics(layer)]


class BatchNormStatistics:
    """Recomputes the moving statistics of `keras_model`'s learning BatchNorm
    layers from batches run in training mode.

    keras_model: the training model (a functional model whose BatchNorm layers
        are each called once).
    """

    def __init__(self, keras_model):
        self.layers = learning_batchnorm_layers(keras_model)
        self._moments = None
        if not self.layers:
            return
        inputs = keras_model.inputs
        probe = keras.Model(inputs, [layer.input for layer in self.layers])
        input_names = [t.name for t in keras_model.inputs]
        axes_by_layer = [
            [i for i in range(len(layer.input.shape)) if i != layer.axis % len(layer.input.shape)]
            for layer in self.layers]

        @tf.function(reduce_retracing=True)
        def moments(batch):
            # Batch Renormalization off: the statistics measured must not
            # depend on the moving statistics being replaced.
            with batch_statistics_only():
                features = probe([batch[name] for name in input_names], training=True)
            if not isinstance(features, (list, tuple)):
                features = [features]
            return [tf.nn.moments(x, axes) for x, axes in zip(features, axes_by_layer)]

        self._moments = moments

    def update(self, batches):
        """Set each layer's moving mean and variance to the average of the
        batch statistics over `batches` (an iterable of input dicts).

        Returns the number of batches used.
        """
        if self._moments is None:
            return 0
        sums = None
        count = 0
        for batch in batches:
            stats = self._moments({k: tf.convert_to_tensor(v) for k, v in batch.items()})
            values = [(m.numpy().astype(np.float64), v.numpy().astype(np.float64))
                      for m, v in stats]
            if sums is None:
                sums = [[np.zeros_like(m), np.zeros_like(v)] for m, v in values]
            for acc, (m, v) in zip(sums, values):
                acc[0] += m
                # E[x^2] per batch, so the variance includes the spread of the
                # batch means, not only the within-batch variance.
                acc[1] += v + m * m
            count += 1
        if not count:
            return 0
        for layer, (mean_sum, square_sum) in zip(self.layers, sums):
            mean = mean_sum / count
            variance = np.maximum(square_sum / count - mean * mean, 0.0)
            layer.moving_mean.assign(mean.astype(np.float32))
            layer.moving_variance.assign(variance.astype(np.float32))
        return count


class BatchNormStatisticsCallback(keras.callbacks.Callback):
    """Recomputes BatchNorm statistics after the last training batch of each
    epoch, before validation and the checkpoint see the weights.

    generator: a DataGenerator (indexable batches); batches: how many to use.
        Its epoch is advanced after each use, so every epoch draws anew.
    initialize: also compute the statistics before the first step. A run
        that starts from scratch needs it under Batch Renormalization, whose
        training steps normalise with the moving statistics (the initial
        mean 0 and variance 1 would be clipped for dozens of steps). The
        generator is not advanced by it, so a resumed run draws what the
        uninterrupted one drew.
    """

    def __init__(self, generator, batches=8, steps_per_epoch=None, initialize=False):
        super().__init__()
        self.generator = generator
        self.batches = int(batches)
        self.steps_per_epoch = steps_per_epoch
        self.initialize = initialize
        self._statistics = None

    def on_train_begin(self, logs=None):
        layers = learning_batchnorm_layers(self.model)
        self._statistics = BatchNormStatistics(self.model) if layers else None
        if self._statistics is not None and self.initialize and self.batches:
            count = min(self.batches, len(self.generator))
            used = self._statistics.update(self.generator[i] for i in range(count))
            logger.debug("BatchNorm statistics initialised from %d batches", used)

    def on_train_batch_end(self, batch, logs=None):
        steps = self.steps_per_epoch or self.params.get("steps")
        if self._statistics is None or not self.batches or steps is None or batch != steps - 1:
            return
        count = min(self.batches, len(self.generator))
        used = self._statistics.update(self.generator[i] for i in range(count))
        logger.debug("BatchNorm statistics recomputed from %d batches", used)
        # The next epoch's statistics come from other images.
        if hasattr(self.generator, "on_epoch_end"):
            self.generator.on_epoch_end()
