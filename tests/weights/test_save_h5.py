"""Saving in matterport's layout, for old tooling and our own checkpoints."""
import os

import h5py
import numpy as np
import pytest
from weights_fixtures import snapshot

from mrcnn.weights import read_layer_weights, save_weights_h5


def test_saved_file_reads_as_keras2_would(model_r50, tmp_path):
    path = tmp_path / "export.h5"
    model_r50.epoch = 7
    assert model_r50.save_weights_h5(path) == os.fspath(path)
    with h5py.File(path, "r") as f:
        # Keras 2 loaders call .decode() on every name: fixed-length bytes.
        layer_names = [n.decode("utf8") for n in f.attrs["layer_names"]]
        assert "rpn_model" in layer_names
        assert not {"rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred"} & set(layer_names)
        rpn_names = [n.decode("utf8") for n in f["rpn_model"].attrs["weight_names"]]
        assert rpn_names == ["rpn_conv_shared/kernel:0", "rpn_conv_shared/bias:0",
                             "rpn_class_raw/kernel:0", "rpn_class_raw/bias:0",
                             "rpn_bbox_pred/kernel:0", "rpn_bbox_pred/bias:0"]
        bn_names = [n.decode("utf8") for n in f["bn_conv1"].attrs["weight_names"]]
        assert bn_names == ["bn_conv1/gamma:0", "bn_conv1/beta:0", "bn_conv1/moving_mean:0",
                            "bn_conv1/moving_variance:0"]
        assert f["mrcnn_mask"]["mrcnn_mask/kernel:0"].shape == (
                1, 1, model_r50.config.MASK_HEAD_CONV_CHANNELS, 3)
        assert f.attrs["epoch"] == 7 and "NUM_CLASSES: 3" in f.attrs["mrcnn_config"]
        stored = read_layer_weights(f)
    values = snapshot(model_r50.keras_model)
    assert sum(len(w) for w in stored.values()) == len(values)
    for layer, weights in stored.items():
        for weight_name, array in weights:
            np.testing.assert_array_equal(array, values[weight_name.split(":")[0]])
    assert os.listdir(tmp_path) == ["export.h5"]


def test_round_trip_into_another_model(model_r50, tmp_path):
    model_r50.save_weights_h5(tmp_path / "a.h5")
    values = snapshot(model_r50.keras_model)
    for w in model_r50.keras_model.weights:
        w.assign(np.zeros(w.shape, w.dtype))
    report = model_r50.load_weights(tmp_path / "a.h5")
    assert report.layout == "mrcnn checkpoint" and len(report.loaded) == len(values)
    for name, array in snapshot(model_r50.keras_model).items():
        np.testing.assert_array_equal(array, values[name])


def test_failed_write_leaves_nothing(model_r50, tmp_path):
    target = tmp_path / "mask_rcnn_tiny_0003.h5"

    def fail(_):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_weights_h5(model_r50.keras_model, target, extra=fail)
    assert os.listdir(tmp_path) == []
