"""The normalization layers of the built-in normalizations
(mrcnn.normalizations): frozen BatchNorm, learned BatchNorm, learned
BatchNorm with Batch Renormalization, and GroupNorm. Each is its own class,
chosen when the network is built; all keep a BatchNorm's four weights
(gamma, beta, moving_mean, moving_variance), so checkpoints and matterport's
files have one layout whichever computed them.
"""
import contextlib
import math
import threading

import keras
from keras import ops

# Batch Renormalization's clipping (Ioffe 2017, the values of its
# experiments): the batch statistics may scale the normalised values by at
# most RENORM_RMAX and shift them by at most RENORM_DMAX moving deviations.
RENORM_RMAX = 3.0
RENORM_DMAX = 5.0
# GroupNorm's group count (Wu & He 2018, and the from-scratch Mask R-CNN of
# He et al. 2019); a layer with fewer channels, or a count it does not
# divide, uses their greatest common divisor.
GROUP_NORM_GROUPS = 32
# The moving averages' momentum (Keras defaults to 0.99): when statistics
# are learned from scratch in a few hundred steps, 0.99 leaves them far
# behind the batch statistics, and inference (which uses them) sees another
# network than training did. Pretrained statistics are frozen, unaffected.
MOMENTUM = 0.9

_scope = threading.local()


@contextlib.contextmanager
def batch_statistics_only():
    """Within it, RenormBatchNorm layers that are traced normalise a
    training call with the batch statistics, as BatchNorm does: for
    measuring the statistics the batches have (precise BN), which must not
    depend on the moving statistics being replaced. Enter it inside the
    traced function, so that every trace of it sees it."""
    depth = getattr(_scope, "depth", 0)
    _scope.depth = depth + 1
    try:
        yield
    finally:
        _scope.depth = depth


def _float32_or_wider(inputs):
    return ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))


@keras.saving.register_keras_serializable(package="mrcnn")
class FrozenBatchNorm(keras.layers.BatchNormalization):
    """BatchNorm whose statistics never change: training and inference
    calls alike normalise with the stored moving statistics (matterport's
    TRAIN_BN = False, detectron2's FrozenBatchNorm2d). gamma and beta still
    train when the layer is trainable.

    inputs: [..., channels] float; returns the same shape.
    """

    def __init__(self, *args, momentum=MOMENTUM, **kwargs):
        super().__init__(*args, momentum=momentum, **kwargs)

    def call(self, inputs, training=None, mask=None):
        return super().call(inputs, training=False, mask=mask)


@keras.saving.register_keras_serializable(package="mrcnn")
class BatchNorm(keras.layers.BatchNormalization):
    """matterport's BatchNorm: a training call normalises with the batch's
    statistics and updates the moving ones (momentum MOMENTUM); inference
    uses the moving ones. Called with training=False, as matterport's graph
    functions did to freeze it, it uses the moving ones too.

    inputs: [..., channels] float; returns the same shape.
    """

    def __init__(self, *args, momentum=MOMENTUM, **kwargs):
        super().__init__(*args, momentum=momentum, **kwargs)

    @classmethod
    def from_config(cls, config):
        # Layer configs of earlier versions switched one class with flags.
        config = dict(config)
        groups = config.pop("groups", 0)
        learn = config.pop("train_statistics", True)
        renorm = config.pop("batch_renorm", False)
        if cls is BatchNorm:
            if groups:
                return GroupNorm(groups=groups, **config)
            if not learn:
                return FrozenBatchNorm(**config)
            if renorm:
                return RenormBatchNorm(**config)
        return cls(**config)


