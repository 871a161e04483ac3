"""A weight file that fits nothing of the model is refused, naming what it
holds (issue 13, item 6); excluded layers and class-head skips still load."""
import numpy as np
import pytest
from weights_fixtures import (WEIGHTLESS, keras_applications_groups, matterport_groups, snapshot,
                              write_keras2_file)

from mrcnn.errors import WeightsFileError
from mrcnn.weights import CLASS_HEADS


def another_models_file(path):
    """What keras.Sequential([Dense(16), Dense(4)]).save_weights('x.h5')
    wrote in Keras 2: two layers `dense`, `dense_1` with kernel and bias."""
    rng = np.random.default_rng(0)
    groups = [("dense", [("dense/kernel:0", rng.standard_normal((8, 16), dtype=np.float32)),
                         ("dense/bias:0", np.zeros(16, np.float32))]),
              ("dense_1", [("dense_1/kernel:0", rng.standard_normal((16, 4), dtype=np.float32)),
                           ("dense_1/bias:0", np.zeros(4, np.float32))])]
    write_keras2_file(path, groups, "bytes", weightless=("input_1",))


def assert_unchanged(model, before):
    after = snapshot(model.keras_model)
    for name, array in after.items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)


def test_another_models_file_is_refused_naming_its_layers(model_r50, tmp_path):
    path = tmp_path / "classifier.h5"
    another_models_file(path)
    before = snapshot(model_r50.keras_model)
    with pytest.raises(WeightsFileError) as info:
        model_r50.load_weights(path, by_name=True)
    message = str(info.value)
    assert message.startswith(f"{path} (matterport layout) fits no layer of this model; "
                              "the file holds 2 layers with weights (dense, dense_1), "
                              "this model expects ")
    assert "(conv1, bn_conv1, res2a_branch2a, bn2a_branch2a and " in message
    assert message.endswith("Give a weight file of this network, or --weights=none")
    assert_unchanged(model_r50, before)


def test_a_file_that_fills_under_half_the_backbone_is_refused(model_r50, tmp_path):
    # keras.applications' ResNet-50 cut after stage 2: conv1 and 3 of 16 blocks.
    groups, _ = keras_applications_groups("resnet50", np.random.default_rng(1))
    stem_and_stage2 = [(name, weights) for name, weights in groups
                       if name.startswith(("conv1", "conv2_"))]
    path = tmp_path / "stage2.h5"
    write_keras2_file(path, stem_and_stage2, "bytes")
    before = snapshot(model_r50.keras_model)
    with pytest.raises(WeightsFileError, match=r"stage2\.h5 \(keras\.applications layout\) fills "
                                               r"only 2\d% of this model's backbone \(at least 50% "
                                               r"expected\): another BACKBONE or architecture\?"):
        model_r50.load_weights(path, by_name=True)
    assert_unchanged(model_r50, before)


def test_excluding_the_backbone_lifts_the_share_check(model_r50, tmp_path):
    groups, values = matterport_groups(model_r50.keras_model, 3, np.random.default_rng(2))
    # The file keeps conv1 and the heads; the rest of the backbone is excluded.
    kept = [(n, w) for n, w in groups if not n.startswith(("res", "bn")) or n == "bn_conv1"]
    path = tmp_path / "heads.h5"
    write_keras2_file(path, kept, "bytes", weightless=WEIGHTLESS)
    excluded = [layer.name for layer in model_r50.keras_model.layers
                if layer.weights and layer.name.startswith(("res", "bn"))
                and layer.name != "bn_conv1"]
    report = model_r50.load_weights(path, by_name=True, exclude=excluded)
    assert "conv1/kernel" in report.loaded and "mrcnn_mask/kernel" in report.loaded
    np.testing.assert_array_equal(snapshot(model_r50.keras_model)["fpn_p2/kernel"],
                                  values["fpn_p2/kernel"])


def test_only_class_heads_of_another_count_load_nothing_without_complaint(model_r50, tmp_path):
    groups, _ = matterport_groups(model_r50.keras_model, 81, np.random.default_rng(3))
    heads = [(n, w) for n, w in groups if n in CLASS_HEADS]
    path = tmp_path / "heads81.h5"
    write_keras2_file(path, heads, "bytes")
    report = model_r50.load_weights(path, by_name=True)
    # Skipped for their class count, as asked: nothing loaded, no error.
    assert report.loaded == [] and set(report.skipped) == set(CLASS_HEADS)


def test_layer_names_known_without_building_are_the_networks(model_r50):
    """`--layers` is checked against these names before a network is built."""
    from mrcnn.training.layers import weight_layer_names

    built = [layer.name for layer in model_r50.keras_model.layers if layer.weights]
    assert sorted(weight_layer_names("resnet50")) == sorted(built)
    assert len(built) == 133
    # ResNet-101 adds stage 4 blocks g..w: 17 blocks of 6 layers.
    assert len(weight_layer_names("resnet101")) == len(built) + 17 * 6
