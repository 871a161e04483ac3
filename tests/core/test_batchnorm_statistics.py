"""Recomputed BatchNorm statistics match the batch statistics of the weights."""
import keras
import numpy as np
from tiny import BatchNormTinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.data.pipeline import DataGenerator
from mrcnn.training.batchnorm_statistics import BatchNormStatistics, BatchNormStatisticsCallback


def test_recomputed_statistics_equal_the_average_batch_statistics(tmp_path):
    config = BatchNormTinyConfig()
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    keras_model = model.keras_model
    generator = DataGenerator(tiny_dataset(6), config, steps=3, seed=0, workers=1)
    batches = [generator[i] for i in range(3)]

    def variance_ratio(name):
        """median over channels of inference-mode input variance / moving variance."""
        layer = keras_model.get_layer(name)
        probe = keras.Model(keras_model.inputs, layer.input)
        x = probe(batches[0], training=False).numpy().reshape(-1, layer.input.shape[-1])
        return np.median(x.var(0) / (layer.moving_variance.numpy() + 1e-3))

    statistics = BatchNormStatistics(keras_model)
    # Stale statistics, as a lagging moving average leaves them.
    for layer in statistics.layers:
        layer.moving_mean.assign(layer.moving_mean + 3.0)
        layer.moving_variance.assign(layer.moving_variance * 50.0)
    before = {name: variance_ratio(name) for name in ("bn3a_branch2a", "bn4a_branch2a")}
    # The backbone's 5 and the heads' 6.
    assert len(statistics.layers) == 11
    assert statistics.update(batches) == 3

    # bn_conv1's input is conv1 of the image: independent of other BatchNorms,
    # so its statistics can be computed directly.
    conv1 = keras.Model(keras_model.get_layer("input_image").output,
                        keras_model.get_layer("conv1").output)
    channels = keras_model.get_layer("conv1").filters
    features = [conv1(b["input_image"]).numpy().reshape(-1, channels) for b in batches]
    means = np.stack([f.mean(0) for f in features])
    squares = np.stack([f.var(0) + f.mean(0) ** 2 for f in features])
    layer = keras_model.get_layer("bn_conv1")
    np.testing.assert_allclose(layer.moving_mean.numpy(), means.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_variance.numpy(),
                               squares.mean(0) - means.mean(0) ** 2, rtol=1e-3, atol=1e-4)

    # In inference mode, BatchNorms deep in the network now see inputs whose
    # variance their statistics describe; with the stale ones they were far off.
    # (The stale shift can zero a deep layer's input after its ReLU: ratio 0.)
    for name, ratio_before in before.items():
        ratio = variance_ratio(name)
        assert not 1 / 6 < ratio_before < 6, (name, ratio_before)
        assert 0.4 < ratio < 2.5, (name, ratio_before, ratio)


def test_frozen_statistics_are_left_alone(tmp_path):
    config = BatchNormTinyConfig()
    config.TRAIN_BN = False
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    statistics = BatchNormStatistics(model.keras_model)
    assert statistics.layers == []
    assert statistics.update([]) == 0


def test_each_epoch_recomputes_from_other_images():
    class Recorder:
        """Stands in for BatchNormStatistics: keeps the images it is given."""

        def __init__(self):
            self.seen = []

        def update(self, batches):
            self.seen.append(np.concatenate([b["input_image"] for b in batches]))
            return len(self.seen[-1])

    generator = DataGenerator(tiny_dataset(6), BatchNormTinyConfig(), steps=2, seed=0, workers=1)
    callback = BatchNormStatisticsCallback(generator, batches=2, steps_per_epoch=3)
    callback._statistics = Recorder()
    for _ in range(2):  # two epochs of three steps; the last step of each recomputes
        for batch in range(3):
            callback.on_train_batch_end(batch)
    first, second = callback._statistics.seen
    assert first.shape == second.shape and first.shape[0] == 2 * BatchNormTinyConfig().BATCH_SIZE
    assert not np.array_equal(first, second)
