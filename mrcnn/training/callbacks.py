"""Callbacks that MaskRCNN.train() installs."""
import logging
import os

import keras
import numpy as np

from mrcnn.data.augmentation import AUGMENTATION_STATS, describe_augmentation, describe_resize
from mrcnn.errors import TrainingDiverged
from mrcnn.training.checkpoints import list_checkpoints, remove_stale_temporaries
from mrcnn.training.resume import remove_optimizer_state, write_optimizer_state
from mrcnn.weights import first_non_finite, save_weights_h5

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
    vanished from the image, in how many images) and, on a line of its own,
    what the resize before it lost (IMAGE_RESIZE_MODE "crop" cutting
    instances off, masks too thin for the downscale). Adds both shares to
    the epoch's logs for TensorBoard: `augmentation_dropped` (of the
    instances augmentation received) and `resize_dropped` (of the instances
    loaded). Must come before the TensorBoard callback.

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
        resize = describe_resize(epoch_counts)
        if resize:
            logger.info("Epoch %d %s", epoch + 1, resize)
        if logs is not None:
            logs["augmentation_dropped"] = (epoch_counts["dropped_instances"]
                                            / max(epoch_counts["instances"], 1))
            logs["resize_dropped"] = (epoch_counts["resize_dropped"]
                                      / max(epoch_counts["resize_instances"], 1))


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
    save: False on the workers of a cluster other than the chief: they write
        nothing, but check the weights and count the epochs alike (their
        weights are the chief's, so they stop at the same epoch).
    """

    def __init__(self, mrcnn_model, path_template, layers=None, save=True):
        super().__init__()
        self.mrcnn_model = mrcnn_model
        self.path_template = path_template
        self.layers = layers
        self.save = save

    def on_train_begin(self, logs=None):
        if self.save:
            remove_stale_temporaries(os.path.dirname(self.path_template))

    def on_epoch_end(self, epoch, logs=None):
        path = self.path_template.format(epoch=epoch + 1)
        attrs = self.mrcnn_model.checkpoint_attrs(epoch + 1)
        # A resumed run draws its images in the order this run would have.
        attrs["mrcnn_data_seed"] = int(self.mrcnn_model.data_seed)
        if self.layers is not None:
            attrs["mrcnn_layers"] = self.layers
        bad = first_non_finite((w.path, keras.ops.convert_to_numpy(w)) for w in self.model.weights)
        if bad:
            # A checkpoint of NaN weights would become --weights=last.
            raise TrainingDiverged(
                f"Training diverged: the weights are not finite after epoch {epoch + 1} (first: "
                f"{bad}); not saved as {os.path.basename(path)}. "
                + divergence_advice(self.mrcnn_model, self.model, epoch + 1),
                last_checkpoint=last_good_checkpoint(self.mrcnn_model, epoch + 1),
                epoch=epoch + 1)
        if self.save:
            optimizer = getattr(self.model, "optimizer", None)
            save_weights_h5(self.model, path, attrs=attrs,
                            extra=lambda f: write_optimizer_state(f, optimizer, self.layers))
        self.mrcnn_model.epoch = epoch + 1
        if self.save:
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


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or inf by raising
    mrcnn.errors.TrainingDiverged (fit() ends there: no validation, no
    checkpoint of that epoch). The message names the epoch, the batch, the
    losses that are not finite, the batch's images, the usual causes and the
    last checkpoint of the run (all of whose weights are finite: see
    EpochCheckpoint).

    Keras' TerminateOnNaN only sets stop_training, after which fit() still
    validates and checkpoints the broken epoch.

    mrcnn_model: the MaskRCNN wrapper (its dataset references, run folder).
    generator: the training DataGenerator, which records the image ids of
        each batch (`batch_image_ids`), or None.
    """

    def __init__(self, mrcnn_model, generator=None):
        super().__init__()
        self.mrcnn_model = mrcnn_model
        self.generator = generator
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        values = {}
        for name, value in (logs or {}).items():
            array = np.asarray(keras.ops.convert_to_numpy(value))
            if array.size == 1:
                values[name] = float(array.reshape(()))
        if "loss" not in values or np.isfinite(values["loss"]):
            return
        # The logs are the epoch's running means, which turn non-finite
        # exactly at the first non-finite batch.
        broken = ", ".join(f"{name}={value:g}" for name, value in sorted(values.items())
                           if name != "loss" and not np.isfinite(value))
        images = self._batch_images(batch)
        where = f"epoch {self._epoch + 1}, batch {batch + 1}"
        raise TrainingDiverged(
            f"Training diverged at {where}: the loss is {values['loss']:g}"
            + (f" ({broken})" if broken else "")
            + (f"; the batch's images: {', '.join(images)}" if images else "")
            + ". " + divergence_advice(self.mrcnn_model, self.model, self._epoch),
            last_checkpoint=last_good_checkpoint(self.mrcnn_model, self._epoch),
            epoch=self._epoch + 1, batch=batch + 1, image_refs=images)

    def _batch_images(self, batch):
        if self.generator is None:
            return []
        ids = self.generator.batch_image_ids(batch, epoch=self._epoch)
        dataset = self.generator.dataset
        return [str(dataset.image_reference(i)) for i in ids]


def last_good_checkpoint(mrcnn_model, epochs_done):
    """The newest checkpoint of the run's folder up to epoch `epochs_done`
    (later ones belong to a run this one restarted from), or None."""
    run_dir = mrcnn_model.log_dir
    if not os.path.isdir(run_dir):
        return None
    done = [path for epoch, path in list_checkpoints(run_dir, mrcnn_model.config.NAME)
            if epoch <= epochs_done]
    return done[-1] if done else None


def divergence_advice(mrcnn_model, keras_model, epochs_done):
    """What usually makes a loss explode and where to continue from (one
    sentence-ish string for TrainingDiverged)."""
    config = mrcnn_model.config
    optimizer = getattr(keras_model, "optimizer", None)
    try:
        learning_rate = f"{float(keras.ops.convert_to_numpy(optimizer.learning_rate)):g}"
    except (AttributeError, TypeError, ValueError):
        learning_rate = f"{config.LEARNING_RATE}"
    last = last_good_checkpoint(mrcnn_model, epochs_done)
    resume = (f"The last good checkpoint is {last}: continue from it with --weights=last "
              "(or --resume) after the fix" if last else
              "No checkpoint of this run was written; start again after the fix")
    return (f"Usual causes: a learning rate too high (now {learning_rate}; LEARNING_RATE), "
            "wrong boxes or masks in the annotations (check them with `mrcnn validate`), "
            f"gradient clipping too loose (GRADIENT_CLIP_NORM={config.GRADIENT_CLIP_NORM}). "
            f"{resume}.")
