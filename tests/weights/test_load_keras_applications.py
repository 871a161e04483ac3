"""keras.applications' ResNet50/101 notop files mapped onto matterport's
backbone names."""
import logging

import numpy as np
import pytest
from weights_fixtures import ENCODINGS, keras_applications_groups, snapshot, write_keras2_file

from mrcnn.weights import keras_applications_to_matterport

BRANCHES = {"0": "1", "1": "2a", "2": "2b", "3": "2c"}


def expected_name(keras_name):
    """matterport's name for a keras.applications ResNet layer, spelled out
    independently of mrcnn.weights: block i of a stage is letter i (1 -> a)."""
    if keras_name.startswith("conv1_"):
        return {"conv1_conv": "conv1", "conv1_bn": "bn_conv1"}[keras_name]
    stage_part, block_part, branch, kind = keras_name.split("_")
    stage = stage_part[len("conv"):]
    letter = "abcdefghijklmnopqrstuvw"[int(block_part[len("block"):]) - 1]
    return f"{'res' if kind == 'conv' else 'bn'}{stage}{letter}_branch{BRANCHES[branch]}"


@pytest.mark.parametrize("keras_name, matterport_name", [
    ("conv1_conv", "conv1"), ("conv1_bn", "bn_conv1"),
    ("conv2_block1_0_conv", "res2a_branch1"), ("conv2_block1_0_bn", "bn2a_branch1"),
    ("conv3_block4_2_conv", "res3d_branch2b"), ("conv4_block6_3_bn", "bn4f_branch2c"),
    ("conv4_block23_1_conv", "res4w_branch2a"), ("conv5_block3_3_conv", "res5c_branch2c"),
    ("pool1_pad", None), ("conv5_block3_out", None), ("probs", None),
])
def test_name_map(keras_name, matterport_name):
    assert keras_applications_to_matterport(keras_name) == matterport_name


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("depth", ["resnet50", "resnet101"])
def test_notop_file_fills_the_backbone(request, tmp_path, depth, encoding, caplog):
    model = request.getfixturevalue("model_r50" if depth == "resnet50" else "model_r101")
    groups, values = keras_applications_groups(depth, np.random.default_rng(3))
    path = tmp_path / f"{depth}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    write_keras2_file(path, groups, encoding)
    before = snapshot(model.keras_model)
    model.pretrained_batchnorm = False

    with caplog.at_level(logging.INFO, logger="mrcnn.weights"):
        report = model.load_weights(path, by_name=True)

    after = snapshot(model.keras_model)
    expected = {}
    for keras_path, array in values.items():
        layer, weight = keras_path.split("/")
        expected[f"{expected_name(layer)}/{weight}"] = array
    assert set(expected) <= set(after)
    for name, array in after.items():
        np.testing.assert_array_equal(array, expected.get(name, before[name]), err_msg=name)
    backbone = {n for n in after if n.split("/")[0].startswith(("res", "bn", "conv1"))}
    assert backbone == set(expected)
    if depth == "resnet101":
        # Stage 4 of ResNet-101: blocks a..w, every one from the file.
        blocks = {n.split("_")[0][len("res4"):] for n in report.loaded if n.startswith("res4")}
        assert blocks == set("abcdefghijklmnopqrstuvw")
    assert report.layout == "keras.applications"
    assert sorted(report.loaded) == sorted(expected)
    assert report.skipped_tensors == 0
    assert sorted(report.initial) == sorted(set(after) - backbone)
    assert any(n.startswith("fpn_") for n in report.initial)
    assert model.pretrained_batchnorm is True
    assert (f"loaded {len(expected)} tensors, skipped 0, left at initial values "
            f"{len(after) - len(expected)}") in caplog.text


def test_resnet101_file_into_resnet50_says_what_is_left(model_r50, tmp_path, caplog):
    groups, values = keras_applications_groups("resnet101", np.random.default_rng(4))
    write_keras2_file(tmp_path / "r101.h5", groups, "bytes")
    with caplog.at_level(logging.WARNING, logger="mrcnn.weights"):
        report = model_r50.load_weights(tmp_path / "r101.h5", by_name=True)
    # Blocks f..w of stage 4 (17 blocks x 3 convs x 2 layers) have no place.
    assert len(report.skipped) == 17 * 6
    assert report.skipped_tensors == 17 * 3 * (2 + 4)
    assert "r101.h5 has 102 layers this model does not have" in caplog.text
