"""The samples' configs, YAML files and dataset loaders, without training."""
import os

import numpy as np
import pytest
from cli_fixtures import draw_simpsons, write_openimages, write_via1_balloons
from conftest import REPO, SAMPLES, import_sample
from sample_cases import CONFIG_CLASSES, LOADERS

from mrcnn.commands.datasets import instance_counts, load_parts
from mrcnn.commands.project import Project, build_config
from mrcnn.config import Config


class Args:
    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.mark.parametrize("name", SAMPLES)
def test_yaml_config_equals_the_sample_config(name):
    sample_config = getattr(import_sample(name), CONFIG_CLASSES[name])()
    yaml_path = os.path.join(REPO, "configs", f"{name}.yaml")
    # What `mrcnn train --config configs/<name>.yaml` builds:
    generic = build_config(Project(), Args(config=yaml_path, set=[]), "training")
    assert generic.to_dict() == sample_config.to_dict()
    assert Config.from_yaml(yaml_path).to_dict() == sample_config.to_dict()
    sample_config.validate()


@pytest.mark.parametrize("name", SAMPLES)
def test_each_sample_has_a_readme_with_its_layout_and_commands(name):
    with open(os.path.join(REPO, "samples", name, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert f"samples/{name}/{name}.py train" in text and "--weights" in text
    assert "Folder layout" in text or name == "shapes"


def test_balloon_reads_via1_split_folders(tmp_path):
    balloon = import_sample("balloon")
    write_via1_balloons(tmp_path / "train", count=3)
    write_via1_balloons(tmp_path / "val", count=2, seed=1)
    parts, how = load_parts(balloon.load_balloon, str(tmp_path), balloon.BalloonConfig())
    assert how == "split folders train/, val/"
    assert parts["train"].class_names == ["BG", "balloon"]
    assert isinstance(parts["train"], balloon.BalloonDataset)
    # matterport's own API still works
    dataset = balloon.BalloonDataset()
    dataset.load_balloon(str(tmp_path), "val")
    dataset.prepare()
    assert dataset.class_names == ["BG", "balloon"] and len(dataset.image_ids) == 2
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape[:2] == (64, 64) and set(class_ids) == {1}


def test_gns_reads_the_shared_via2_project(shared_data):
    gns = import_sample("gns")
    config = gns.GnsConfig()
    dataset = gns.load_gns(os.path.join(shared_data, "gns"), config)
    assert dataset.class_names == ["BG", "gun", "sword"]
    assert len(dataset.image_ids) == 80
    assert instance_counts(dataset) == {"gun": 46, "sword": 44}
    parts, how = load_parts(gns.load_gns, os.path.join(shared_data, "gns"), config)
    assert (len(parts["train"].image_ids), len(parts["val"].image_ids)) == (64, 16)


def test_pumpkins_keep_only_pumpkins_with_masks_at_the_image_size(tmp_path):
    pumpkins = import_sample("pumpkins")
    csv_path = write_openimages(tmp_path, count=3)
    dataset = pumpkins.load_pumpkins(str(tmp_path), pumpkins.PumpkinConfig())
    assert dataset.class_names == ["BG", "Pumpkin"]
    rows = csv_path.read_text().splitlines()[1:]
    assert sum(instance_counts(dataset).values()) == sum("/m/05zsy" in r for r in rows)
    masks, class_ids = dataset.load_mask(0)
    assert masks.shape[:2] == (64, 64) and set(class_ids) == {1}
    image = dataset.load_image(0)
    # the pumpkins are painted in colour 0 where their masks are (JPEG and
    # the nearest-neighbour resize of the masks blur the edges)
    assert np.abs(np.median(image[masks[..., 0]], 0) - [230, 60, 60]).max() < 30


def test_simpsons_read_placeholders_and_count_missing_pictures(tmp_path, shared_data):
    simpsons = import_sample("simpsons")
    instances = os.path.join(shared_data, "simpsons", "instances.json")
    drawn = draw_simpsons(instances, tmp_path, per_class=2)
    dataset = simpsons.load_simpsons(instances, simpsons.SimpsonsConfig(), image_dir=str(tmp_path))
    assert dataset.class_names == ["BG", "Homer", "Marge", "Maggie", "Lisa", "Bart"]
    assert len(dataset.image_ids) == len(drawn) == 10
    assert dataset.problems.count("missing_image") == 404 - 10
    assert sorted(instance_counts(dataset)) == ["Bart", "Homer", "Lisa", "Maggie", "Marge"]


def test_shapes_loader_gives_train_val_and_held_out_parts():
    shapes = import_sample("shapes")
    config = shapes.ShapesConfig()
    parts, how = load_parts(shapes.load_shapes, None, config)
    assert {k: len(v.image_ids) for k, v in parts.items()} == {"train": 500, "val": 50, "test": 100}
    assert parts["test"].class_names == ["BG", "square", "circle", "triangle"]
    # Tiny test networks (64 px) still get images that can hold the shapes.
    config.IMAGE_MIN_DIM = config.IMAGE_MAX_DIM = 64
    assert shapes.make_datasets(config, 2, 2)[0].load_image(0).shape == (128, 128, 3)
    assert LOADERS["shapes"] == "load_shapes"


def test_shapes_keeps_its_steps_flag_as_a_setting(capsys, tmp_path):
    shapes = import_sample("shapes")
    with pytest.raises(SystemExit):
        shapes.main(["train", "--steps", "0", "--logs", str(tmp_path)])
    err = capsys.readouterr().err
    assert err.startswith("usage: shapes.py train") and "STEPS_PER_EPOCH: is 0" in err
