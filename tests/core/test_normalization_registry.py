"""Normalization is chosen when the network is built, from one registry: a
user's normalization is one registration, and every normalization layer of
the network (backbone and heads) is made by it."""
import logging

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn import backbones, normalizations
from mrcnn.config import ConfigError
from mrcnn.modeling.normalization import BatchNorm, FrozenBatchNorm, GroupNorm

LAYERS = ("bn_conv1", "bn3a_branch2a", "bn5a_branch2a", "mrcnn_class_bn1", "mrcnn_class_bn2",
          "mrcnn_mask_bn1", "mrcnn_mask_bn4")


def layer_norm(name, *, learn_statistics, renorm):
    """A user's normalization: LayerNormalization over the channels."""
    return keras.layers.LayerNormalization(name=name, epsilon=1e-3)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(normalizations._REGISTRY, "test_layer", layer_norm)
    return "test_layer"


def test_a_registered_normalization_trains_loads_and_predicts(tmp_path, registered):
    config = TinyConfig()
    config.NORMALIZATION = registered
    config.validate()
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    assert {type(model.keras_model.get_layer(n)) for n in LAYERS} == {
        keras.layers.LayerNormalization}
    history = model.train(tiny_dataset(4), None, learning_rate=0.001, epochs=1, layers="all")
    assert np.isfinite(history.history["loss"]).all()
    checkpoint = model.find_last()
    with h5py.File(checkpoint, "r") as f:
        assert f.attrs["mrcnn_normalization"] in (registered, registered.encode())

    # NORMALIZATION=None follows the checkpoint's record.
    inference = modellib.MaskRCNN("inference", TinyConfig(), str(tmp_path))
    inference.load_weights(checkpoint, by_name=True)
    assert inference.normalization == registered
    layer = inference.keras_model.get_layer("bn_conv1")
    assert isinstance(layer, keras.layers.LayerNormalization)
    np.testing.assert_array_equal(layer.gamma.numpy(),
                                  model.keras_model.get_layer("bn_conv1").gamma.numpy())
    assert len(inference.detect([tiny_dataset(1).load_image(0)])) == 1


def test_unregistered_names_are_refused_with_the_registered_ones():
    config = TinyConfig()
    config.NORMALIZATION = "no_such_norm"
    with pytest.raises(ConfigError, match=r"NORMALIZATION.*'batch', 'group'"):
        config.validate()
    with pytest.raises(ValueError, match="already registered"):
        normalizations.register_normalization("batch", layer_norm)


@pytest.mark.parametrize("settings, expected", [
    ({"NORMALIZATION": "batch", "TRAIN_BN": False}, FrozenBatchNorm),
    ({"NORMALIZATION": "batch", "TRAIN_BN": True}, BatchNorm),
    ({"NORMALIZATION": "group"}, GroupNorm),
])
def test_the_config_chooses_the_layer_class(settings, expected):
    config = TinyConfig()
    for key, value in settings.items():
        setattr(config, key, value)
    model = modellib.MaskRCNN("training", config, "unused")
    assert {type(model.keras_model.get_layer(n)) for n in LAYERS} == {expected}


def test_frozen_batchnorm_trains_its_scale_but_never_its_statistics():
    layer = FrozenBatchNorm()
    x = tf.constant(np.random.default_rng(0).normal(4.0, 3.0, (4, 3, 3, 5)), tf.float32)
    layer.build(x.shape)
    layer.moving_mean.assign(np.full(5, 1.0, np.float32))
    layer.moving_variance.assign(np.full(5, 4.0, np.float32))
    with tf.GradientTape() as tape:
        y = layer(x, training=True)
        loss = tf.reduce_sum(y)
    np.testing.assert_allclose(y.numpy(), (x.numpy() - 1.0) / np.sqrt(4.0 + 1e-3), rtol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), 1.0)
    gamma_gradient, _ = tape.gradient(loss, [layer.gamma, layer.beta])
    assert np.abs(gamma_gradient.numpy()).min() > 0


def legacy_backbone(input_image, stage5=True, train_bn=True):
    """matterport's builder signature, with its own BatchNorm layers."""
    outputs = [None]
    x = input_image
    for level, channels in zip((1, 2, 3, 4, 5), (8, 8, 16, 16, 16)):
        x = keras.layers.Conv2D(channels, 3, strides=2, padding="same",
                                name=f"legacy_conv{level}")(x)
        x = BatchNorm(name=f"legacy_bn{level}")(x, training=train_bn)
        outputs.append(x) if level > 1 else None
    return outputs


def test_a_builder_without_norm_keeps_its_layers_and_the_log_says_so(monkeypatch, caplog):
    monkeypatch.setitem(backbones._REGISTRY, "legacy_bn",
                        backbones.Backbone(name="legacy_bn", build=legacy_backbone))
    config = TinyConfig()
    config.BACKBONE = "legacy_bn"
    config.NORMALIZATION = "group"
    with caplog.at_level(logging.WARNING, logger="mrcnn"):
        model = modellib.MaskRCNN("inference", config, "unused")
        keras_model = model.keras_model
    assert type(keras_model.get_layer("legacy_bn3")) is BatchNorm
    assert type(keras_model.get_layer("mrcnn_class_bn1")) is GroupNorm
    assert "takes no `norm`" in caplog.text and "legacy_bn1" in caplog.text
