"""Batch Renormalization: training steps normalise as inference does."""
import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import BatchNormTinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.config import ConfigError
from mrcnn.data.pipeline import DataGenerator
from mrcnn.modeling.normalization import (
    RENORM_DMAX,
    RENORM_RMAX,
    BatchNorm,
    FrozenBatchNorm,
    RenormBatchNorm,
)
from mrcnn.training.batchnorm_statistics import BatchNormStatistics, BatchNormStatisticsCallback

EPSILON = 1e-3  # Keras' BatchNormalization default


def renorm_layer(moving_mean, moving_variance, channels=6):
    layer = RenormBatchNorm()
    layer.build((None, 5, 5, channels))
    layer.moving_mean.assign(np.full(channels, moving_mean, np.float32))
    layer.moving_variance.assign(np.full(channels, moving_variance, np.float32))
    layer.gamma.assign(np.linspace(0.5, 2.0, channels).astype(np.float32))
    layer.beta.assign(np.linspace(-1.0, 1.0, channels).astype(np.float32))
    return layer


def test_training_call_normalises_with_the_moving_statistics_and_updates_them():
    x = np.random.default_rng(0).normal(3.0, 2.0, (4, 5, 5, 6)).astype(np.float32)
    layer = renorm_layer(2.5, 5.0)
    y = layer(x, training=True).numpy()
    expected = (x - 2.5) / np.sqrt(5.0 + EPSILON) * np.linspace(0.5, 2.0, 6) + np.linspace(-1, 1, 6)
    np.testing.assert_allclose(y, expected, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.9 * 2.5 + 0.1 * x.mean((0, 1, 2)),
                               rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 * 5.0 + 0.1 * x.var((0, 1, 2)),
                               rtol=1e-4)
    # Inference uses the (updated) moving statistics, as plain BatchNorm does.
    mean, variance = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    inference = layer(x, training=False).numpy()
    np.testing.assert_allclose(
        inference, (x - mean) / np.sqrt(variance + EPSILON) * np.linspace(0.5, 2.0, 6)
        + np.linspace(-1, 1, 6), atol=1e-5)


def test_corrections_are_clipped_when_the_moving_statistics_are_far_off():
    x = np.random.default_rng(1).normal(40.0, 30.0, (4, 5, 5, 6)).astype(np.float32)
    layer = renorm_layer(0.0, 1.0)  # a fresh layer's statistics
    y = layer(x, training=True).numpy()
    batch = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + EPSILON)
    expected = (batch * RENORM_RMAX + RENORM_DMAX) * np.linspace(0.5, 2.0, 6) + np.linspace(-1, 1, 6)
    np.testing.assert_allclose(y, expected, atol=1e-4)


def test_gradients_flow_through_the_batch_statistics():
    """A shift common to a channel's batch does not move the output's
    gradient (as in BatchNorm), while normalising by constant statistics
    would pass it straight through."""
    x = tf.constant(np.random.default_rng(2).normal(1.0, 2.0, (4, 5, 5, 6)).astype(np.float32))
    weights = tf.constant(np.random.default_rng(3).normal(size=(4, 5, 5, 6)).astype(np.float32))
    layer = renorm_layer(1.0, 4.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x, training=True) * weights)
    gradient = tape.gradient(loss, x).numpy()
    np.testing.assert_allclose(gradient.sum((0, 1, 2)), 0.0, atol=1e-3)
    constant = weights.numpy().sum((0, 1, 2)) * np.linspace(0.5, 2.0, 6) / np.sqrt(4.0 + EPSILON)
    assert np.abs(constant).max() > 1.0


def test_keeps_the_four_weights_of_a_batchnorm():
    layer = renorm_layer(0.0, 1.0)
    assert [w.path.split("/")[-1] for w in layer.weights] == [
        "gamma", "beta", "moving_mean", "moving_variance"]
    assert type(RenormBatchNorm.from_config(layer.get_config())) is RenormBatchNorm
    # The layer configs of earlier versions (one class with flags) give the
    # class that computes what those flags said.
    legacy = dict(layer.get_config(), train_statistics=True, batch_renorm=True, groups=0)
    assert type(BatchNorm.from_config(legacy)) is RenormBatchNorm
    assert type(BatchNorm.from_config(dict(legacy, train_statistics=False))) is FrozenBatchNorm
    assert type(BatchNorm.from_config(dict(legacy, groups=32))).__name__ == "GroupNorm"
    assert type(BatchNorm.from_config(dict(legacy, batch_renorm=False))) is BatchNorm


