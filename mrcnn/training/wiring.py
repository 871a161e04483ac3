"""The callbacks of a MaskRCNN.train() call, in the order they must run.

Order matters: a NaN loss stops fit() before any callback logs it; the
learning rate and the share of instances augmentation lost are in the logs
before TensorBoard writes them; recomputed BatchNorm statistics (and, in a
cluster, their average over the workers) come before validation and the
checkpoint use them; the validation callbacks come before the user's, so a
ModelCheckpoint(monitor="val_mAP") sees that epoch's value; a cluster's
StopTogether comes last.
"""
import os

import keras

from mrcnn.data.pipeline import DataGenerator
from mrcnn.training.batchnorm_statistics import BatchNormStatisticsCallback
from mrcnn.training.callbacks import (
    AugmentationSummary,
    EpochCheckpoint,
    LearningRateLogger,
    StopOnNonFiniteLoss,
)
from mrcnn.training.cluster import SameBatchNormStatistics, StopTogether
from mrcnn.training.data_health import SkippedImagesReport
from mrcnn.training.results import TrainingResults


def fit_callbacks(model, train_dataset, val_dataset, train_generator, val_generator,
                  augmentation=None, layers=".*", cluster=None, custom_callbacks=None):
    """The callbacks of one train() call of `model` (a MaskRCNN whose run
    folder is prepared).

    train_generator, val_generator: the DataGenerators fit() reads (val may
        be None). layers: the regex of the trained layers (checkpoints
        record it). cluster: the training.cluster.Cluster, or None.
    Returns (callbacks, data_health): the list for fit(), and the
    SkippedImagesReport whose stop_message says why training stopped on
    unreadable images.
    """
    config = model.config
    writes = cluster is None or cluster.is_chief
    data_health = SkippedImagesReport({"train": train_generator, "val": val_generator},
                                      config.MAX_UNREADABLE_IMAGES)
    callbacks = [
        StopOnNonFiniteLoss(model, train_generator),
        LearningRateLogger(),
        data_health,
        *([AugmentationSummary()] if augmentation is not None else []),
        *([keras.callbacks.TensorBoard(log_dir=model.log_dir, histogram_freq=0,
                                       write_graph=False)] if writes else []),
        EpochCheckpoint(model, model.checkpoint_path, layers=layers, save=writes),
    ]
    if model.train_batchnorm and config.BN_STATISTICS_BATCHES and model.normalization == "batch":
        # Learned statistics are recomputed for the epoch's final weights.
        bn_batches = DataGenerator(train_dataset, config, shuffle=True,
                                   augmentation=augmentation,
                                   steps=config.BN_STATISTICS_BATCHES, workers=1,
                                   seed=model.data_seed + 2, initial_epoch=model.epoch)
        callbacks.insert(0, BatchNormStatisticsCallback(
            bn_batches, batches=config.BN_STATISTICS_BATCHES,
            steps_per_epoch=config.STEPS_PER_EPOCH,
            initialize=config.BATCH_RENORM and model.epoch == 0))
    if cluster is not None:
        callbacks.insert(1 if isinstance(callbacks[0], BatchNormStatisticsCallback) else 0,
                         SameBatchNormStatistics(model.strategy, config.STEPS_PER_EPOCH))
    if writes:
        callbacks += validation_callbacks(model, val_dataset)
        # After the callbacks that add to the logs (learning rate, val_mAP).
        callbacks.append(TrainingResults(model.log_dir))
    if custom_callbacks:
        callbacks += list(custom_callbacks)
    if cluster is not None:
        callbacks.append(StopTogether(model.strategy, cluster))
    return callbacks, data_health


def validation_callbacks(model, val_dataset):
    """COCO evaluation and TensorBoard images of the validation set, as the
    config asks (EVAL_EVERY_EPOCHS, SAVE_BEST_BY_MAP, TENSORBOARD_IMAGES),
    run by model.validation_detector()."""
    from mrcnn.training.callbacks_eval import CocoEvalCallback, TensorBoardImagesCallback

    config = model.config
    callbacks = []
    if val_dataset is None:
        return callbacks
    if config.EVAL_EVERY_EPOCHS:
        best = (os.path.join(model.log_dir, f"mask_rcnn_{config.NAME.lower()}_best.h5")
                if config.SAVE_BEST_BY_MAP else None)
        callbacks.append(CocoEvalCallback(
            val_dataset, model.validation_detector, every_n_epochs=config.EVAL_EVERY_EPOCHS,
            log_dir=model.log_dir, limit=config.EVAL_LIMIT, best_checkpoint_path=best))
    if config.TENSORBOARD_IMAGES:
        image_ids = list(val_dataset.image_ids)[:config.TENSORBOARD_IMAGES]
        callbacks.append(TensorBoardImagesCallback(
            val_dataset, model.validation_detector, model.log_dir, image_ids,
            min_confidence=config.DETECTION_MIN_CONFIDENCE))
    return callbacks
