"""GroupNorm, the from-scratch normalisation: per-image, and recorded in
checkpoints so inference and resumed runs compute what training did."""
import h5py
import numpy as np
import pytest
from tiny import TinyConfig, tiny_dataset

import mrcnn.model as modellib
from mrcnn.config import ConfigError
from mrcnn.modeling.normalization import BatchNorm, FrozenBatchNorm, GroupNorm

EPSILON = 1e-3


def group_norm_reference(x, groups, gamma, beta):
    n, h, w, c = x.shape
    grouped = x.reshape(n, h, w, groups, c // groups).astype(np.float64)
    mean = grouped.mean(axis=(1, 2, 4), keepdims=True)
    variance = grouped.var(axis=(1, 2, 4), keepdims=True)
    normalised = ((grouped - mean) / np.sqrt(variance + EPSILON)).reshape(x.shape)
    return normalised * gamma + beta


@pytest.mark.parametrize("channels, groups", [(64, 32), (48, 16)])
def test_group_norm_matches_a_numpy_reference(channels, groups):
    rng = np.random.default_rng(channels)
    x = rng.normal(5.0, 3.0, (3, 6, 7, channels)).astype(np.float32)
    x[1] *= 40.0  # another image at another scale
    layer = GroupNorm(groups=32)
    layer.build(x.shape)
    gamma = rng.normal(1.0, 0.2, channels).astype(np.float32)
    beta = rng.normal(0.0, 0.5, channels).astype(np.float32)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    expected = group_norm_reference(x, groups, gamma, beta)
    for training in (True, False):
        np.testing.assert_allclose(layer(x, training=training).numpy(), expected,
                                   rtol=1e-4, atol=1e-4)
    # Statistics are neither used nor learned.
    np.testing.assert_array_equal(layer.moving_mean.numpy(), 0.0)
    np.testing.assert_array_equal(layer.moving_variance.numpy(), 1.0)


def test_an_image_is_normalised_without_its_batch():
    rng = np.random.default_rng(0)
    batch = rng.normal(0.0, 1.0, (2, 5, 5, 32)).astype(np.float32)
    batch[1] += 100.0
    layer = GroupNorm(groups=32)
    alone = layer(batch[:1], training=True).numpy()
    together = layer(batch, training=True).numpy()
    np.testing.assert_allclose(together[:1], alone, rtol=1e-5, atol=1e-5)


NORMALIZATION_LAYERS = {"bn_conv1", "bn4a_branch2a", "mrcnn_class_bn1", "mrcnn_mask_bn4"}


def classes_of(keras_model):
    """The classes of the network's normalization layers (backbone and heads)."""
    return {type(keras_model.get_layer(name)) for name in NORMALIZATION_LAYERS}


def test_from_scratch_runs_use_group_norm_and_checkpoints_say_so(tmp_path):
    config = TinyConfig()
    model = modellib.MaskRCNN("training", config, str(tmp_path))
    assert model.normalization == "group" and classes_of(model.keras_model) == {GroupNorm}
    history = model.train(tiny_dataset(4), None, learning_rate=0.001, epochs=1, layers="all")
    assert np.isfinite(history.history["loss"]).all()
    checkpoint = model.find_last()
    with h5py.File(checkpoint, "r") as f:
        assert f.attrs["mrcnn_normalization"] in ("group", b"group")

    # A BatchNorm-configured inference model still computes what the
    # checkpoint was trained with only when told to; the automatic one
    # follows the file.
    inference = modellib.MaskRCNN("inference", TinyConfig(), str(tmp_path))
    inference.load_weights(checkpoint, by_name=True)
    assert inference.normalization == "group"
    assert classes_of(inference.keras_model) == {GroupNorm}
    image = tiny_dataset(1).load_image(0)
    assert len(inference.detect([image])) == 1


def test_files_written_with_batchnorm_switch_to_batchnorm(tmp_path):
    """COCO, ImageNet and matterport files carry BatchNorm weights and no
    record: loading one makes the layers BatchNorm (with frozen statistics)."""
    config = TinyConfig()
    config.NORMALIZATION = "batch"
    source = modellib.MaskRCNN("training", config, str(tmp_path))
    path = str(tmp_path / "pretrained.h5")
    source.save_weights_h5(path)
    with h5py.File(path, "a") as f:
        for name in ("mrcnn_normalization", "mrcnn_trained_batchnorm_statistics"):
            if name in f.attrs:
                del f.attrs[name]

    # Loaded before the network is first used, the file decides how it is built.
    model = modellib.MaskRCNN("training", TinyConfig(), str(tmp_path))
    model.load_weights(path, by_name=True)
    assert model.normalization == "batch" and classes_of(model.keras_model) == {FrozenBatchNorm}
    assert model.pretrained_batchnorm and not model.train_batchnorm
    # The evaluation callbacks' inference twin normalises as the weights it copies.
    model.validation_detector()
    assert classes_of(model._inference_twin.keras_model) == {FrozenBatchNorm}

    # Loaded into a network already built (GroupNorm), it is built again,
    # and the weights it had are kept where the file has none.
    model = modellib.MaskRCNN("training", TinyConfig(), str(tmp_path))
    assert classes_of(model.keras_model) == {GroupNorm}
    built = model.keras_model
    kernel = built.get_layer("mrcnn_mask_conv1").weights[0].numpy()
    model.load_weights(path, by_name=True, exclude=["mrcnn_mask_conv1"])
    assert model.keras_model is not built
    assert classes_of(model.keras_model) == {FrozenBatchNorm}
    np.testing.assert_array_equal(model.keras_model.get_layer("mrcnn_mask_conv1").weights[0],
                                  kernel)

    forced = TinyConfig()
    forced.NORMALIZATION = "group"
    model = modellib.MaskRCNN("training", forced, str(tmp_path))
    model.load_weights(path, by_name=True)
    assert classes_of(model.keras_model) == {GroupNorm}


def test_learned_statistics_train_as_batchnorm():
    """TRAIN_BN=True builds BatchNorm layers that use their batch's
    statistics in a training call; an inference model's are frozen."""
    config = TinyConfig()
    config.NORMALIZATION, config.TRAIN_BN = "batch", True
    model = modellib.MaskRCNN("training", config, "unused")
    assert classes_of(model.keras_model) == {BatchNorm}
    assert classes_of(modellib.MaskRCNN("inference", config, "unused").keras_model) == {
        FrozenBatchNorm}


def test_normalization_setting_is_checked():
    config = TinyConfig()
    config.NORMALIZATION = "layer"
    with pytest.raises(ConfigError, match="NORMALIZATION"):
        config.validate()