def tiny_batches(config, count=2):
    generator = DataGenerator(tiny_dataset(6), config, steps=count, seed=0, workers=1)
    return generator, [generator[i] for i in range(count)]


def outputs_gap(keras_model, batch):
    """Median relative difference between the training-mode and the
    inference-mode RPN logits of the training graph on one batch."""
    inference = keras_model(batch, training=False)["rpn_class_logits"].numpy()
    training = keras_model(batch, training=True)["rpn_class_logits"].numpy()
    return float(np.median(np.abs(training - inference)) / np.median(np.abs(inference)))


def test_the_model_trains_with_renorm_only_where_statistics_are_learned(tmp_path):
    config = BatchNormTinyConfig()
    # How many channels clip depends on the random network: unseeded, one CI
    # run measured a renorm gap of 0.26 where seeds 0-11 give 0.06-0.14.
    config.TRAIN_BN, config.BATCH_RENORM = True, True
    keras.utils.set_random_seed(0)
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    _, batches = tiny_batches(config)
    statistics = BatchNormStatistics(model.keras_model)
    statistics.update(batches)
    assert statistics.layers and all(type(layer) is RenormBatchNorm
                                      for layer in statistics.layers)
    renorm_gap = outputs_gap(model.keras_model, batches[0])

    config.BATCH_RENORM = False
    keras.utils.set_random_seed(0)
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    BatchNormStatistics(model.keras_model).update(batches)
    plain_gap = outputs_gap(model.keras_model, batches[0])
    # Renorm's training forward is the inference forward, up to the clipped
    # channels of a random network (measured 0.06 against plain's 0.77).
    assert renorm_gap < 0.2 and plain_gap > 4 * renorm_gap, (renorm_gap, plain_gap)

    # Frozen statistics have nothing to renormalise.
    config.TRAIN_BN, config.BATCH_RENORM = False, True
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    assert type(model.keras_model.get_layer("bn_conv1")) is FrozenBatchNorm


def test_a_fresh_run_starts_from_measured_statistics(tmp_path):
    config = BatchNormTinyConfig()
    config.TRAIN_BN, config.BATCH_RENORM = True, True
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    generator, batches = tiny_batches(config)
    callback = BatchNormStatisticsCallback(generator, batches=2, steps_per_epoch=3,
                                           initialize=True)
    callback.set_model(model.keras_model)
    callback.on_train_begin()

    reference = modellib.MaskRCNN("training", config, str(tmp_path))
    reference.keras_model.set_weights(model.keras_model.get_weights())
    BatchNormStatistics(reference.keras_model).update(batches)
    # The heads' inputs depend on the random ROI sampling: only the
    # backbone's statistics are reproducible.
    assert not np.allclose(model.keras_model.get_layer("mrcnn_class_bn2").moving_variance, 1.0)
    for name in ("bn_conv1", "bn4a_branch2a", "bn5a_branch2a"):
        layer = model.keras_model.get_layer(name)
        assert not np.allclose(layer.moving_variance.numpy(), 1.0)
        np.testing.assert_allclose(layer.moving_variance.numpy(),
                                   reference.keras_model.get_layer(name).moving_variance.numpy(),
                                   rtol=1e-4, atol=1e-5)
    # The generator was not advanced: epoch 0's recomputation draws the same images.
    np.testing.assert_array_equal(generator[0]["input_image"], batches[0]["input_image"])


def test_train_switches_renorm_on_for_learned_statistics(tmp_path):
    config = BatchNormTinyConfig()
    config.BATCH_RENORM = True
    config.validate()
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    history = model.train(tiny_dataset(4), None, learning_rate=0.001, epochs=1, layers="all")
    layers = [layer for layer in model.keras_model.layers if isinstance(layer, BatchNorm)]
    assert model.train_batchnorm and layers
    assert all(type(layer) is RenormBatchNorm for layer in layers)
    assert np.isfinite(history.history["loss"]).all()
    # Statistics were measured before the first step, then followed it.
    assert not np.allclose(model.keras_model.get_layer("bn_conv1").moving_variance, 1.0)

    config.BATCH_RENORM = "yes"
    with pytest.raises(ConfigError, match="BATCH_RENORM"):
        config.validate()
