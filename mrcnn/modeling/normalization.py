"""BatchNorm whose statistics can be frozen independently of its weights,
that can train with Batch Renormalization, or normalise each image's
channel groups (GroupNorm), all with the four weights of a BatchNorm."""
import math

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


@keras.saving.register_keras_serializable(package="mrcnn")
class BatchNorm(keras.layers.BatchNormalization):
    """BatchNormalization with a switch for its statistics.

    matterport froze BatchNorm statistics (`TRAIN_BN = False`), which is right
    on top of pretrained statistics and small batches, but leaves a randomly
    initialised network with no working normalisation. `train_statistics`
    decides whether a training call uses batch statistics (and updates the
    moving averages) or the stored ones; `trainable` still decides whether
    gamma and beta get gradients. The flag is read when the training step is
    traced, so change it before `fit()` (MaskRCNN.train does).

    `batch_renorm` (with `train_statistics`): a training call normalises
    with the moving statistics, as inference does, while gradients flow
    through the batch statistics (Batch Renormalization, Ioffe 2017):
    y = gamma * ((x - mean_B) / std_B * r + d) + beta with
    r = clip(std_B / std, 1/RENORM_RMAX, RENORM_RMAX) and
    d = clip((mean_B - mean) / std, -RENORM_DMAX, RENORM_DMAX), both constants
    for the gradient. Without it, a network trained on 2-image batches learns
    to rely on each batch's own statistics, which inference does not have
    (measured: docs/normalization.md). Unlike Keras' `renorm=True`, it keeps the
    four weights of a BatchNorm layer, so checkpoints and matterport's files
    keep their layout.

    `groups` > 0: the layer is a GroupNorm (Wu & He 2018), in training and
    inference alike: each sample's channels, split into `groups` groups, are
    normalised over the group and the spatial axes, then scaled by gamma and
    shifted by beta. The moving statistics are neither used nor updated.
    Nothing depends on the other images of the batch, so training and
    inference compute the same function whatever the batch size: the
    from-scratch normalisation (Config.NORMALIZATION). Pretrained BatchNorm
    weights need groups=0.

    The moving averages use momentum 0.9 (Keras defaults to 0.99): when the
    statistics are learned from scratch in a few hundred steps, 0.99 leaves
    them far behind the batch statistics, and inference (which uses them)
    sees a different network than training did. Loaded pretrained statistics
    are unaffected, as they are frozen then.

    inputs: float32 [..., channels]; returns the same shape.
    """

    def __init__(self, *args, train_statistics=True, batch_renorm=False, groups=0,
                 momentum=0.9, **kwargs):
        super().__init__(*args, momentum=momentum, **kwargs)
        self.train_statistics = train_statistics
        self.batch_renorm = batch_renorm
        self.groups = groups

    def _group_norm(self, inputs):
        """Each sample's channels normalised in groups over all other axes."""
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
        channels = x.shape[-1]
        groups = math.gcd(int(self.groups), channels)
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

    def call(self, inputs, training=None, mask=None):
        if self.groups:
            return self._group_norm(inputs)
        if not self.train_statistics:
            training = False
        if not (training and self.trainable and self.batch_renorm) or mask is not None:
            return super().call(inputs, training=training, mask=mask)
        x = ops.cast(inputs, keras.backend.result_type(inputs.dtype, "float32"))
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

    def get_config(self):
        config = super().get_config()
        config["train_statistics"] = self.train_statistics
        config["batch_renorm"] = self.batch_renorm
        config["groups"] = self.groups
        return config
