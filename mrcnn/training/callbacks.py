"""Callbacks that MaskRCNN.train() always installs."""
import os

import keras

from mrcnn.training.checkpoints import remove_stale_temporaries
from mrcnn.training.resume import write_optimizer_state
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
    """Saves a resumable checkpoint after every epoch as
    `mask_rcnn_<name>_<epoch:04d>.h5` and advances the MaskRCNN's epoch counter.

    The file is in matterport's HDF5 layout (old tooling loads its weights)
    plus what exact resume needs (see mrcnn.training.resume): the epoch, the
    config, the `layers=` selection and the optimizer state. It is written
    atomically (temporary file, then rename); partial files of killed runs in
    the folder are removed when training starts.

    mrcnn_model: the MaskRCNN wrapper; path_template: str with {epoch:04d};
    layers: the `layers=` regex of this train() call (for messages on resume).
    """

    def __init__(self, mrcnn_model, path_template, layers=None):
        super().__init__()
        self.mrcnn_model = mrcnn_model
        self.path_template = path_template
        self.layers = layers

    def on_train_begin(self, logs=None):
        remove_stale_temporaries(os.path.dirname(self.path_template))

    def on_epoch_end(self, epoch, logs=None):
        path = self.path_template.format(epoch=epoch + 1)
        attrs = {
            "epoch": epoch + 1,
            # True when this run learned the BatchNorm statistics itself (from
            # scratch): loading the file then keeps them training.
            "mrcnn_trained_batchnorm_statistics": bool(self.mrcnn_model.train_batchnorm),
            "mrcnn_config": self.mrcnn_model.config.to_yaml(),
        }
        if self.layers is not None:
            attrs["mrcnn_layers"] = self.layers
        optimizer = getattr(self.model, "optimizer", None)
        save_weights_h5(self.model, path, attrs=attrs,
                        extra=lambda f: write_optimizer_state(f, optimizer, self.layers))
        self.mrcnn_model.epoch = epoch + 1
