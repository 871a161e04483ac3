"""matterport's mask_rcnn_coco.h5 layout, loaded by name into a model with
another class count."""
import logging

import h5py
import numpy as np
import pytest
from weights_fixtures import (ENCODINGS, WEIGHTLESS, matterport_groups, snapshot,
                              write_keras2_file)

from mrcnn.weights import CLASS_HEADS, load_weights_h5

HEAD_TENSORS = {f"{layer}/{w}" for layer in CLASS_HEADS for w in ("kernel", "bias")}


def coco_like_file(path, model, encoding, file_classes=81, seed=0, **kwargs):
    groups, values = matterport_groups(model.keras_model, file_classes,
                                       np.random.default_rng(seed))
    write_keras2_file(path, groups, encoding, weightless=WEIGHTLESS, **kwargs)
    return values


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_coco_layout_loads_all_but_class_heads(model_r50, tmp_path, encoding, caplog):
    path = tmp_path / "mask_rcnn_coco.h5"
    values = coco_like_file(path, model_r50, encoding)
    before = snapshot(model_r50.keras_model)
    model_r50.pretrained_batchnorm = False

    with caplog.at_level(logging.INFO, logger="mrcnn.weights"):
        report = model_r50.load_weights(path, by_name=True)

    after = snapshot(model_r50.keras_model)
    assert set(after) == set(values)
    for name, array in after.items():
        expected = before[name] if name in HEAD_TENSORS else values[name]
        np.testing.assert_array_equal(array, expected, err_msg=name)
    # Every backbone, FPN and RPN tensor is loaded: rpn_model was split.
    assert {"rpn_conv_shared/kernel", "rpn_class_raw/bias", "rpn_bbox_pred/kernel",
            "fpn_p2/kernel", "res5c_branch2c/bias", "mrcnn_mask_deconv/kernel",
            "bn_conv1/moving_variance"} <= set(report.loaded)
    assert len(report.loaded) == len(values) - 6
    assert report.skipped_tensors == 6
    assert sorted(report.initial) == sorted(HEAD_TENSORS)
    assert report.file_num_classes == 81
    assert report.layout == "matterport"
    assert model_r50.pretrained_batchnorm is True
    skipped_line, summary = [r.getMessage() for r in caplog.records]
    assert all(name in skipped_line for name in CLASS_HEADS)
    assert "the file has 81 classes, the model NUM_CLASSES=3" in skipped_line
    assert f"loaded {len(values) - 6} tensors, skipped 6, left at initial values 6" in summary


def test_without_by_name_another_class_count_is_refused(model_r50, tmp_path):
    path = tmp_path / "coco.h5"
    coco_like_file(path, model_r50, "bytes")
    before = snapshot(model_r50.keras_model)
    with pytest.raises(ValueError, match="81 classes.*by_name=True"):
        model_r50.load_weights(path)
    after = snapshot(model_r50.keras_model)
    for name in ("conv1/kernel", "fpn_p2/kernel"):
        np.testing.assert_array_equal(after[name], before[name])


def test_same_class_count_loads_everything_by_topology(model_r50, tmp_path):
    path = tmp_path / "same.h5"
    values = coco_like_file(path, model_r50, "str", file_classes=3, full_model=True)
    report = model_r50.load_weights(path)  # by_name=False: the file fits the whole model
    after = snapshot(model_r50.keras_model)
    for name, array in after.items():
        np.testing.assert_array_equal(array, values[name], err_msg=name)
    assert (len(report.loaded), report.skipped_tensors, len(report.initial)) == (len(values), 0, 0)


def test_exclude_skips_named_layers(model_r50, tmp_path, caplog):
    path = tmp_path / "same.h5"
    values = coco_like_file(path, model_r50, "bytes", file_classes=3, seed=1)
    before = snapshot(model_r50.keras_model)
    with caplog.at_level(logging.INFO, logger="mrcnn.weights"):
        report = model_r50.load_weights(path, exclude=["mrcnn_mask_conv1", "fpn_p2"])
    after = snapshot(model_r50.keras_model)
    kept = {"mrcnn_mask_conv1/kernel", "mrcnn_mask_conv1/bias", "fpn_p2/kernel", "fpn_p2/bias"}
    for name, array in after.items():
        np.testing.assert_array_equal(array, before[name] if name in kept else values[name])
    assert report.skipped == {"mrcnn_mask_conv1": "excluded", "fpn_p2": "excluded"}
    assert (report.skipped_tensors, sorted(report.initial)) == (4, sorted(kept))
    assert "fpn_p2, mrcnn_mask_conv1 (excluded)" in caplog.text


