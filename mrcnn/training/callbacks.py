"""Callbacks that MaskRCNN.train() always installs."""
import keras

from mrcnn.weights import save_weights_h5


class LearningRateLogger(keras.callbacks.Callback):
    """Adds `learning_rate` to each epoch's logs, so TensorBoard plots it.
    Must come before the TensorBoard callback."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        lr = self.model.optimizer.learning_rate
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the weights after every epoch as `mask_rcnn_<name>_<epoch:04d>.h5`
    in matterport's HDF5 layout, atomically (temporary file, then rename), and
    advances the MaskRCNN's epoch counter.

    mrcnn_model: the MaskRCNN wrapper; path_template: str with {epoch:04d}.
    """

    def __init__(self, mrcnn_model, path_template):
        super().__init__()
        self.mrcnn_model = mrcnn_model
        self.path_template = path_template

    def on_epoch_end(self, epoch, logs=None):
        path = self.path_template.format(epoch=epoch + 1)
        attrs = {
            "epoch": epoch + 1,
            # True when this run learned the BatchNorm statistics itself (from
            # scratch): loading the file then keeps them training.
            "mrcnn_trained_batchnorm_statistics": bool(self.mrcnn_model.train_batchnorm),
            "mrcnn_config": self.mrcnn_model.config.to_yaml(),
        }
        save_weights_h5(self.model, path, attrs=attrs)
        self.mrcnn_model.epoch = epoch + 1
