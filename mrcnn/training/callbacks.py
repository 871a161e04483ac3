"""Callbacks that MaskRCNN.train() installs."""
import logging
import os

import keras

from mrcnn.data.augmentation import AUGMENTATION_STATS, describe_augmentation
from mrcnn.training.checkpoints import list_checkpoints, remove_stale_temporaries
from mrcnn.training.resume import remove_optimizer_state, write_optimizer_state
from mrcnn.weights import save_weights_h5

logger = logging.getLogger(__name__)


class LearningRateLogger(keras.callbacks.Callback):
    """Adds `learning_rate` to each epoch's logs, so TensorBoard plots it.
    Must come before the TensorBoard callback."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        lr = self.model.optimizer.learning_rate
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))


class AugmentationSummary(keras.callbacks.Callback):
    """Says once per epoch what augmentation did to the instances (how many
    vanished from the image, in how many images) and adds
    `augmentation_dropped`, the share of instances that vanished, to the
    epoch's logs for TensorBoard. Must come before the TensorBoard callback.

    stats: the AugmentationStats the input pipeline records into (default
        mrcnn.data.augmentation.AUGMENTATION_STATS). An epoch's figures are
        differences of its counters, so they are approximate by the few
        batches the pipeline prefetches across the epoch boundary.
    """

    def __init__(self, stats=None):
        super().__init__()
        self.stats = stats if stats is not None else AUGMENTATION_STATS
        self._at_epoch_begin = None

    def on_epoch_begin(self, epoch, logs=None):
        self._at_epoch_begin = self.stats.as_dict()

    def on_epoch_end(self, epoch, logs=None):
        now = self.stats.as_dict()
        start = self._at_epoch_begin or dict.fromkeys(now, 0)
        epoch_counts = {key: now[key] - start[key] for key in now}
        logger.info("Epoch %d %s", epoch + 1, describe_augmentation(epoch_counts))
        if logs is not None:
            logs["augmentation_dropped"] = (epoch_counts["dropped_instances"]
                                            / max(epoch_counts["instances"], 1))


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a resumable checkpoint after every epoch as
    `mask_rcnn_<name>_<epoch:04d>.h5` and advances the MaskRCNN's epoch counter.

    The file is in matterport's HDF5 layout (old tooling loads its weights)
    plus what exact resume needs (see mrcnn.training.resume): the epoch, the
    config, the `layers=` selection and the optimizer state. It is written
    atomically (temporary file, then rename); partial files of killed runs in
    the folder are removed when training starts. Checkpoints older than the
    newest Config.OPTIMIZER_STATE_CHECKPOINTS are then rewritten with the
    weights only (the state is most of a checkpoint's size).

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
        attrs = self.mrcnn_model.checkpoint_attrs(epoch + 1)
        # A resumed run draws its images in the order this run would have.
        attrs["mrcnn_data_seed"] = int(self.mrcnn_model.data_seed)
        if self.layers is not None:
            attrs["mrcnn_layers"] = self.layers
        optimizer = getattr(self.model, "optimizer", None)
        save_weights_h5(self.model, path, attrs=attrs,
                        extra=lambda f: write_optimizer_state(f, optimizer, self.layers))
        self.mrcnn_model.epoch = epoch + 1
        self._drop_old_optimizer_states(epoch + 1)

    def _drop_old_optimizer_states(self, newest_epoch):
        config = self.mrcnn_model.config
        keep = config.OPTIMIZER_STATE_CHECKPOINTS
        if keep is None:
            return
        run_dir = os.path.dirname(self.path_template)
        # Later epochs in the folder belong to a run this one restarted
        # from an earlier checkpoint; they are left alone.
        older = [path for epoch, path in list_checkpoints(run_dir, config.NAME)
                 if epoch <= newest_epoch][:-keep]
        removed = []
        for path in older:
            try:
                if remove_optimizer_state(path):
                    removed.append(path)
            except OSError as e:
                # An old checkpoint that cannot be read is no reason to stop.
                logger.warning("Could not drop the optimizer state of %s: %s", path, e)
        if removed:
            logger.info("Kept the optimizer state in the newest %d checkpoint(s) only "
                        "(OPTIMIZER_STATE_CHECKPOINTS); rewrote %s with the weights alone",
                        keep, ", ".join(os.path.basename(p) for p in removed))
