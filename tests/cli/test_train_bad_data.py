"""`train` never trains on a silent lie: images that fail to load are named
and counted (and stop the run beyond MAX_UNREADABLE_IMAGES), classes the
config does not list are refused unless left out on purpose, and what
`validate` calls an error stops `train` before the model is built."""
import json
import logging
import os

import pytest
from cli_fixtures import TINY_YAML, painted_images, tiny_args, write_via2
from tensorboard_events import tensorboard_events

import mrcnn.commands.train as train_command
from mrcnn.cli import main


class ModelWouldBeBuilt(Exception):
    """Raised in place of building the model: the data checks passed."""


@pytest.fixture
def no_model(monkeypatch):
    def refuse(*args, **kwargs):
        raise ModelWouldBeBuilt()
    monkeypatch.setattr(train_command, "load_model", refuse)


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def write_coco(folder, count=4, duplicate_image=False):
    """A COCO file of painted images, one class; with `duplicate_image` the
    first image is listed twice under the same id."""
    images, annotations = [], []
    for i, (name, _, polygons, _) in enumerate(painted_images(folder, "im", count, (64, 64), 3)):
        images.append({"id": i + 1, "file_name": name, "height": 64, "width": 64})
        for xs, ys in polygons:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1,
                                "iscrowd": 0, "area": 0, "bbox": [0, 0, 0, 0],
                                "segmentation": [[v for xy in zip(xs, ys) for v in xy]]})
    if duplicate_image:
        images.append(dict(images[0]))
    path = folder / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "thing"}]}))
    return path


@pytest.fixture(scope="module")
def truncated(tmp_path_factory):
    """A VIA dataset whose first image is a truncated JPEG (its header, and
    so the reader, are fine) and a clean validation set."""
    root = tmp_path_factory.mktemp("truncated")
    data = write_via2(root / "train", count=6)
    truncate(root / "train" / "img00.jpg")
    val = write_via2(root / "val", count=2, seed=1)
    return root, data, val


def test_too_many_unreadable_images_stop_training_naming_them(truncated, capsys):
    root, data, val = truncated
    logs = root / "logs_stop"
    # Three steps of two images draw each of the six images once.
    code = main(["train", "--dataset", str(data), "--val-dataset", str(val), *tiny_args(logs),
                 "--epochs", "3", "--set", "STEPS_PER_EPOCH=3"])
    err = capsys.readouterr().err
    assert code == 2
    assert "1 of 6 training images could not be loaded" in err
    assert "img00.jpg" in err and "MAX_UNREADABLE_IMAGES=0.01" in err
    # It stopped after the first epoch, whose checkpoint is the newest.
    checkpoints = sorted(p.name for p in logs.glob("*/mask_rcnn_*.h5"))
    assert checkpoints == ["mask_rcnn_mrcnn_0001.h5"]


def test_unreadable_images_under_the_limit_are_named_and_counted(truncated, caplog):
    root, data, val = truncated
    logs = root / "logs_go_on"
    with caplog.at_level(logging.WARNING):
        assert main(["train", "--dataset", str(data), "--val-dataset", str(val),
                     *tiny_args(logs), "--epochs", "1", "--set", "STEPS_PER_EPOCH=3",
                     "--set", "MAX_UNREADABLE_IMAGES=0.5"]) == 0
    messages = [r.getMessage() for r in caplog.records if r.name == "mrcnn.training.data_health"]
    assert len(messages) == 1
    assert "Epoch 1: 1 train image(s) could not be loaded" in messages[0]
    assert "img00.jpg" in messages[0] and "truncated" in messages[0]
    (run_dir,) = logs.glob("mrcnn*")
    # Failed loads of the epoch: the replacement drawn for the bad image is
    # random and may be the bad image again.
    events = tensorboard_events(str(run_dir), "train")["epoch_skipped_images"]
    assert [step for step, _ in events] == [0] and float(events[0][1]) >= 1


def test_classes_the_config_does_not_list_are_refused(tmp_path, capsys, no_model):
    data = write_via2(tmp_path / "data", classes=("gun", "knife"), count=6)
    args = ["train", "--dataset", str(data), *tiny_args(tmp_path / "logs")]
    assert main(args + ["--set", "CLASS_NAMES=[gun]"]) == 2
    err = capsys.readouterr().err
    assert "instances of classes the config does not list (knife " in err
    assert "--classes" in err and "--label-map" in err
    assert not (tmp_path / "logs").exists()
    # Chosen on purpose: the data checks pass and the model is built.
    with pytest.raises(ModelWouldBeBuilt):
        main(args + ["--set", "CLASS_NAMES=[gun]", "--classes", "gun"])


def test_a_dataset_without_instances_stops_train(tmp_path, capsys, no_model):
    data = write_via2(tmp_path / "data", count=4)
    project = json.loads(data.read_text())
    for entry in project["_via_img_metadata"].values():
        entry["regions"] = []
    data.write_text(json.dumps(project))
    assert main(["train", "--dataset", str(data), *tiny_args(tmp_path / "logs"),
                 "--set", "CLASS_NAMES=[a,b]"]) == 2
    err = capsys.readouterr().err
    assert "error: 1 no instances in the whole dataset [no_instances]" in err
    assert "--ignore-data-errors" in err and "mrcnn validate" in err


def test_duplicate_coco_ids_stop_train_unless_overridden(tmp_path, capsys, no_model):
    data = write_coco(tmp_path / "coco", duplicate_image=True)
    args = ["train", "--dataset", str(data), *tiny_args(tmp_path / "logs")]
    assert main(args) == 2
    assert "[duplicate_id]" in capsys.readouterr().err
    with pytest.raises(ModelWouldBeBuilt):
        main(args + ["--ignore-data-errors"])
    assert not os.path.exists(tmp_path / "logs")


def test_a_coco_size_that_disagrees_with_the_file_is_named_by_the_generator(tmp_path):
    """The reader trusts COCO's width/height (it does not decode images);
    the masks drawn at that size cannot go with the image, so the generator
    skips the image and names the file."""
    from mrcnn.config import Config
    from mrcnn.data import read_dataset
    from mrcnn.data.pipeline import DataGenerator

    path = write_coco(tmp_path / "coco", count=3)
    document = json.loads(path.read_text())
    document["images"][1]["width"] = 80  # the file is 64 x 64
    path.write_text(json.dumps(document))
    dataset = read_dataset(str(path))
    class SizesConfig(Config):
        NAME, NUM_CLASSES = "sizes", 2

    config = SizesConfig.from_yaml(TINY_YAML)
    config.STEPS_PER_EPOCH = 2
    generator = DataGenerator(dataset, config, shuffle=False, workers=1, seed=0)
    for index in range(len(generator)):
        generator[index]
    assert list(generator.failed_images) == [1]
    assert "im01.jpg" in generator.failed_images[1]