def load_reshaped_file(model, path, shape_of, seed, caplog):
    """Write a matterport file whose weights have `shape_of`'s shapes, load
    it by name; returns (report, file values, snapshot before, after)."""
    groups, values = matterport_groups(model.keras_model, 3, np.random.default_rng(seed),
                                       shape_of=shape_of)
    write_keras2_file(path, groups, "str")
    before = snapshot(model.keras_model)
    with caplog.at_level(logging.INFO, logger="mrcnn.weights"):
        report = model.load_weights(path, by_name=True)
    return report, values, before, snapshot(model.keras_model)


def test_other_shape_mismatch_is_skipped_with_a_warning(model_r50, tmp_path, caplog):
    """A file made for 2 anchor ratios (RPN heads of another width) loads
    everything else; the RPN output layers stay as they were."""
    def shape_of(layer_name, weight, _):
        shape = list(weight.shape)
        if layer_name in ("rpn_class_raw", "rpn_bbox_pred"):
            shape[-1] = shape[-1] // 3 * 2
        return tuple(shape)

    report, values, before, after = load_reshaped_file(model_r50, tmp_path / "anchors.h5",
                                                       shape_of, 2, caplog)
    for name in ("rpn_class_raw/kernel", "rpn_bbox_pred/bias"):
        np.testing.assert_array_equal(after[name], before[name])
    np.testing.assert_array_equal(after["rpn_conv_shared/kernel"], values["rpn_conv_shared/kernel"])
    assert set(report.skipped) == {"rpn_class_raw", "rpn_bbox_pred"}
    # rpn_conv_shared loaded: no width setting is at fault.
    assert report.width_hints == []
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "rpn_class_raw (kernel: file (1, 1, 64, 4), model (1, 1, 64, 6))" in warnings[0].message
    assert "rpn_bbox_pred (kernel: file (1, 1, 64, 8), model (1, 1, 64, 12))" in warnings[0].message


def test_a_wider_rpn_is_skipped_and_the_warning_names_the_setting(model_r50, tmp_path, caplog):
    """mask_rcnn_coco.h5 has matterport's 512-channel RPN; a model built
    with another RPN_CONV_CHANNELS leaves the RPN at its initial values and
    the warning says which value loads it."""
    width = model_r50.config.RPN_CONV_CHANNELS
    wide = 2 * width

    def shape_of(layer_name, weight, _):
        shape = list(weight.shape)
        if layer_name == "rpn_conv_shared":
            shape[-1] = wide
        elif layer_name in ("rpn_class_raw", "rpn_bbox_pred") and len(shape) == 4:
            shape[2] = wide
        return tuple(shape)

    report, values, before, after = load_reshaped_file(model_r50, tmp_path / "wide_rpn.h5",
                                                       shape_of, 3, caplog)
    assert set(report.skipped) == {"rpn_conv_shared", "rpn_class_raw", "rpn_bbox_pred"}
    np.testing.assert_array_equal(after["rpn_conv_shared/kernel"], before["rpn_conv_shared/kernel"])
    np.testing.assert_array_equal(after["fpn_p2/kernel"], values["fpn_p2/kernel"])
    assert report.width_hints == [
        f"RPN_CONV_CHANNELS={wide} (the file's rpn_conv_shared; the model's: {width})"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"The file was written with RPN_CONV_CHANNELS={wide}" in warnings[0]


def test_not_a_weight_file_is_named(tmp_path, model_r50):
    bad = tmp_path / "notes.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="notes.h5: cannot be read as an HDF5 weight file"):
        load_weights_h5(model_r50.keras_model, bad)
    native = tmp_path / "model.weights.h5"
    with h5py.File(native, "w") as f:
        f.create_group("layers")
    with pytest.raises(ValueError, match="Keras 3 `.weights.h5` file"):
        load_weights_h5(model_r50.keras_model, native)
