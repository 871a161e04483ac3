"""COCO's 80 classes by name: the names module and configs/coco.yaml,
`mrcnn predict --weights=coco --config ...` naming detections "person",
"dog", and samples/coco evaluating a COCO-format folder. The `coco` weights
are a tiny untrained 81-class network saved in matterport's layout (no saved
settings, as mask_rcnn_coco.h5), found through MRCNN_WEIGHTS_DIR."""
import json
import os

import h5py
import pytest
import yaml
from cli_fixtures import TINY_YAML, paint
from conftest import REPO, import_sample
from sample_cases import write_coco_subset

from mrcnn.cli import main as mrcnn_main
from mrcnn.commands.datasets import instance_counts, load_parts
from mrcnn.data.coco_classes import COCO_CATEGORY_IDS, COCO_CLASS_NAMES, COCO_CLASSES


@pytest.fixture(scope="module")
def coco_weights(tmp_path_factory):
    """A folder holding mask_rcnn_coco.h5: the tiny network with 81 classes,
    without the settings this project's checkpoints carry."""
    import keras

    from mrcnn.commands.project import read_yaml_settings
    from mrcnn.config import Config
    from mrcnn.model import MaskRCNN

    folder = tmp_path_factory.mktemp("coco_weights")
    keras.utils.set_random_seed(0)
    config = Config()
    config.update(read_yaml_settings(TINY_YAML))
    config.update({"NAME": "coco", "NUM_CLASSES": 81, "GPU_COUNT": 1, "IMAGES_PER_GPU": 1})
    model = MaskRCNN(mode="inference", config=config, model_dir=str(folder))
    path = str(folder / "mask_rcnn_coco.h5")
    model.save_weights_h5(path)
    with h5py.File(path, "r+") as f:
        for key in [k for k in f.attrs if k.startswith("mrcnn_")]:
            del f.attrs[key]
        assert "mrcnn_config" not in f.attrs
    return folder


def test_the_names_are_matterports_81_in_order():
    assert len(COCO_CLASS_NAMES) == 81 and COCO_CLASS_NAMES[0] == "BG"
    assert COCO_CLASS_NAMES[1] == "person" and COCO_CLASS_NAMES[80] == "toothbrush"
    assert COCO_CLASS_NAMES.index("dog") == 17 and COCO_CLASS_NAMES.index("teddy bear") == 78
    assert len(set(COCO_CLASS_NAMES)) == 81 and COCO_CLASSES == COCO_CLASS_NAMES[1:]
    # matterport numbered COCO's categories in the order of their ids.
    assert len(COCO_CATEGORY_IDS) == 81 and COCO_CATEGORY_IDS == [0] + sorted(COCO_CATEGORY_IDS[1:])
    assert COCO_CATEGORY_IDS[78] == 88 and COCO_CATEGORY_IDS[80] == 90
    with open(os.path.join(REPO, "configs", "coco.yaml"), encoding="utf-8") as f:
        settings = yaml.safe_load(f)
    assert settings["CLASS_NAMES"] == COCO_CLASSES and settings["NUM_CLASSES"] == 81
    assert import_sample("coco").CocoConfig.CLASS_NAMES == COCO_CLASSES


def test_the_sample_reads_matterports_layout_with_cocos_class_ids(tmp_path):
    coco = import_sample("coco")
    write_coco_subset(tmp_path, "train", count=4)
    write_coco_subset(tmp_path, "val", count=2, seed=1)
    parts, how = load_parts(coco.load_coco, str(tmp_path), coco.CocoConfig())
    assert how == "the loader's own parts"
    assert {k: len(v.image_ids) for k, v in parts.items()} == {"train": 4, "val": 2}
    assert parts["train"].class_names == COCO_CLASS_NAMES
    assert set(instance_counts(parts["train"])) == {"person", "dog"}
    # A dog's mask has class id 17, mask_rcnn_coco.h5's id of "dog".
    ids = {int(c) for i in parts["train"].image_ids for c in parts["train"].load_mask(i)[1]}
    assert ids == {1, 17}
    # matterport's own call.
    dataset = coco.CocoDataset()
    dataset.load_coco(str(tmp_path), "val", 2017)
    dataset.prepare()
    assert dataset.class_names == ["BG", "person", "dog"] and len(dataset.image_ids) == 2