@keras.saving.register_keras_serializable(package="mrcnn")
class RenormBatchNorm(BatchNorm):
    """BatchNorm with Batch Renormalization (Ioffe 2017): a training call
    normalises with the moving statistics, as inference does, while the
    gradients flow through the batch statistics:
    y = gamma * ((x - mean_B) / std_B * r + d) + beta with
    r = clip(std_B / std, 1/RENORM_RMAX, RENORM_RMAX) and
    d = clip((mean_B - mean) / std, -RENORM_DMAX, RENORM_DMAX), both
    constants for the gradient. Without it, a network trained on 2-image
    batches learns to rely on each batch's own statistics, which inference
    does not have (measured: docs/normalization.md). Unlike Keras'
    `renorm=True`, it keeps the four weights of a BatchNorm.

    inputs: [..., channels] float; returns the same shape.
    """

    def call(self, inputs, training=None, mask=None):
        if (not (training and self.trainable) or mask is not None
                or getattr(_scope, "depth", 0)):
            return super().call(inputs, training=training, mask=mask)
        x = _float32_or_wider(inputs)
        mean, variance = self._moments(x, None)
        moving_mean = ops.cast(self.moving_mean, x.dtype)
        moving_variance = ops.cast(self.moving_variance, x.dtype)
        std = ops.sqrt(variance + self.epsilon)
        moving_std = ops.sqrt(moving_variance + self.epsilon)
        r = ops.stop_gradient(ops.clip(std / moving_std, 1.0 / RENORM_RMAX, RENORM_RMAX))
        d = ops.stop_gradient(ops.clip((mean - moving_mean) / moving_std,
                                       -RENORM_DMAX, RENORM_DMAX))
        gamma = ops.cast(self.gamma, x.dtype) if self.scale else 1.0
        beta = ops.cast(self.beta, x.dtype) if self.center else 0.0
        self.moving_mean.assign(moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            moving_variance * self.momentum + variance * (1.0 - self.momentum))
        outputs = ops.batch_normalization(x, mean=mean, variance=variance, axis=self.axis,
                                          offset=d * gamma + beta, scale=r * gamma,
                                          epsilon=self.epsilon)
        return ops.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="mrcnn")
class GroupNorm(keras.layers.BatchNormalization):
    """GroupNorm (Wu & He 2018), in training and inference alike: each
    sample's channels, split into `groups` groups, are normalised over the
    group and the spatial axes, then scaled by gamma and shifted by beta.
    Nothing depends on the other images of the batch, so training and
    inference compute the same function whatever the batch size: the
    from-scratch normalization. It has a BatchNorm's four weights (the
    moving statistics are neither used nor updated), so checkpoints keep
    matterport's layout; pretrained BatchNorm weights need "batch".

    inputs: [batch, ..., channels] float; returns the same shape.
    """

    def __init__(self, *args, groups=GROUP_NORM_GROUPS, momentum=MOMENTUM, **kwargs):
        super().__init__(*args, momentum=momentum, **kwargs)
        self.groups = int(groups)

    def call(self, inputs, training=None, mask=None):
        x = _float32_or_wider(inputs)
        channels = x.shape[-1]
        groups = math.gcd(self.groups, channels)
        shape = ops.shape(x)
        grouped = ops.reshape(x, (-1,) + tuple(shape[1:-1]) + (groups, channels // groups))
        axes = list(range(1, len(grouped.shape) - 2)) + [len(grouped.shape) - 1]
        mean, variance = ops.moments(grouped, axes=axes, keepdims=True)
        grouped = (grouped - mean) * ops.rsqrt(variance + self.epsilon)
        x = ops.reshape(grouped, shape)
        if self.scale:
            x = x * ops.cast(self.gamma, x.dtype)
        if self.center:
            x = x + ops.cast(self.beta, x.dtype)
        return ops.cast(x, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


def batch_norm(name, *, learn_statistics, renorm):
    """The "batch" normalization's layer (mrcnn.normalizations)."""
    if not learn_statistics:
        return FrozenBatchNorm(name=name)
    return (RenormBatchNorm if renorm else BatchNorm)(name=name)


def group_norm(name, *, learn_statistics, renorm):
    """The "group" normalization's layer (mrcnn.normalizations)."""
    return GroupNorm(name=name)


def learning_statistics(layer):
    """Whether `layer` (a TimeDistributed wrapper unwrapped) updates moving
    statistics when it trains: a trainable BatchNorm or RenormBatchNorm."""
    while isinstance(layer, keras.layers.TimeDistributed):
        layer = layer.layer
    return isinstance(layer, BatchNorm) and layer.trainable
