"""--weights=coco|imagenet|last|none|PATH: where files come from, no network."""
import dataclasses
import hashlib
import io
import os
import types
import urllib.error

import numpy as np
import pytest
from weights_fixtures import TinyConfig, matterport_groups, write_keras2_file

import mrcnn.weights as W
from mrcnn import backbones


def fake_model(tmp_path, backbone="resnet50"):
    config = TinyConfig()
    config.BACKBONE = backbone
    return types.SimpleNamespace(config=config, find_last=lambda: str(tmp_path / "last.h5"))


def keras_cache():
    return os.path.join(os.environ["HOME"], ".keras", "models")


class FakeResponse(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_none_last_and_paths(tmp_path):
    model = fake_model(tmp_path)
    assert [W.resolve_weights(s, model) for s in (None, "", "none", "NONE")] == [None] * 4
    assert W.resolve_weights("last", model) == str(tmp_path / "last.h5")
    (tmp_path / "mine.h5").write_bytes(b"x")
    assert W.resolve_weights(str(tmp_path / "mine.h5"), model) == str(tmp_path / "mine.h5")
    with pytest.raises(FileNotFoundError, match="--weights=nope.h5: no such file.*coco, imagenet"):
        W.resolve_weights("nope.h5", model)


def test_weights_dir_comes_before_the_keras_cache(tmp_path, monkeypatch):
    for folder in (tmp_path / "mine", keras_cache()):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "mask_rcnn_coco.h5"), "wb") as f:
            f.write(b"x")
    model = fake_model(tmp_path)
    assert W.resolve_weights("coco", model) == os.path.join(keras_cache(), "mask_rcnn_coco.h5")
    monkeypatch.setenv("MRCNN_WEIGHTS_DIR", str(tmp_path / "mine"))
    assert W.resolve_weights("coco", model) == str(tmp_path / "mine" / "mask_rcnn_coco.h5")


@pytest.mark.parametrize("backbone", ["resnet50", "resnet101"])
def test_imagenet_file_per_backbone(tmp_path, backbone):
    name = f"{backbone}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    os.makedirs(keras_cache())
    open(os.path.join(keras_cache(), name), "wb").close()
    assert W.resolve_weights("imagenet", fake_model(tmp_path, backbone)) == \
        os.path.join(keras_cache(), name)


def test_get_imagenet_weights(model_r101):
    path = os.path.join(keras_cache(), "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5")
    os.makedirs(keras_cache())
    open(path, "wb").close()
    assert model_r101.get_imagenet_weights() == path


def test_custom_backbone_has_no_imagenet_weights(tmp_path):
    model = fake_model(tmp_path, backbone=lambda image, stage5, train_bn: None)
    with pytest.raises(ValueError, match="no ImageNet weights for BACKBONE='<lambda>'"):
        W.resolve_weights("imagenet", model)


def test_offline_message_gives_url_and_path(tmp_path, monkeypatch):
    def offline(url):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(W, "_urlopen", offline)
    target = os.path.join(keras_cache(), "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5")
    with pytest.raises(W.WeightsUnavailableError) as error:
        W.resolve_weights("imagenet", fake_model(tmp_path, "resnet101"))
    message = str(error.value)
    assert ("https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
            "resnet101_weights_tf_dim_ordering_tf_kernels_notop.h5") in message
    assert f"put it at {target}" in message and "name resolution" in message
    assert not os.path.exists(target) and os.listdir(keras_cache()) == []


def test_download_goes_to_the_weights_dir(tmp_path, monkeypatch):
    data = np.random.default_rng(0).bytes(3 << 20)
    urls = []

    def serve(url):
        urls.append(url)
        return FakeResponse(data)

    monkeypatch.setattr(W, "_urlopen", serve)
    resnet50 = backbones.get_backbone("resnet50")
    file_name = resnet50.imagenet[0]
    assert file_name == "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    monkeypatch.setitem(backbones._REGISTRY, "resnet50", dataclasses.replace(
        resnet50, imagenet=(file_name, hashlib.md5(data).hexdigest())))
    monkeypatch.setenv("MRCNN_WEIGHTS_DIR", str(tmp_path / "weights"))
    path = W.resolve_weights("imagenet", fake_model(tmp_path))
    assert path == str(tmp_path / "weights" / file_name)
    assert open(path, "rb").read() == data
    assert urls == [W.KERAS_APPLICATIONS_URL + file_name]
    assert os.listdir(tmp_path / "weights") == [os.path.basename(path)]


def test_corrupt_download_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(W, "_urlopen", lambda url: FakeResponse(b"truncated"))
    with pytest.raises(W.WeightsUnavailableError, match="differs from the published"):
        W.resolve_weights("imagenet", fake_model(tmp_path))
    assert os.listdir(keras_cache()) == []


def test_load_initial_weights_coco_and_none(model_r50, monkeypatch, tmp_path):
    groups, values = matterport_groups(model_r50.keras_model, 81, np.random.default_rng(5))
    os.makedirs(tmp_path / "weights")
    write_keras2_file(tmp_path / "weights" / "mask_rcnn_coco.h5", groups, "str")
    monkeypatch.setenv("MRCNN_WEIGHTS_DIR", str(tmp_path / "weights"))
    report = W.load_initial_weights(model_r50, "coco")
    assert set(report.skipped) == {"mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_mask"}
    np.testing.assert_array_equal(model_r50.keras_model.get_layer("fpn_p3").weights[0].numpy(),
                                  values["fpn_p3/kernel"])
    assert model_r50.epoch == 0 and model_r50.pretrained_batchnorm
    assert W.load_initial_weights(model_r50, "none") is None


def test_keras_home_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert W.weights_dirs() == [str(tmp_path / "kh" / "models")]
    monkeypatch.setenv("MRCNN_WEIGHTS_DIR", str(tmp_path / "w"))
    assert W.weights_dirs() == [str(tmp_path / "w"), str(tmp_path / "kh" / "models")]
