"""BatchNorm whose statistics can be frozen independently of its weights."""
import keras


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

    The moving averages use momentum 0.9 (Keras defaults to 0.99): when the
    statistics are learned from scratch in a few hundred steps, 0.99 leaves
    them far behind the batch statistics, and inference (which uses them)
    sees a different network than training did. Loaded pretrained statistics
    are unaffected, as they are frozen then.

    inputs: float32 [..., channels]; returns the same shape.
    """

    def __init__(self, *args, train_statistics=True, momentum=0.9, **kwargs):
        super().__init__(*args, momentum=momentum, **kwargs)
        self.train_statistics = train_statistics

    def call(self, inputs, training=None, mask=None):
        if not self.train_statistics:
            training = False
        return super().call(inputs, training=training, mask=mask)

    def get_config(self):
        config = super().get_config()
        config["train_statistics"] = self.train_statistics
        return config