def test_matterports_flags_and_a_folder_without_training_files(tmp_path, capsys):
    coco = import_sample("coco")
    assert coco.translate_matterport_flags(
        ["train", "--dataset=/d", "--model=coco", "--year", "2014"]) == [
        "train", "--dataset=/d", "--weights", "coco", "--option", "year=2014"]
    write_coco_subset(tmp_path, "val", count=2)
    # Enough to evaluate: the parts have no training images.
    parts = coco.load_coco(str(tmp_path), coco.CocoConfig())
    assert parts["train"] is None and len(parts["val"].image_ids) == 2
    assert coco.main(["train", "--dataset", str(tmp_path), "--config", TINY_YAML,
                      "--logs", str(tmp_path / "logs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"coco.py train: {tmp_path}/annotations/instances_train2017.json: no such file; "
                   "training needs the train2017 annotations and images (the folder holds only "
                   "the validation ones, enough to evaluate)")
    assert coco.main(["evaluate", "--dataset", str(tmp_path), "--year", "2014",
                      "--weights=none"]) == 2
    assert "instances_val2014.json" in capsys.readouterr().err


def test_sample_evaluates_a_coco_folder_with_the_coco_weights(coco_weights, tmp_path, monkeypatch,
                                                              capsys, caplog):
    monkeypatch.setenv("MRCNN_WEIGHTS_DIR", str(coco_weights))
    coco = import_sample("coco")
    write_coco_subset(tmp_path / "coco", "val", count=2)
    out = tmp_path / "eval"
    assert coco.main(["evaluate", "--dataset=" + str(tmp_path / "coco"), "--model=coco",
                      "--config", TINY_YAML, "--logs", str(tmp_path / "logs"),
                      "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Evaluating 2 val images" in printed
    # The sample's classes met the file's 81 outputs: every tensor loaded.
    # (The summary is printed, or logged when INFO is on: earlier tests in
    # the process may have left it on.)
    said = printed + caplog.text
    assert "mask_rcnn_coco.h5 (matterport layout): loaded" in said
    assert "skipped 0" in said
    metrics = json.load(open(out / "metrics.json"))
    assert metrics["num_images"] == 2 and metrics["subset"] == "val" and metrics["weights"] == "coco"
    results = json.load(open(out / "coco_results.json"))
    # The untrained network keeps DETECTION_MAX_INSTANCES (8) per image.
    assert len(results) == 2 * 8


def test_predict_names_detections_with_cocos_names(coco_weights, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MRCNN_WEIGHTS_DIR", str(coco_weights))
    # configs/coco.yaml with the tiny network's settings (one --config).
    settings = yaml.safe_load(open(os.path.join(REPO, "configs", "coco.yaml")))
    settings.update(yaml.safe_load(open(TINY_YAML)))
    config = tmp_path / "coco_tiny.yaml"
    config.write_text(yaml.safe_dump(settings))
    images = tmp_path / "photos"
    paint(images / "photo.jpg", 64, 80, [([10.0, 40.0, 40.0, 10.0], [10.0, 10.0, 40.0, 40.0])], [0])
    out = tmp_path / "out"
    assert mrcnn_main(["predict", "--weights=coco", "--config", str(config), "--images",
                       str(images), "--out", str(out), "--logs", str(tmp_path / "logs")]) == 0
    header = json.load(open(out / "coco_images.json"))
    assert [c["name"] for c in header["categories"]] == COCO_CLASSES
    assert [c["id"] for c in header["categories"]] == list(range(1, 81))
    results = json.load(open(out / "coco_results.json"))
    # The untrained network keeps DETECTION_MAX_INSTANCES (8), each of a COCO class.
    assert len(results) == 8 and all(1 <= r["category_id"] <= 80 for r in results)
    # The summary names what was found: "1 images: toilet 8; coco output in ...".
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    found = summary.split(": ", 1)[1].split(";")[0]
    named = {COCO_CLASS_NAMES[r["category_id"]] for r in results}
    assert {item.rsplit(" ", 1)[0] for item in found.split(", ")} == named
    assert "class " not in summary
