"""A backbone of the user's own is one registration (mrcnn.backbones), and
then every command works with it: train, --weights=last (with the backbone's
own layer group), evaluate, predict, export; a checkpoint of it names the
backbone, and a process that has not registered it says so in one line."""
import glob
import json
import os
import subprocess
import sys

import h5py
import keras
import numpy as np
import pytest
import yaml
from cli_fixtures import tiny_args, write_via2
from keras import layers
from PIL import Image

from mrcnn import backbones
from mrcnn.cli import main
from mrcnn.config import Config
from mrcnn.export import ExportedModel
from mrcnn.model import MaskRCNN
from mrcnn.training.checkpoints import read_checkpoint_config
from mrcnn.training.layers import check_layer_selection, layers_regex


def strided_net(input_image, stage5=True, train_bn=True):
    """Four stride-2 convolutions and a pooling, named nothing like ResNet:
    [C1..C5] float32 [B, H / 2**k, W / 2**k, channels]."""
    x = layers.Conv2D(8, 3, strides=4, padding="same", name="mine_stem")(input_image)
    outputs = [None, x]
    for level, channels in zip((3, 4, 5), (16, 16, 24)):
        x = layers.Conv2D(channels, 3, strides=2, padding="same", activation="relu",
                          name=f"mine_level{level}")(x)
        outputs.append(x)
    return outputs


def stored(path, layer):
    """The kernel of `layer` in checkpoint `path`, flattened: list of float."""
    with h5py.File(path, "r") as f:
        group = f[layer]
        names = []
        group.visit(names.append)
        kernel = [n for n in names if n.endswith("kernel:0") or n.endswith("kernel")][0]
        return [float(v) for v in group[kernel][()].ravel()]


@pytest.fixture
def registered():
    spec = backbones.register_backbone(
        "strided_net", strided_net, replace=True,
        stage_layers={"upper": r"mine_level4|mine_level5"},
        weight_layer_names=lambda: ["mine_stem", "mine_level3", "mine_level4", "mine_level5"])
    yield spec
    backbones._REGISTRY.pop("strided_net", None)


def test_one_registration_and_every_command_works(registered, tmp_path, capsys):
    keras.utils.set_random_seed(3)
    data = write_via2(tmp_path / "data", count=6)
    logs = tmp_path / "logs"
    flags = ["--dataset", str(data), *tiny_args(logs)]
    assert main(["train", *flags, "--set", "BACKBONE=strided_net", "--epochs", "1"]) == 0
    (run_dir,) = glob.glob(str(logs / "mrcnn2*"))
    first = os.path.join(run_dir, "mask_rcnn_mrcnn_0001.h5")
    with h5py.File(first, "r") as f:
        saved = yaml.safe_load(f.attrs["mrcnn_config"])
        assert "mine_level4" in f and "res2a_branch2a" not in f
    assert saved["BACKBONE"] == "strided_net"

    # The run's settings come back from the checkpoint, the backbone's own
    # layer group included.
    assert main(["train", *flags, "--weights=last", "--epochs", "2", "--layers", "upper"]) == 0
    out = capsys.readouterr().out
    assert "Continuing the run in" in out
    second = os.path.join(run_dir, "mask_rcnn_mrcnn_0002.h5")
    # "upper" trained mine_level4/5 and the heads; the stem stayed as it was.
    assert stored(second, "mine_stem") == pytest.approx(stored(first, "mine_stem"))
    assert stored(second, "mine_level5") != pytest.approx(stored(first, "mine_level5"))

    assert main(["evaluate", "--dataset", str(data), "--logs", str(logs), "--weights=last",
                 "--limit", "2"]) == 0
    assert "mAP@0.5" in capsys.readouterr().out

    out_dir = tmp_path / "predictions"
    assert main(["predict", "--logs", str(logs), "--weights=last", "--images",
                 str(tmp_path / "data" / "img00.jpg"), "--out", str(out_dir)]) == 0
    images = json.loads((out_dir / "coco_images.json").read_text())
    assert [os.path.basename(image["file_name"]) for image in images["images"]] == ["img00.jpg"]
    assert (out_dir / "img00.png").is_file()

    # Exported, the network no longer needs the registry (TensorFlow alone).
    export_dir = tmp_path / "export"
    assert main(["export", "--logs", str(logs), "--weights=last", "--out", str(export_dir)]) == 0
    image = np.asarray(Image.open(tmp_path / "data" / "img00.jpg"))
    found = ExportedModel(export_dir).predict(image, score_threshold=0.0)
    # The same detections as the checkpoint in Python.
    config = Config.from_yaml(read_checkpoint_config(second))
    config.IMAGES_PER_GPU = 1
    # The export computes in the policy it records (float32 unless named).
    config.DTYPE_POLICY = ExportedModel(export_dir).metadata["dtype_policy"]
    model = MaskRCNN("inference", config, str(logs))
    model.load_weights(second, by_name=True)
    expected = model.detect([image])[0]
    assert len(found["scores"]) == len(expected["scores"])
    np.testing.assert_allclose(found["scores"], expected["scores"], atol=1e-4)
    np.testing.assert_allclose(found["boxes"], expected["rois"], atol=1.0)
    assert found["masks"].shape[1:] == image.shape[:2]


def test_groups_are_the_backbones_own(registered, monkeypatch):
    # The backbones this process registered that list their layers (others,
    # such as matterport's callable hook registered by earlier tests, could
    # hold any layer: see the end).
    monkeypatch.setattr(backbones, "_REGISTRY", {
        name: spec for name, spec in backbones._REGISTRY.items()
        if spec.weight_layer_names is not None})
    assert layers_regex("upper", "strided_net") == (
        r"mine_level4|mine_level5|(mrcnn\_.*)|(rpn\_.*)|(fpn\_.*)")
    with pytest.raises(ValueError, match=r"layers='4\+' is not a layer group of BACKBONE "
                                         r"'strided_net'; its groups: \['heads', 'upper', 'all'\]"):
        layers_regex("4+", "strided_net")
    assert layers_regex("4+", "resnet50").startswith("(res4.*)|(bn4.*)|(res5.*)")
    # --layers is checked before the config is known: against every backbone.
    check_layer_selection("upper")
    check_layer_selection("4+")
    with pytest.raises(ValueError, match="not a layer group"):
        check_layer_selection("4+", "strided_net")
    with pytest.raises(ValueError, match="matches no layer"):
        check_layer_selection("nothing_.*")
    # A backbone registered without its layer names may have such a layer.
    backbones.register_backbone("unlisted_net", strided_net)
    check_layer_selection("nothing_.*")
    with pytest.raises(ValueError, match="matches no layer"):
        check_layer_selection("nothing_.*", "strided_net")


def test_a_process_that_did_not_register_it_says_how(registered, tmp_path):
    data = write_via2(tmp_path / "data", count=4)
    logs = tmp_path / "logs"
    assert main(["train", "--dataset", str(data), *tiny_args(logs),
                 "--set", "BACKBONE=strided_net", "--epochs", "1"]) == 0
    done = subprocess.run(
        [sys.executable, "-c", "from mrcnn.cli import main; raise SystemExit(main())",
         "evaluate", "--dataset", str(data), "--logs", str(logs), "--weights=last"],
        capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    error = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert error[-1].startswith("error:") or "BACKBONE" in error[-1]
    assert "'strided_net' is not registered" in error[-1]
    assert "register_backbone()" in error[-1] and "mrcnn.backbones" in error[-1]
